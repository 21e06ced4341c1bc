"""ASGI middleware: picks the namespace of a request before routing sees it, and serves the
hot vendor routes without the middleware and routing layers between."""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Awaitable, Callable

from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from emulator.core import namespaces

logger = logging.getLogger(__name__)

DirectHandler = Callable[[Request], Awaitable[Response]]
# The answer to an error of ours, given the request and the exception (app.py).
ErrorAnswer = Callable[[Request, Exception], Response]
# The scope key through which a route offers itself to :class:`HotRoutes` (see there).
_OFFER = "emulator.direct_handler"


_HEADER = namespaces.HEADER.encode()


class NamespaceMiddleware:
    """Serves ``/ns/{name}/<path>`` as ``/<path>`` in namespace ``name``.

    The header ``X-Emulator-Namespace`` names the namespace too; the path prefix wins.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        name: str | None = None
        if path.startswith(namespaces.PREFIX):
            name, _, rest = path[len(namespaces.PREFIX) :].partition("/")
            scope = dict(scope)
            scope["path"] = "/" + rest
            scope["raw_path"] = scope["path"].encode()
        else:
            for key, value in scope.get("headers", ()):
                if key == _HEADER:
                    name = value.decode("latin-1")
                    break
        if name is not None:
            if not namespaces.valid_name(name):
                await _reject(
                    send, f"invalid namespace name {name!r}: use 1-64 of A-Z a-z 0-9 _ . -"
                )
                return
            scope = dict(scope)
            scope["state"] = {**scope.get("state", {}), "namespace": name}
        await self.app(scope, receive, send)


async def _reject(send: Send, message: str) -> None:
    body = json.dumps({"error": {"status": 400, "message": message}}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 400, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class ErrorBoundary:
    """No exception leaves the app while the answer can still be whole.

    Starlette answers an unhandled exception (with the app's handler for ``Exception``) and
    then raises it again for the server to log; uvicorn then closes the connection under the
    client, whose next request on it fails (a keep-alive client sees a reset, not an answer).
    Here the exception is logged and the connection stays open; an exception before any
    answer gets ``answer``'s. Only an answer already half sent is left to the server, which
    closes the connection: nothing else can tell the client that the body is cut.
    """

    def __init__(self, app: ASGIApp, answer: ErrorAnswer) -> None:
        self.app = app
        self.answer = answer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        progress = [False, False]  # the answer started, the answer complete

        async def tracked(message: Message) -> None:
            if message["type"] == "http.response.start":
                progress[0] = True
            elif message["type"] == "http.response.body" and not message.get("more_body"):
                progress[1] = True
            await send(message)

        try:
            await self.app(scope, receive, tracked)
        except Exception as exc:
            started, complete = progress
            if started and not complete:
                raise
            _log_unhandled(scope, exc)
            if not started:
                await self.answer(Request(scope, receive), exc)(scope, receive, send)


def _log_unhandled(scope: Scope, exc: Exception) -> None:
    logger.error("unhandled error on %s %s", scope.get("method"), scope.get("path"), exc_info=exc)


class HotRoutes:
    """Serves a request straight to its vendor route once the router has chosen that route
    for the same method and path.

    A vendor route whose endpoint takes only the request (core/routing.py) needs nothing of
    what the layers between the server and the route do per request: exception middleware,
    exit stacks, route matching, the request/response wrappers. Under load those layers
    cost about a fifth of a request. Rather than re-implement the router's choice, this
    learns it: the first request for a method and path goes the normal way, and the route
    that serves it offers its handler through the scope (:func:`offer`); later requests for
    the same method and path go to that handler directly. Routing depends on nothing but
    the method and the path, so the answer is the one the router would give. Only routes
    with no path parameters offer themselves, so the table holds at most one entry per
    route and method.

    The error boundary of the other requests (:class:`ErrorBoundary`, ``app``) is kept here
    without its wrapping of every message sent: an exception of the handler gets ``answer``'s
    answer, logged the same way, and the answer it returns is sent whole by Starlette.
    """

    def __init__(self, app: ASGIApp, answer: ErrorAnswer) -> None:
        self.app = ErrorBoundary(app, answer)
        self.answer = answer
        self.table: dict[tuple[str, str], DirectHandler] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("root_path"):
            await self.app(scope, receive, send)
            return
        key = (scope["method"], scope["path"])
        handler = self.table.get(key)
        if handler is not None:
            request = Request(scope, receive, send)
            # Parsed once for every request that sends the same query (Starlette's
            # QueryParams is immutable); the request would parse it at first use.
            request._query_params = _query_params(scope["query_string"])
            try:
                response = await handler(request)
            except Exception as exc:
                _log_unhandled(scope, exc)
                response = self.answer(request, exc)
            await response(scope, receive, send)
            return
        table = self.table

        def learn(offered: DirectHandler) -> None:
            # Before the answer is sent: a client that saw the answer finds the entry.
            table.setdefault(key, offered)

        scope[_OFFER] = learn
        await self.app(scope, receive, send)


@functools.lru_cache(maxsize=1024)
def _query_params(query_string: bytes) -> QueryParams:
    return QueryParams(query_string)


def offer(scope: Scope, handler: DirectHandler) -> None:
    """Called by a route that can be served directly, with its handler (see HotRoutes)."""
    learn: Callable[[DirectHandler], None] | None = scope.get(_OFFER)
    if learn is not None:
        learn(handler)
