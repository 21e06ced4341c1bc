"""The app factory: ``create_app(settings)``; nothing is built at import time."""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from fastapi.telemetry import TelemetryConfig
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as SATimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match
from starlette.types import ASGIApp

from emulator import __version__, api_docs, ui
from emulator.config import Settings
from emulator.control import commands as control_commands
from emulator.control import contract as control_contract
from emulator.control.auth import AdminTokenMiddleware
from emulator.control.bodies import ControlBodyLimit
from emulator.control.errors import ControlError, error_body
from emulator.control.guard import ControlPlaneGuard
from emulator.control.routes import router as control_router
from emulator.core import conformance, metrics, namespaces
from emulator.core.asgi import HotRoutes, NamespaceMiddleware
from emulator.core.clock import Clock, SharedClock
from emulator.core.context import Emulator
from emulator.core.db import is_postgresql, make_eager_engine, make_side_engine
from emulator.core.db_open import open_database
from emulator.core.errors import VendorError
from emulator.core.fixtures import FixtureError, build_baseline
from emulator.core.ids import Ids
from emulator.core.layering import load_fixture_files
from emulator.core.namespaces import Namespaces
from emulator.core.offload import Offload
from emulator.core.responses import JsonResponse
from emulator.core.routing import VendorRoute, include
from emulator.core.vendor import vendors

logger = logging.getLogger(__name__)


def build_emulator(settings: Settings) -> Emulator:
    """Open the database, read the fixtures once, and make sure the default namespace exists.

    Raises :class:`emulator.core.fixtures.FixtureError` when a fixture file is invalid, and
    :class:`emulator.core.db_open.DatabaseOpenError` when the database cannot be used.
    """
    document = load_fixture_files(settings.fixtures)
    timeouts = (settings.db_connect_timeout, settings.db_statement_timeout)
    engine = open_database(settings.db, settings.db_wait, *timeouts)
    # One process on SQLite keeps the clock, faults and journal in memory; on PostgreSQL or
    # with several workers they are shared through the database (core/db.py, "Scaling out").
    shared = is_postgresql(settings.db) or settings.workers > 1
    side = make_side_engine(engine, *timeouts) if shared else engine
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
        offload=Offload(settings.db_threads) if is_postgresql(settings.db) else None,
        eager_engine=make_eager_engine(engine, *timeouts) if is_postgresql(settings.db) else None,
    )
    try:
        emulator.namespaces.ensure(namespaces.DEFAULT)
    except IntegrityError as exc:
        # Two entries that make one row (a product key listed twice, or in two EnOS orgs).
        emulator.dispose()
        files = ", ".join(str(path) for path in settings.fixtures)
        cause = str(exc.orig).splitlines()[0]
        raise FixtureError(f"{files}: two entries make the same database row ({cause})") from None
    # Hooks live on this emulator, not in module globals: two apps in one process (tests,
    # the pytest plugin) each have their own.
    control_commands.install(emulator)
    for vendor in vendors():
        for setup in vendor.setup:
            setup(emulator)
    return emulator


# FastAPI's own OpenTelemetry spans, metrics and logs, off. The emulator is a test double: in
# a process that configures a provider (a suite that traces the code under test, with the
# pytest plugin's server in that process), each emulator request would add its spans to the
# user's traces; and checking whether a provider is configured costs every request about 8 us.
# The emulator's own metrics are at /_emulator/metrics, its requests in the journal.
NO_TELEMETRY: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False}


class EmulatorApp(FastAPI):
    """FastAPI with the namespace middleware and the hot-route dispatch outermost.

    The namespace comes first: every layer, the hot routes included, sees ``/ns/{name}/x``
    as ``/x``. The hot routes (core/asgi.py HotRoutes) sit in front of Starlette's own
    layers, so a vendor request already routed once skips them all.
    """

    emulator: Emulator
    hot_routes: HotRoutes | None = None  # built with the stack, at the first request

    def build_middleware_stack(self) -> ASGIApp:
        self.hot_routes = HotRoutes(super().build_middleware_stack(), unexpected_error)
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
        telemetry=NO_TELEMETRY,
    )
    app.emulator = app.state.emulator = emulator
    # The documented operations' routers first (most traffic), then their companions.
    for vendor in registered:
        for router in vendor.routers:
            include(app, router)
    for vendor in registered:
        for router in vendor.companion_routers:
            include(app, router)
    include(app, control_router)
    metrics.install(app, emulator)
    include(app, control_commands.router)
    include(app, ui.router)
    for vendor in registered:
        for router in vendor.control_routers:
            include(app, router)
    api_docs.install(app)
    # Inside the namespace middleware (EmulatorApp): it sees /ns/{name}/_emulator/... as
    # /_emulator/...
    app.add_middleware(AdminTokenMiddleware, token=settings.admin_token)
    app.add_middleware(
        ControlBodyLimit,
        max_body_bytes=settings.max_body_bytes,
        max_fixture_bytes=settings.max_fixture_bytes,
    )
    # Outside the token check: a web page is refused whether or not a token is set.
    app.add_middleware(ControlPlaneGuard, bound_host=settings.host)
    _install_fallbacks(app)
    # /openapi.json publishes each vendor operation's documented codes (error tables).
    conformance.install_openapi(app, control_contract.describe)
    return app


