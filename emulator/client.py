"""A client of a running emulator: an ``httpx.Client`` bound to one namespace, plus the control
plane (``/_emulator``) as methods.

The pytest plugin hands one to each test as ``iot_emulator``; it works the same against any
running emulator::

    from emulator.client import EmulatorClient

    with EmulatorClient("http://127.0.0.1:8080/ns/my-test") as emu:
        emu.arm_fault("enos.connect.create_device", code=11714, times=1)
        emu.device("quectel", "PK0001", "DK00001").online()
        emu.verify("quectel.enduser.batch_control_device", count=1)

Vendor calls go through the usual ``httpx`` methods with paths relative to the namespace
(``emu.post("/mcs/v2/devices", ...)``). Control-plane errors raise :class:`EmulatorError`; a
failed :meth:`EmulatorClient.verify` raises :class:`VerificationError`, an ``AssertionError``
whose message lists the nearest misses, so pytest reports what did arrive.
"""

from __future__ import annotations

import functools
import json
import ssl
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from emulator.loopback import LoopbackTransport

__all__ = ["DeviceHandle", "EmulatorClient", "EmulatorClock", "EmulatorError", "VerificationError"]

ADMIN_TOKEN_HEADER = "X-Emulator-Admin-Token"


@functools.cache
def _default_ssl_context() -> ssl.SSLContext:
    """httpx's default TLS settings, built once per process: an ``httpx.Client`` builds them
    anew, loading the whole CA bundle (about 20 ms), and a suite makes one client per test.
    The emulator speaks plain HTTP; this only matters behind a TLS proxy."""
    return httpx.create_ssl_context()


class _Cookies(httpx.Cookies):
    """httpx's cookie jar, which reads an answer only when it sets a cookie: httpx hands
    every answer to the standard library's jar, which builds a request and a response of
    its own for it (about a tenth of a request's cost to the client), and the emulator sets
    no cookie."""

    def extract_cookies(self, response: httpx.Response) -> None:
        if "set-cookie" in response.headers:
            super().extract_cookies(response)


class _SharedTransport(LoopbackTransport):
    """A transport that outlives the clients using it: closing a client leaves it open."""

    def __init__(self) -> None:
        super().__init__(fallback=lambda: httpx.HTTPTransport(verify=_default_ssl_context()))

    def close(self) -> None:
        pass

    def close_pool(self) -> None:
        super().close()


@contextmanager
def shared_transport() -> Iterator[httpx.BaseTransport]:
    """A connection pool to share between :class:`EmulatorClient` instances (``transport=``):
    each client then reuses the open connections of the ones before it. Closed when the
    block ends. Plain HTTP goes through the lean transport of :mod:`emulator.loopback`."""
    transport = _SharedTransport()
    try:
        yield transport
    finally:
        transport.close_pool()


class EmulatorError(RuntimeError):
    """A control-plane request failed: ``status`` and the control plane's ``message``."""

    def __init__(self, status: int, message: str, body: Any = None) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status
        self.message = message
        self.body = body


class VerificationError(AssertionError):
    """``verify`` found another number of requests than expected; ``report`` is the answer."""

    def __init__(self, report: Mapping[str, Any]) -> None:
        self.report = dict(report)
        lines = [str(report.get("message", "verification failed"))]
        for miss in report.get("nearestMisses", []):
            where = f"{miss.get('method', '')} {miss.get('path', '')}"
            lines.append(f"  nearest miss: {where}: {miss.get('reason', '')}")
        super().__init__("\n".join(lines))


