"""How large a control-plane body may be: ``max_body_bytes`` (as the vendor paths), and the
larger ``max_fixture_bytes`` for the documents of ``POST /fixtures`` and ``PUT /state``.

A declared ``Content-Length`` over the limit is answered 413 before anything is read; a
streamed body (chunked, no length) is counted as it arrives and refused the moment it
passes the limit, so no more than the limit is ever held. The 413 says ``Connection: close``:
the rest of the body is not read, so the connection cannot serve another request.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from emulator.control.auth import PREFIX
from emulator.control.errors import send_error

# The paths whose bodies are whole fixture documents.
DOCUMENT_PATHS = frozenset({"/_emulator/fixtures", "/_emulator/state"})


class BodyTooLarge(HTTPException):
    """Raised while a streamed body is read; the control plane's handler answers 413."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body over {limit} bytes", {"connection": "close"})


class ControlBodyLimit:
    def __init__(self, app: ASGIApp, max_body_bytes: int, max_fixture_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.max_fixture_bytes = max_fixture_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if scope["type"] != "http" or not (path == PREFIX or path.startswith(PREFIX + "/")):
            await self.app(scope, receive, send)
            return
        limit = self.max_fixture_bytes if path in DOCUMENT_PATHS else self.max_body_bytes
        length = dict(scope.get("headers", ())).get(b"content-length", b"")
        if length.isdigit() and int(length) > limit:
            await _refuse(send, limit)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        await self.app(scope, counted, send)


async def _refuse(send: Send, limit: int) -> None:
    # Closed after: the rest of the body is not read.
    await send_error(
        send, 413, f"request body over {limit} bytes", headers=[(b"connection", b"close")]
    )
