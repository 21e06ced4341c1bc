"""``VendorRoute``: every error of a vendor path rendered in that vendor's own envelope.

The router that owns a path owns its error shape (FastAPI's custom ``APIRoute`` hook), so
three envelopes share one app with no path checks in a global handler. Validation errors map
to vendor codes through a table keyed by (wire field, pydantic error type).
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from typing import Any, ClassVar, Protocol, TypeVar

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import BaseModel, ValidationError

from emulator.core import asgi, faults, groupcommit, journal, lockwait, namespaces
from emulator.core.bodies import MalformedJson, json_of
from emulator.core.context import Ctx, Emulator
from emulator.core.errors import ErrorCode, ValidationMap, VendorError

logger = logging.getLogger(__name__)

M = TypeVar("M", bound=BaseModel)


class AuthCheck(Protocol):
    def __call__(self, request: Request) -> Awaitable[Any]: ...


class ErrorRenderer(Protocol):
    def __call__(self, request: Request, error: VendorError) -> Response: ...


def _field_of(loc: Sequence[Any]) -> str:
    """The wire name of the innermost named field (list indexes are skipped)."""
    for part in reversed(loc):
        if isinstance(part, str) and part != "body":
            return part
    return ""


def first_vendor_error(
    errors: Sequence[Mapping[str, Any]],
    table: ValidationMap,
    fallback: ErrorCode,
    describe: Callable[[ErrorCode, str, str], str | None],
) -> VendorError:
    """Map the first pydantic error that the table knows to the vendor code documented for it.

    Pydantic reports errors in field-declaration order, so schemas declare their fields in the
    order the vendor checks them, and the first mapped error wins.
    """
    for err in errors:
        field = _field_of(err.get("loc", ()))
        code = table.get((field, str(err.get("type")))) or table.get((field, "*"))
        if code is not None:
            return VendorError(code, describe(code, field, _detail(field, err)))
    first = errors[0] if errors else {}
    field = _field_of(first.get("loc", ()))
    return VendorError(fallback, describe(fallback, field, _detail(field, first)))


def _detail(field: str, err: Mapping[str, Any]) -> str:
    if err.get("type") == "missing":
        return f"{field} is missing"
    return str(err.get("msg", "invalid value"))


def emulator_of(request: Request) -> Emulator:
    # A plain attribute of the app (app.EmulatorApp): read several times a request, and
    # ``app.state`` is a lookup through State.__getattr__.
    emulator: Emulator = request.scope["app"].emulator
    return emulator


def namespace_of(request: Request) -> str:
    """Set by the namespace middleware from ``/ns/{name}`` or the namespace header."""
    name: str = request.scope.get("state", {}).get("namespace", namespaces.DEFAULT)
    return name


async def request_context(request: Request) -> Ctx:
    """FastAPI dependency: the service context of this request's namespace.

    ``async`` on purpose: FastAPI runs a plain ``def`` dependency in its thread pool, which
    costs more than the whole lookup.
    """
    return emulator_of(request).context(namespace_of(request))


EndpointT = TypeVar("EndpointT", bound=Callable[..., Any])


def get_and_post(
    router: APIRouter,
    path: str,
    *,
    operation_id: str,
    post: Mapping[str, Any] | None = None,
    **common: Any,
) -> Callable[[EndpointT], EndpointT]:
    """Serve an endpoint on POST and on GET: real clients send some calls with no body, which
    their HTTP client turns into a GET (REAL-CLIENTS.md §1.7). Both routes carry the same name,
    so the journal, faults and metrics see one operation; OpenAPI gets ``<id>`` for the POST
    and ``<id>.get`` for the GET. ``post`` holds what only the POST publishes (its body)."""

    def decorate(endpoint: EndpointT) -> EndpointT:
        router.api_route(
            path, methods=["POST"], operation_id=operation_id, **common, **(post or {})
        )(endpoint)
        router.api_route(path, methods=["GET"], operation_id=f"{operation_id}.get", **common)(
            endpoint
        )
        return endpoint

    return decorate


class VendorRoute(APIRoute):
    """Base route of a vendor API surface; subclasses set the renderer and the tables."""

    render: ClassVar[ErrorRenderer]
    validation_map: ClassVar[ValidationMap] = {}
    validation_fallback: ClassVar[ErrorCode]
    internal_error: ClassVar[ErrorCode]
    # The vendor's credential check, run before the handler on every route of the class; what
    # it returns (the caller, or None) is ``request.state.auth``. A class attribute rather
    # than a FastAPI dependency: no route can forget it, and it costs no dependency solving.
    auth: ClassVar[AuthCheck | None] = None

    @classmethod
    def describe(cls, code: ErrorCode, field: str, detail: str) -> str | None:
        """The message for a validation error; ``None`` keeps the table's message."""
        return None

    @classmethod
    def validation_error(cls, errors: Sequence[Mapping[str, Any]]) -> VendorError:
        return first_vendor_error(errors, cls.validation_map, cls.validation_fallback, cls.describe)

    @classmethod
    async def parse_body(cls, request: Request, model: type[M]) -> M:
        """Read and validate a JSON body by hand, for paths that dispatch on ``?action=``.

        An empty body validates as ``{}`` so that missing fields get their documented codes.
        """
        raw = await request.body()
        limit = emulator_of(request).settings.max_body_bytes
        if len(raw) > limit:
            raise VendorError(
                cls.validation_fallback,
                cls.describe(cls.validation_fallback, "body", f"request body over {limit} bytes"),
            )
        try:
            data = json_of(raw) if raw.strip() else {}
        except MalformedJson as exc:
            raise VendorError(
                cls.validation_fallback, cls.describe(cls.validation_fallback, "body", str(exc))
            ) from None
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            raise cls.validation_error(exc.errors()) from None

    @classmethod
    def operation_of(cls, request: Request) -> str | None:
        """The operation id a request asks for, known before the handler runs, so faults can
        fire; ``None`` means the route's own name. Paths that dispatch several operations
        override this (the handler still sets ``request.state.operation`` for the journal)."""
        return None

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        route = type(self)
        # Every vendor route's name is its operation id (a dispatching route's is a fallback).
        route_operation = self.name
        direct = bool(getattr(self.endpoint, _HOT, False))
        if direct and not _takes_only_the_request(self):
            raise TypeError(
                f"{self.name}: a @hot endpoint takes only the request and answers a Response"
            )
        if direct:
            # The hot routes read their request by hand: FastAPI's handler (parameter solving,
            # response serialisation) would only add its cost, so the endpoint is called as is.
            endpoint = self.endpoint

            async def handler(request: Request) -> Response:
                response: Response = await endpoint(request)
                return response

        async def serve(request: Request) -> tuple[Response, int | None, bool]:
            """The answer, the vendor code of an error, and whether the body was refused."""
            limit = emulator_of(request).settings.max_body_bytes
            length = request.headers.get("content-length", "")
            declared_over = length.isdigit() and int(length) > limit
            if declared_over:
                await _drain(request)
            # A streamed body (no Content-Length) is read here up to the limit, no further.
            if declared_over or (
                not length and "transfer-encoding" in request.headers
                and not await _read_within(request, limit)
            ):  # fmt: skip
                too_large = VendorError(
                    route.validation_fallback,
                    route.describe(
                        route.validation_fallback, "body", f"request body over {limit} bytes"
                    ),
                )
                return route.render(request, too_large), too_large.error.code, True
            error: VendorError
            try:
                if route.auth is not None:
                    request.state.auth = await route.auth(request)
                return await run_handler(handler, request, grouped=True), None, False
            except RequestValidationError as exc:
                error = route.validation_error(exc.errors())
            except VendorError as exc:
                error = exc
            except Exception:
                # A bug of ours must still reach the client in the vendor's envelope.
                logger.exception("unhandled error on %s %s", request.method, request.url.path)
                error = VendorError(route.internal_error)
            return route.render(request, error), error.error.code, False

        async def vendor_route_handler(request: Request) -> Response:
            started = time.perf_counter()
            if direct and not request.path_params:
                # Later requests for this method and path may skip the router (asgi.py).
                asgi.offer(request.scope, vendor_route_handler)
            emulator = emulator_of(request)
            offload = emulator.offload
            if direct and offload is not None and _body_within_limit(request, emulator):
                # PostgreSQL (core/offload.py): the body is read here, on the server's loop;
                # the rest, which waits for the database, on a worker thread.
                await request.body()
                return await offload.run(lambda: handle(request, emulator, started))
            return await handle(request, emulator, started)

        async def handle(request: Request, emulator: Emulator, started: float) -> Response:
            # The request's faults, handler and journal entry read the shared clock's row
            # once between them (core/clock.py), however long it takes.
            with emulator.clock.one_read():
                return await handle_once(request, emulator, started)

        async def handle_once(request: Request, emulator: Emulator, started: float) -> Response:
            namespace = namespace_of(request)
            operation = route.operation_of(request) or route_operation
            marks = faults.RequestFaults()
            token = faults.CURRENT.set(marks)
            response: Response | None = None
            code: int | None = None
            refused = injected = False
            try:
                try:
                    rule = emulator.faults.take(namespace, operation, emulator.clock.now_ms())
                except Exception:
                    # The fault book (a database table when shared) failed: an error of
                    # ours, answered in the vendor's envelope like any other.
                    logger.exception("faults: cannot check %s %s", request.method, operation)
                    rule = None
                    response = route.render(request, VendorError(route.internal_error))
                    code = route.internal_error.code
                if rule is not None:
                    marks.rule_id = rule.id
                    if rule.latency_ms > 0:
                        await asyncio.sleep(rule.latency_ms / 1000)
                    if rule.error is not None:
                        # The route's own renderer: the vendor's envelope and HTTP status.
                        response = route.render(request, VendorError(rule.error))
                        code, injected = rule.error.code, True
                if response is None:
                    response, code, refused = await serve(request)
            finally:
                faults.CURRENT.reset(token)
            try:
                await _record(
                    request, emulator, response,
                    namespace=namespace,
                    operation=getattr(request.state, "operation", None) or operation,
                    code=code, refused=refused, injected=injected, marks=marks,
                    duration_ms=(time.perf_counter() - started) * 1000,
                )  # fmt: skip
            except Exception:
                # The journal must never cost the client its answer.
                logger.exception("journal: cannot record %s %s", request.method, request.url.path)
            return response

        return vendor_route_handler