class EmulatorClient(httpx.Client):
    """An ``httpx.Client`` on ``url`` (an emulator root or ``<root>/ns/<name>``) with the
    control plane of that namespace as methods."""

    def __init__(
        self, url: str, *, admin_token: str | None = None, timeout: float = 30.0, **kwargs: Any
    ) -> None:
        if not {"verify", "cert", "transport"} & kwargs.keys():
            kwargs["verify"] = _default_ssl_context()
        # With its trailing slash already, httpx parses the URL once rather than twice.
        super().__init__(base_url=url.rstrip("/") + "/", timeout=timeout, **kwargs)
        self._cookies = _Cookies(self._cookies)
        self.url = url.rstrip("/")
        self.admin_headers = {ADMIN_TOKEN_HEADER: admin_token} if admin_token else {}
        # Whether this client changed the clock (the pytest plugin releases it after the test).
        self.clock_touched = False

    @property
    def clock(self) -> EmulatorClock:
        """The emulator's clock, through this client. Made on each use rather than kept: a
        clock kept on the client, pointing back at it, made every client a reference cycle,
        left with all its connection state for the collector (a suite makes one a test)."""
        return EmulatorClock(self)

    @property
    def namespace(self) -> str:
        """The namespace this client is bound to (``default`` without a ``/ns/`` prefix)."""
        head, sep, name = self.url.rpartition("/ns/")
        return name if sep and name and "/" not in name else "default"

    # --- plumbing ---------------------------------------------------------------------------

    def control(self, method: str, path: str, **kwargs: Any) -> Any:
        """A control-plane request (``path`` under ``/_emulator``); the decoded JSON answer."""
        headers = {**self.admin_headers, **kwargs.pop("headers", {})}
        response = self.request(method, f"/_emulator{path}", headers=headers, **kwargs)
        if response.status_code >= 400:
            raise _error(response)
        if not response.content:
            return None
        if "json" not in response.headers.get("content-type", ""):
            return response.text
        return response.json()

    # --- state --------------------------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        result: dict[str, Any] = self.control("GET", "/health")
        return result

    def reset(self) -> None:
        """Back to the baseline fixtures; clears this namespace's faults and journal."""
        self.control("POST", "/reset")

    def seed(self, seed: int | None) -> None:
        """Seed the ids, keys and secrets of this namespace (``None``: random again)."""
        self.control("POST", "/seed", json={"seed": seed})

    def load_fixtures(self, source: str | Path | Mapping[str, Any]) -> dict[str, Any]:
        """Merge a fixture document: a YAML or JSON file, or the document itself."""
        if isinstance(source, Mapping):
            content, kind = json.dumps(source).encode(), "application/json"
        else:
            path = Path(source)
            content = path.read_bytes()
            kind = "application/json" if path.suffix == ".json" else "application/yaml"
        result: dict[str, Any] = self.control(
            "POST", "/fixtures", content=content, headers={"Content-Type": kind}
        )
        return result

    def state(self) -> dict[str, Any]:
        """This namespace exported in the fixture format."""
        result: dict[str, Any] = self.control("GET", "/state")
        return result

    def devices(self, vendor: str | None = None, **filters: Any) -> list[dict[str, Any]]:
        """The namespace's devices (filters: ``productKey``, ``online``, ``limit``, ``offset``)."""
        params = {k: _query_value(v) for k, v in {"vendor": vendor, **filters}.items()}
        answer = self.control("GET", "/devices", params={k: v for k, v in params.items() if v})
        result: list[dict[str, Any]] = answer["devices"]
        return result

    def device(self, vendor: str, product_key: str, device_key: str) -> DeviceHandle:
        """The simulated twin of one device: connect it, read its inbox, ack its commands."""
        return DeviceHandle(self, vendor, product_key, device_key)

    # --- commands -----------------------------------------------------------------------------

    def command(self, ticket: str) -> dict[str, Any]:
        """A command ticket: its state and history."""
        result: dict[str, Any] = self.control("GET", f"/commands/{ticket}")
        return result

    def ack(self, ticket: str, success: bool = True, payload: Any = None) -> dict[str, Any]:
        """The device acknowledges a ``sent`` (qos 1) command."""
        body: dict[str, Any] = {"success": success}
        if payload is not None:
            body["payload"] = payload
        result: dict[str, Any] = self.control("POST", f"/commands/{ticket}/ack", json=body)
        return result

    # --- faults -------------------------------------------------------------------------------

    def arm_fault(
        self,
        operation: str,
        code: int | None = None,
        *,
        times: int | None = None,
        probability: float | None = None,
        seed: int | None = None,
        latency_ms: int | None = None,
        device_key: str | None = None,
        ttl_seconds: float | None = None,
    ) -> dict[str, Any]:
        """Arm a fault rule on an operation id (``GET /_emulator/operations`` lists them)."""
        spec = {
            "operation": operation,
            "code": code,
            "times": times,
            "probability": probability,
            "seed": seed,
            "latencyMs": latency_ms,
            "deviceKey": device_key,
            "ttlSeconds": ttl_seconds,
        }
        result: dict[str, Any] = self.control(
            "POST", "/faults", json={k: v for k, v in spec.items() if v is not None}
        )
        return result

    def faults(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self.control("GET", "/faults")["faults"]
        return result

    def clear_faults(self) -> None:
        self.control("DELETE", "/faults")

    # --- journal ------------------------------------------------------------------------------

    def journal(self, operation: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """The vendor requests this namespace received, newest first."""
        params: dict[str, Any] = {"limit": limit}
        if operation:
            params["operation"] = operation
        result: list[dict[str, Any]] = self.control("GET", "/requests", params=params)["requests"]
        return result

    def clear_journal(self) -> None:
        self.control("DELETE", "/requests")

    def verify(
        self,
        operation: str | None = None,
        *,
        count: int | None = None,
        at_least: int | None = None,
        body_contains: Any = None,
    ) -> int:
        """Assert on the journal: exactly ``count`` (or ``at_least``, default 1) requests of
        ``operation`` whose body contains ``body_contains``; the number matched."""
        __tracebackhide__ = True  # pytest shows the test's line, not this one
        spec = {
            "operation": operation,
            "count": count,
            "atLeast": at_least,
            "bodyContains": body_contains,
        }
        headers = self.admin_headers
        response = self.post(
            "/_emulator/requests/verify",
            json={k: v for k, v in spec.items() if v is not None},
            headers=headers,
        )
        if response.status_code == 409:
            raise VerificationError(response.json()["error"])
        if response.status_code >= 400:
            raise _error(response)
        return int(response.json()["matched"])


class EmulatorClock:
    """The emulator's clock (shared by every namespace of one emulator)."""

    def __init__(self, client: EmulatorClient) -> None:
        self._client = client

    @property
    def touched(self) -> bool:
        """Whether the client changed the clock since it last released it."""
        return self._client.clock_touched

    def now(self) -> dict[str, Any]:
        """``{"nowMs", "now", "frozen"}``."""
        result: dict[str, Any] = self._client.control("GET", "/clock")
        return result

    def now_ms(self) -> int:
        return int(self.now()["nowMs"])

    def freeze(self, at: int | str | bool = True) -> dict[str, Any]:
        """Stop the clock: now (``True``), at epoch milliseconds or at an ISO 8601 time."""
        self._client.clock_touched = True
        result: dict[str, Any] = self._client.control("POST", "/clock", json={"freeze": at})
        return result

    def advance(self, seconds: float) -> dict[str, Any]:
        """Move the clock forward, frozen or not (tokens and cached commands expire)."""
        self._client.clock_touched = True
        result: dict[str, Any] = self._client.control("POST", "/clock", json={"advance": seconds})
        return result

    def release(self) -> dict[str, Any]:
        """Back to real time."""
        result: dict[str, Any] = self._client.control("DELETE", "/clock")
        self._client.clock_touched = False
        return result


class DeviceHandle:
    """One simulated device, as ``iot_emulator.device(vendor, productKey, deviceKey)``."""

    def __init__(
        self, client: EmulatorClient, vendor: str, product_key: str, device_key: str
    ) -> None:
        self._client = client
        self.vendor = vendor
        self.product_key = product_key
        self.device_key = device_key
        self._path = f"/devices/{vendor}/{product_key}/{device_key}"

    def __repr__(self) -> str:
        return f"<device {self.vendor} {self.product_key}/{self.device_key}>"

    def online(self) -> dict[str, Any]:
        """The device connects; its cached commands are delivered."""
        result: dict[str, Any] = self._client.control("POST", f"{self._path}/online")
        return result

    def offline(self) -> dict[str, Any]:
        result: dict[str, Any] = self._client.control("POST", f"{self._path}/offline")
        return result

    def commands(self, wait: float | None = None, after: int = 0) -> list[dict[str, Any]]:
        """The device's inbox, oldest first; ``wait`` long-polls up to that many seconds until
        a command arrives, ``after`` skips commands up to that ``seq``."""
        params: dict[str, Any] = {"after": after}
        if wait:
            params["wait"] = wait
        answer = self._client.control("GET", f"{self._path}/commands", params=params)
        result: list[dict[str, Any]] = answer["commands"]
        return result

    def ack(self, ticket: str, success: bool = True, payload: Any = None) -> dict[str, Any]:
        return self._client.ack(ticket, success, payload)


def _query_value(value: Any) -> Any:
    return str(value).lower() if isinstance(value, bool) else value


def _error(response: httpx.Response) -> EmulatorError:
    try:
        body = response.json()
    except ValueError:
        return EmulatorError(response.status_code, response.text[:500])
    message = body.get("error", {}).get("message") if isinstance(body, dict) else None
    return EmulatorError(response.status_code, str(message or body), body)
