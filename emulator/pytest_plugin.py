"""The pytest plugin (entry point ``pytest11``: ``iot_emulator``): installing the package is
enough to get these fixtures in any test suite.

- ``iot_emulator``: an :class:`emulator.client.EmulatorClient` (an ``httpx.Client`` with the
  control plane as methods) bound to a namespace of its own for each test, on a real emulator
  server. The namespace starts from the baseline fixtures and is dropped after the test.
- ``iot_emulator_url``: that namespace's base URL (``http://127.0.0.1:<port>/ns/<name>``), for
  SDKs and clients that take a base URL.
- ``iot_emulator_mqtt_url``: ``tcp://127.0.0.1:<port>``, where EnOS devices of the test's
  namespace log in over MQTT (a listener of the namespace's own, for device SDKs).
- ``iot_emulator_settings`` (session): the emulator's :class:`emulator.config.Settings`;
  override it in a ``conftest.py`` for another auth mode, seed or fixture files.
- ``iot_emulator_base_url``: the server's root URL; ``iot_emulator_namespace``: the name.
- ``@pytest.mark.iot_emulator_fixtures("file.yaml", ...)``: fixture files (relative to the test
  file) merged into the test's namespace before it runs.

One server per distinct settings, started on a free port in a thread the first time a test
asks for it and stopped at the end of the session; under pytest-xdist each worker is its own
session, so it has its own server. ``--iot-emulator-url`` (or ``IOT_EMULATOR_URL``) uses an
emulator that is already running instead (namespaces keep workers apart there).

Nothing heavy is imported until a test asks for a fixture: the plugin loads in every pytest
run of an environment where the package is installed.
"""

from __future__ import annotations

import itertools
import os
import re
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    import httpx

    from emulator.client import EmulatorClient
    from emulator.config import Settings
    from emulator.core.context import Emulator

MARKER = "iot_emulator_fixtures"
URL_ENV = "IOT_EMULATOR_URL"
ADMIN_TOKEN_ENV = "IOT_EMULATOR_ADMIN_TOKEN"
DEFAULT_SEED = 1234

_counter = itertools.count(1)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("iot_emulator", "iot-emulator")
    group.addoption(
        "--iot-emulator-url",
        default=None,
        help=f"use the emulator running at this URL instead of starting one (env {URL_ENV})",
    )
    group.addoption(
        "--iot-emulator-admin-token",
        default=None,
        help=f"the control plane's admin token of that emulator (env {ADMIN_TOKEN_ENV})",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}(*paths): merge these fixture files (YAML or JSON, relative to the test "
        "file) into the test's iot-emulator namespace before the test runs",
    )


class _Servers:
    """The emulators of this session (one per distinct settings), each in a thread."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self._stack = ExitStack()
        self._urls: dict[str, str] = {}
        self._emulators: dict[str, Emulator] = {}  # by URL: the servers started here
        self._transport: httpx.BaseTransport | None = None

    def transport(self) -> httpx.BaseTransport:
        """One connection pool for every test's client: a test then reuses an open
        connection rather than connecting anew (closed at the end of the session)."""
        if self._transport is None:
            from emulator.client import shared_transport

            self._transport = self._stack.enter_context(shared_transport())
        return self._transport

    def url(self, settings: Settings) -> str:
        key = settings.model_dump_json()
        if key not in self._urls:
            from emulator.app import create_app
            from emulator.testing import serve_in_thread

            app = create_app(settings)
            self._urls[key] = url = self._stack.enter_context(serve_in_thread(app))
            self._emulators[url] = app.state.emulator
        return self._urls[key]

    def drop_namespace(self, url: str, name: str) -> bool:
        """Drop a namespace of a server started here, in process (no request: a suite drops
        one after every test); False for any other server."""
        emulator = self._emulators.get(url)
        if emulator is None:
            return False
        emulator.namespaces.drop(name)
        emulator.forget(name)
        return True

    def close(self) -> None:
        self._stack.close()


@pytest.fixture(scope="session")
def iot_emulator_settings() -> Settings:
    """The emulator's settings: an in-memory database, the default fixtures, a fixed seed and
    lenient auth. Override this fixture (session scope) to change them; ``EMULATOR_*``
    variables apply to what it does not set."""
    from emulator.config import Settings

    return Settings(db=":memory:", seed=DEFAULT_SEED)


@pytest.fixture(scope="session")
def _iot_emulator_servers(pytestconfig: pytest.Config) -> Iterator[_Servers]:
    servers = _Servers(pytestconfig)
    yield servers
    servers.close()


# The function-scoped fixtures take ``request`` only where they need the test itself: pytest
# (9) builds a fixture definition for ``request`` each time a fixture asks for it, its
# signature inspected each time (the session's config is at hand on _Servers).
@pytest.fixture
def iot_emulator_base_url(iot_emulator_settings: Settings, _iot_emulator_servers: _Servers) -> str:
    """The root URL of the emulator (no namespace): started on first use, once per session."""
    config = _iot_emulator_servers.config
    external = config.getoption("--iot-emulator-url") or os.environ.get(URL_ENV)
    if external:
        return str(external).rstrip("/")
    return _iot_emulator_servers.url(iot_emulator_settings)


@pytest.fixture
def iot_emulator_namespace(request: pytest.FixtureRequest) -> str:
    """A namespace name unique to this test (and to this process, for a shared server)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", request.node.name).strip("-.")
    return f"{worker}-{os.getpid()}-{next(_counter)}-{slug}"[:64].rstrip("-.")