async def run_handler(
    handler: Callable[[Request], Awaitable[Response]], request: Request, *, grouped: bool = False
) -> Response:
    """``handler(request)``; run again while it finds the database locked, waiting on the loop
    in between (core/lockwait.py). Not on an offload worker thread, which may wait.

    ``grouped`` (vendor requests): its transactions join the loop's group, and the answer
    waits for the group's COMMIT (core/groupcommit.py); it raises the COMMIT's error instead
    if that failed, as the request's own COMMIT failing would have."""
    emulator = emulator_of(request)
    if grouped and emulator.groups_commits:
        member = groupcommit.Member()
        token = groupcommit.MEMBER.set(member)
        try:
            response = await lockwait.patiently(
                lambda: handler(request), emulator.settings.db_statement_timeout
            )
        except Exception:
            await member.settled()
            raise
        finally:
            # Also when the request is cancelled (its client went away).
            groupcommit.MEMBER.reset(token)
        if member.waiter is not None or member.error is not None:  # it wrote
            await member.settled()
        return response
    may_stop_the_loop = emulator.holds_connections or emulator.eager_engine is not None
    on_a_worker = emulator.offload is not None and emulator.offload.here()
    if on_a_worker or not may_stop_the_loop:
        return await handler(request)
    return await lockwait.patiently(
        lambda: handler(request), emulator.settings.db_statement_timeout
    )


