"""The optional admin token of the control plane (``--admin-token`` / EMULATOR_ADMIN_TOKEN).

With a token set, every ``/_emulator/*`` path but the health check (probes carry no secret)
and the dashboard's page shell (static files; its data calls still need the token) answers
401 in the control plane's JSON unless the request carries the token, as
``Authorization: Bearer <token>`` or ``X-Emulator-Admin-Token: <token>``. Vendor paths are
never affected: they keep their own credentials. Without a token nothing is checked, as
before: the default bind on 127.0.0.1 keeps the control plane local.
"""

from __future__ import annotations

import hmac
import ipaddress

from starlette.types import ASGIApp, Receive, Scope, Send

from emulator.control.errors import send_error

PREFIX = "/_emulator"
HEADER = b"x-emulator-admin-token"
# Paths that stay open with a token set.
OPEN_PATHS = frozenset({"/_emulator/health"})
OPEN_PREFIXES = ("/_emulator/ui",)


def is_loopback(host: str) -> bool:
    """Whether binding ``host`` keeps the server reachable from this machine only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def presented_token(headers: list[tuple[bytes, bytes]]) -> str | None:
    for key, value in headers:
        if key == HEADER:
            return value.decode("latin-1")
        if key == b"authorization":
            scheme, _, rest = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and rest.strip():
                return rest.strip()
    return None


class AdminTokenMiddleware:
    """Checks the admin token on control-plane paths (after the namespace prefix is removed,
    so ``/ns/{name}/_emulator/...`` is guarded too)."""

    def __init__(self, app: ASGIApp, token: str | None) -> None:
        self.app = app
        self.token = token.encode() if token else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.token is None or scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if (
            not (path == PREFIX or path.startswith(PREFIX + "/"))
            or path in OPEN_PATHS
            or path.startswith(OPEN_PREFIXES)
        ):
            await self.app(scope, receive, send)
            return
        given = presented_token(list(scope.get("headers", ())))
        if given is not None and hmac.compare_digest(given.encode(), self.token):
            await self.app(scope, receive, send)
            return
        message = (
            "the control plane needs the admin token: "
            "send 'Authorization: Bearer <token>' or 'X-Emulator-Admin-Token: <token>'"
            if given is None
            else "the admin token is not valid"
        )
        realm = (b"www-authenticate", b'Bearer realm="iot-emulator control plane"')
        await send_error(send, 401, message, headers=[realm])