@pytest.fixture
def iot_emulator(
    request: pytest.FixtureRequest,
    iot_emulator_base_url: str,
    iot_emulator_namespace: str,
    iot_emulator_settings: Settings,
    _iot_emulator_servers: _Servers,
) -> Iterator[EmulatorClient]:
    """A client bound to this test's own namespace, with the control plane as methods."""
    from emulator.client import EmulatorClient

    token = (
        request.config.getoption("--iot-emulator-admin-token")
        or os.environ.get(ADMIN_TOKEN_ENV)
        or iot_emulator_settings.admin_token
    )
    base = iot_emulator_base_url
    client = EmulatorClient(
        f"{base}/ns/{iot_emulator_namespace}",
        admin_token=token,
        transport=_iot_emulator_servers.transport(),
    )
    try:
        # The farthest marker first (module, class, function), so closer files win.
        for marker in reversed(list(request.node.iter_markers(MARKER))):
            for name in marker.args:
                client.load_fixtures(_fixture_path(request, name))
        yield client
    finally:
        try:
            if client.clock_touched:
                # The clock is the one state every namespace of an emulator shares.
                client.clock.release()
            if not _iot_emulator_servers.drop_namespace(base, iot_emulator_namespace):
                # 404: the test never used its namespace, so it was never created.
                client.request(
                    "DELETE",
                    f"{base}/_emulator/namespaces/{iot_emulator_namespace}",
                    headers=client.admin_headers,
                )
        finally:
            client.close()


@pytest.fixture
def iot_emulator_url(iot_emulator: EmulatorClient) -> str:
    """This test's namespace as a base URL, for SDKs (the namespace of ``iot_emulator``)."""
    return iot_emulator.url


@pytest.fixture
def iot_emulator_mqtt_url(iot_emulator: EmulatorClient) -> Iterator[str]:
    """``tcp://127.0.0.1:<port>``: where EnOS devices of this test's namespace log in over
    MQTT (a listener of the namespace's own, opened for the test and closed after it), for
    device SDKs that take only a host and a port."""
    answer = iot_emulator.request("POST", f"{iot_emulator.url}/_emulator/mqtt")
    answer.raise_for_status()
    try:
        yield str(answer.json()["url"])
    finally:
        iot_emulator.request("DELETE", f"{iot_emulator.url}/_emulator/mqtt")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # A test that carries the marker gets its namespace (and the files) before its other
    # fixtures, even if it only asks for something else, e.g. an SDK fixture of its own built
    # on iot_emulator_base_url. Named here, at collection, for the tests that carry it: an
    # autouse fixture would run for every test of the suite.
    for item in items:
        names = getattr(item, "fixturenames", None)
        if names is None or "iot_emulator" in names:
            continue
        if item.get_closest_marker(MARKER) is not None:
            names.insert(0, "iot_emulator")


def _fixture_path(request: pytest.FixtureRequest, name: object) -> Path:
    if not isinstance(name, str | os.PathLike):
        pytest.fail(f"@pytest.mark.{MARKER} takes file paths, not {name!r}", pytrace=False)
    path = Path(name)
    if not path.is_absolute():
        path = Path(request.node.path).parent / path
    if not path.is_file():
        pytest.fail(f"@pytest.mark.{MARKER}: no fixture file {path}", pytrace=False)
    return path
