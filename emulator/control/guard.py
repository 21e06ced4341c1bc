"""What keeps a web page from driving the control plane (``/_emulator/*``) of a local emulator.

A page on another site can make the browser send requests to ``127.0.0.1:8080``: a "simple"
cross-site POST (``Content-Type: text/plain`` or a form) needs no preflight, and a page whose
name is rebound to 127.0.0.1 (DNS rebinding) can even read the answers. Three checks, the
ones local development servers make:

- ``Origin``: a browser names the page's origin on every cross-site request, and on every
  same-origin one but GET and HEAD; one that is not this server's own (``scheme://Host``)
  is refused, ``Origin: null`` (sandboxed frames, files) too. Clients that are not browsers
  send no Origin and are not affected.
- ``Content-Type``: a body must be JSON or YAML (the control plane reads nothing else), so
  the types a page may send without a preflight (text, forms) are refused.
- ``Host``: on a server bound to a loopback address, the Host header must name a loopback
  address (``localhost``, ``127.0.0.1``, ``[::1]``) or the bound host: a rebound name is
  refused. A server bound to all interfaces (``0.0.0.0``, Docker) is reached by names this
  check cannot know; there the admin token (control/auth.py) is the guard.

Answers are 403 (Origin, Host) and 415 (Content-Type) in the control plane's JSON.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.types import ASGIApp, Receive, Scope, Send

from emulator.control.auth import PREFIX, is_loopback
from emulator.control.errors import send_error

# The media types the control plane reads (fixtures, state, every JSON body).
ACCEPTED_TYPES = frozenset(
    {"application/json", "application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml"}
)
_LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")


def media_type(value: str) -> str:
    return value.partition(";")[0].strip().lower()


def accepted_type(value: str) -> bool:
    kind = media_type(value)
    return kind in ACCEPTED_TYPES or kind.endswith("+json")


def host_name(host: str) -> str:
    """``name`` of a Host header ``name[:port]`` (``[::1]:8080`` gives ``::1``)."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:].partition("]")[0]
    return host.rpartition(":")[0] if host.count(":") == 1 else host


class ControlPlaneGuard:
    """Checks Origin, Content-Type and (on a loopback bind) Host on control-plane paths."""

    def __init__(self, app: ASGIApp, bound_host: str) -> None:
        self.app = app
        self.bound_host = bound_host.strip("[]").lower()
        self.check_host = is_loopback(bound_host)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if scope["type"] != "http" or not (path == PREFIX or path.startswith(PREFIX + "/")):
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers", ()))
        refusal = self._refusal(scope, headers)
        if refusal is None:
            await self.app(scope, receive, send)
            return
        status, message = refusal
        await send_error(send, status, message)

    def _refusal(self, scope: Scope, headers: dict[bytes, bytes]) -> tuple[int, str] | None:
        host = headers.get(b"host", b"").decode("latin-1")
        if self.check_host and _served_on_loopback(scope):
            name = host_name(host)
            if name not in _LOOPBACK_NAMES and name != self.bound_host:
                return 403, f"Host {host!r} is not this emulator's (bound to a loopback address)"
        origin = headers.get(b"origin")
        if origin is not None:
            text = origin.decode("latin-1")
            own = f"{scope.get('scheme', 'http')}://{host}".lower()
            if text.lower() != own and not _same_origin(text, own):
                return 403, f"requests from the web page at {text!r} may not use the control plane"
        kind = headers.get(b"content-type")
        if kind is not None and _has_body(headers) and not accepted_type(kind.decode("latin-1")):
            return 415, (
                f"Content-Type {kind.decode('latin-1')!r}: the control plane reads "
                "application/json or YAML (application/yaml, text/yaml)"
            )
        return None


def _same_origin(origin: str, own: str) -> bool:
    """The same origin written differently (a default port spelled out)."""
    a, b = urlsplit(origin), urlsplit(own)
    default = {"http": 80, "https": 443}
    try:
        return (a.scheme, a.hostname, a.port or default.get(a.scheme)) == (
            b.scheme,
            b.hostname,
            b.port or default.get(b.scheme),
        )
    except ValueError:  # a malformed port
        return False


def _has_body(headers: dict[bytes, bytes]) -> bool:
    # ``curl -X POST -d ''`` sends a form type with nothing in it: no body, nothing to read.
    return headers.get(b"content-length", b"0") != b"0" or b"transfer-encoding" in headers


def _served_on_loopback(scope: Scope) -> bool:
    """Whether the connection came in on a loopback address (not an in-process client)."""
    server: tuple[str, int] | None = scope.get("server")
    return server is not None and is_loopback(str(server[0]))