def _vendor_route_of(path: str) -> type[VendorRoute] | None:
    """The route class whose envelope answers under this path's vendor prefix, if any."""
    for vendor in vendors():
        for prefix, route_class in vendor.fallbacks:
            if path.startswith(prefix):
                return route_class
    return None


def unexpected_error(request: Request, exc: Exception) -> Response:
    """The answer to an error of ours (a bug, the database gone or too slow): the vendor's
    internal error in its envelope under a vendor prefix, the control plane's JSON elsewhere;
    never a text page."""
    route_class = _vendor_route_of(request.url.path)
    if route_class is not None:
        return route_class.render(request, VendorError(route_class.internal_error))
    if isinstance(exc, OperationalError | SATimeoutError):
        cause = exc.orig if isinstance(exc, OperationalError) else exc
        message = f"the database is unreachable or did not answer in time ({type(cause).__name__})"
        return JsonResponse(error_body(503, message), status_code=503)
    return JsonResponse(
        error_body(500, f"internal error of the emulator ({type(exc).__name__}); see its log"),
        status_code=500,
    )


def _methods_of(app: FastAPI, request: Request) -> list[str]:
    """Every method some route serves on this request's path."""
    methods: set[str] = set()
    probe = {**request.scope, "method": "GET"}
    for route in conformance.api_routes(app.router.routes):
        if route.methods and route.matches(probe)[0] != Match.NONE:
            methods |= route.methods
    return sorted(methods)


@asynccontextmanager
async def _listeners(app: FastAPI) -> AsyncIterator[None]:
    """The vendors' listeners (a device-protocol broker...), started with the app, and the
    WAL's checkpoints off the event loop (core/checkpoint.py)."""
    emulator: Emulator = app.state.emulator
    async with AsyncExitStack() as stack:
        emulator.start_checkpoints()
        stack.callback(emulator.stop_checkpoints)
        for vendor in vendors():
            for listener in vendor.listeners:
                await stack.enter_async_context(listener(emulator))
        yield


def _install_fallbacks(app: FastAPI) -> None:
    """Answers for what never reaches a route: in the vendor's envelope under a vendor prefix,
    in the control plane's JSON everywhere else."""

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        path = request.url.path
        route_class = _vendor_route_of(path)
        if route_class is not None:
            message = f"{request.method} {path} is not an operation of this API"
            return route_class.render(
                request, VendorError(route_class.validation_fallback, message)
            )
        headers = exc.headers
        if exc.status_code == 405:
            # Starlette names the methods of the first route of the path only.
            headers = {**(headers or {}), "Allow": ", ".join(_methods_of(app, request))}
        return JsonResponse(
            error_body(exc.status_code, str(exc.detail)),
            status_code=exc.status_code,
            headers=headers,
        )

    @app.exception_handler(RequestValidationError)
    async def control_validation_error(request: Request, exc: RequestValidationError) -> Response:
        errors = [
            {"field": ".".join(str(p) for p in e.get("loc", ())), "message": e.get("msg", "")}
            for e in exc.errors()
        ]
        return JsonResponse(error_body(400, "invalid request", errors=errors), status_code=400)

    @app.exception_handler(Exception)
    async def server_error(request: Request, exc: Exception) -> Response:
        # Starlette raises the exception again once this is sent: ErrorBoundary logs it.
        return unexpected_error(request, exc)

    @app.exception_handler(ControlError)
    async def control_error(request: Request, exc: ControlError) -> Response:
        return JsonResponse(error_body(exc.status, exc.message), status_code=exc.status)