class LockWaitingRoute(APIRoute):
    """A control-plane route whose handler waits for a database lock on the loop, like a
    vendor route's (core/lockwait.py)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def lock_waiting_handler(request: Request) -> Response:
            return await run_handler(handler, request)

        return lock_waiting_handler


def _body_within_limit(request: Request, emulator: Emulator) -> bool:
    """The body's length is declared and within the limit, or there is no body."""
    length = request.headers.get("content-length", "")
    if length.isdigit():
        return int(length) <= emulator.settings.max_body_bytes
    return not length and "transfer-encoding" not in request.headers


async def _read_within(request: Request, limit: int) -> bool:
    """Read a streamed body; keep it for the handler when it fits (Starlette's
    ``Request.body()`` returns the kept bytes), else drain the rest of it (:func:`_drain`)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await request.receive()
        if message["type"] != "http.request":
            break  # the client went away: what came is all there is
        chunk: bytes = message.get("body", b"")
        more = message.get("more_body", False)
        size += len(chunk)
        if size > limit:
            if more:
                await _drain(request, size)
            return False
        chunks.append(chunk)
        if not more:
            break
    request._body = b"".join(chunks)
    return True


# What a refused body may cost: it is read and dropped up to this many bytes, for up to this
# many seconds (README "Limits").
DRAIN_BYTES = 64 * 1024 * 1024
DRAIN_SECONDS = 30.0


async def _drain(request: Request, drained: int = 0) -> None:
    """Read and drop the rest of a body refused as too large (``drained`` bytes of it read
    already), before answering.

    A client may send its whole body before it reads (Python's urllib, with ``Connection:
    close``); a server that answers and closes with the body still arriving makes the kernel
    reset the connection, and the client gets a reset or a broken pipe instead of the answer.
    So the body is read to its end first, as a careful gateway drains, within
    :data:`DRAIN_BYTES` and :data:`DRAIN_SECONDS`. Beyond either (or a declared length over
    the cap), the answer is sent at once and may reach such a client as a reset. A client
    that asked ``Expect: 100-continue`` has not sent its body: nothing to drain.
    """
    if request.headers.get("expect", "").lower() == "100-continue":
        return
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > DRAIN_BYTES:
        return
    loop = asyncio.get_running_loop()
    deadline = loop.time() + DRAIN_SECONDS
    while drained <= DRAIN_BYTES:
        try:
            message = await asyncio.wait_for(request.receive(), deadline - loop.time())
        except TimeoutError:
            return
        if message["type"] != "http.request":
            return  # the client went away
        drained += len(message.get("body", b""))
        if not message.get("more_body", False):
            return


_LEADING_CODE = re.compile(rb'\{"code":(-?\d+)[,}]')


_HOT = "__emulator_hot__"
HandlerT = TypeVar("HandlerT", bound=Callable[..., Any])


def hot(endpoint: HandlerT) -> HandlerT:
    """Declare a vendor endpoint hot: it reads its request by hand (``parse_body``) and answers
    a Response, so it is called as is, without FastAPI's parameter solving and response
    serialisation, and later requests for its path skip the router (asgi.HotRoutes). Put it
    under the route decorator; a hot endpoint with any other parameter fails when the route
    is built."""
    setattr(endpoint, _HOT, True)
    return endpoint


def _takes_only_the_request(route: APIRoute) -> bool:
    dependant = route.dependant
    return (
        inspect.iscoroutinefunction(route.endpoint)
        and dependant.request_param_name is not None
        and not (dependant.path_params or dependant.query_params or dependant.header_params)
        and not (dependant.cookie_params or dependant.body_params or dependant.dependencies)
        and route.response_class is not None
        and len(inspect.signature(route.endpoint).parameters) == 1
    )


async def _record(
    request: Request,
    emulator: Emulator,
    response: Response,
    *,
    namespace: str,
    operation: str,
    code: int | None,
    refused: bool,
    injected: bool,
    marks: faults.RequestFaults,
    duration_ms: float,
) -> None:
    book = emulator.journal
    if book.size == 0 and not book.observers:
        return
    raw = b""
    if not refused:
        try:
            raw = await request.body()
        except RuntimeError:  # the handler streamed the body: it is gone
            raw = b""
    content = getattr(response, "body", None)
    if code is None and response.media_type == "application/json" and content:
        # The EnOS and Quectel envelopes put the code first: read it without parsing the body.
        leading = _LEADING_CODE.match(content) if isinstance(content, bytes) else None
        if leading is not None:
            code = int(leading.group(1))
        else:
            try:
                code = journal.vendor_code(json.loads(content))
            except ValueError:
                code = None
    entry = journal.Entry(
        id=book.next_id(),
        at=emulator.clock.now_ms(),
        namespace=namespace,
        operation=operation,
        method=request.method,
        path=request.scope["path"],
        # As they came: the journal decodes and masks them when they are read.
        raw_query=request.scope.get("query_string", b""),
        raw_headers=request.scope.get("headers", ()),
        raw_body=raw,
        status=response.status_code,
        vendor_code=code,
        duration_ms=duration_ms,
        injected=injected,
        fault_id=marks.rule_id,
        faulted_devices=marks.devices,  # the request's own list: nothing adds to it now
        response=journal.answer_body(content),
    )
    book.append(entry)
    for observer in book.observers:
        try:
            observer(entry)
        except Exception:
            logger.exception("journal observer %r failed", observer)


def include(app: FastAPI, router: APIRouter) -> None:
    """``app.include_router(router)``, without building each route a second time.

    FastAPI builds a route (its dependencies, the validators of its parameters, body and
    answer) where it is declared, then again for each router that includes it, at the first
    request that passes it: about 1.5 ms a route, some 80 ms before a new app's first answer
    (its health check). Our routers set everything where the routes are declared (prefix,
    tags, route class) and are included with no options, so the routes declared are the ones
    to serve; a router that nests others or sets options of its own is included as usual.
    """
    plain = all(isinstance(route, APIRoute) for route in router.routes)
    if plain and not router.dependencies and not getattr(router, "_low_priority_routes", ()):
        app.router.routes.extend(router.routes)
    else:
        app.include_router(router)
