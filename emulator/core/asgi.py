"""ASGI middleware: picks the namespace of a request before routing sees it."""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Receive, Scope, Send

from emulator.core import namespaces


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
                if key == namespaces.HEADER.encode():
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
