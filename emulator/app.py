"""The app factory: ``create_app(settings)``; nothing is built at import time."""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp

from emulator import __version__, api_docs, ui
from emulator.config import Settings
from emulator.control import commands as control_commands
from emulator.control.auth import AdminTokenMiddleware
from emulator.control.errors import ControlError, error_body
from emulator.control.routes import router as control_router
from emulator.core import conformance, metrics, namespaces
from emulator.core.asgi import HotRoutes, NamespaceMiddleware
from emulator.core.clock import Clock, SharedClock
from emulator.core.context import Emulator
from emulator.core.db import init_db, is_postgresql, make_engine, make_side_engine
from emulator.core.errors import VendorError
from emulator.core.fixtures import build_baseline, merge, read_fixture_file
from emulator.core.ids import Ids
from emulator.core.namespaces import Namespaces
from emulator.core.offload import Offload
from emulator.core.vendor import vendors

logger = logging.getLogger(__name__)


def build_emulator(settings: Settings) -> Emulator:
    """Open the database, read the fixtures once, and make sure the default namespace exists.

    Raises :class:`emulator.core.fixtures.FixtureError` when a fixture file is invalid.
    """
    document = merge(read_fixture_file(path) for path in settings.fixtures)
    engine = make_engine(settings.db)
    init_db(engine)
    # One process on SQLite keeps the clock, faults and journal in memory; on PostgreSQL or
    # with several workers they are shared through the database (core/db.py, "Scaling out").
    shared = is_postgresql(settings.db) or settings.workers > 1
    side = make_side_engine(engine) if shared else engine
    clock = SharedClock(side) if shared else Clock()
    baseline = build_baseline(document, Ids(settings.seed, "baseline"), clock.now_ms())
    emulator = Emulator(
        settings=settings,
        engine=engine,
        clock=clock,
        baseline=baseline,
        namespaces=Namespaces(engine, baseline, clock),
        seed=settings.seed,
        id_salt=f":{os.getpid()}" if settings.workers > 1 else "",
        side_engine=side,
        # PostgreSQL answers over the network: the hot handlers wait for it on worker threads.
        offload=Offload() if is_postgresql(settings.db) else None,
    )
    emulator.namespaces.ensure(namespaces.DEFAULT)
    # Hooks live on this emulator, not in module globals: two apps in one process (tests,
    # the pytest plugin) each have their own.
    control_commands.install(emulator)
    for vendor in vendors():
        for setup in vendor.setup:
            setup(emulator)
    return emulator


class EmulatorApp(FastAPI):
    """FastAPI with the namespace middleware and the hot-route dispatch outermost.

    The namespace comes first: every layer, the hot routes included, sees ``/ns/{name}/x``
    as ``/x``. The hot routes (core/asgi.py HotRoutes) sit in front of Starlette's own
    layers, so a vendor request already routed once skips them all.
    """

    emulator: Emulator
    hot_routes: HotRoutes | None = None  # built with the stack, at the first request

    def build_middleware_stack(self) -> ASGIApp:
        self.hot_routes = HotRoutes(super().build_middleware_stack())
        return NamespaceMiddleware(self.hot_routes)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    emulator = build_emulator(settings)
    registered = vendors()
    titles = ", ".join(v.title for v in registered)
    app = EmulatorApp(
        title="iot-emulator",
        version=__version__,
        description=f"Offline emulator of IoT-platform HTTP APIs: {titles}.",
        lifespan=_listeners,
        # FastAPI's pages load their assets from a CDN; api_docs serves them offline.
        docs_url=None,
        redoc_url=None,
    )
    app.emulator = app.state.emulator = emulator
    # The documented operations' routers first (most traffic), then their companions.
    for vendor in registered:
        for router in vendor.routers:
            app.include_router(router)
    for vendor in registered:
        for router in vendor.companion_routers:
            app.include_router(router)
    app.include_router(control_router)
    metrics.install(app, emulator)
    app.include_router(control_commands.router)
    app.include_router(ui.router)
    for vendor in registered:
        for router in vendor.control_routers:
            app.include_router(router)
    api_docs.install(app)
    # Inside the namespace middleware (EmulatorApp): it sees /ns/{name}/_emulator/... as
    # /_emulator/...
    app.add_middleware(AdminTokenMiddleware, token=settings.admin_token)
    _install_fallbacks(app)
    # /openapi.json publishes each vendor operation's documented codes (error tables).
    conformance.install_openapi(app)
    return app


@asynccontextmanager
async def _listeners(app: FastAPI) -> AsyncIterator[None]:
    """The vendors' listeners (a device-protocol broker...), started with the app."""
    emulator: Emulator = app.state.emulator
    async with AsyncExitStack() as stack:
        for vendor in vendors():
            for listener in vendor.listeners:
                await stack.enter_async_context(listener(emulator))
        yield


def _install_fallbacks(app: FastAPI) -> None:
    """Answers for what never reaches a route: in the vendor's envelope under a vendor prefix,
    in the control plane's JSON everywhere else."""

    fallbacks = [pair for vendor in vendors() for pair in vendor.fallbacks]

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        path = request.url.path
        for prefix, route_class in fallbacks:
            if path.startswith(prefix):
                message = f"{request.method} {path} is not an operation of this API"
                return route_class.render(
                    request, VendorError(route_class.validation_fallback, message)
                )
        return JSONResponse(
            error_body(exc.status_code, str(exc.detail)), status_code=exc.status_code
        )

    @app.exception_handler(RequestValidationError)
    async def control_validation_error(request: Request, exc: RequestValidationError) -> Response:
        errors = [
            {"field": ".".join(str(p) for p in e.get("loc", ())), "message": e.get("msg", "")}
            for e in exc.errors()
        ]
        return JSONResponse(error_body(400, "invalid request", errors=errors), status_code=400)

    @app.exception_handler(ControlError)
    async def control_error(request: Request, exc: ControlError) -> Response:
        return JSONResponse(error_body(exc.status, exc.message), status_code=exc.status)
