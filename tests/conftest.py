"""Fixtures of the emulator's own suite.

The suite runs twice over: in process (the default), and against a real uvicorn server on a
free port with ``EMULATOR_TEST_MODE=server``. Each test gets its own namespace of one shared
emulator, so tests never see each other's state (the way users run parallel workers).

With ``EMULATOR_TEST_DATABASE_URL`` set to a PostgreSQL URL (``.ci/run`` sets it), the suite's
emulators keep their state there instead of SQLite: each in its own schema, created empty when
the emulator is built and dropped at the end of the session.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

# httpx imports httpcore at its first transport. Imported here, before any pytester run, it
# stays one module for the whole session: a pytester run that imported it first had its
# modules dropped at its end, and httpx's exception map (built once) then missed the
# exceptions of the httpcore imported again (httpx.get raised httpcore.ConnectError).
import httpcore  # noqa: F401
import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Connection

# The same for amqtt, imported on demand when an EnOS MQTT listener opens: dropped after a
# pytester run and imported again, its plugin manager refused the emulator's broker plugin
# (a subclass of the first import's BasePlugin, not of the second's).
import emulator.vendors.enos.mqtt.broker  # noqa: F401
from emulator.app import create_app
from emulator.config import Settings
from emulator.core.vendor import vendors
from emulator.testing import serve_in_thread

# The built-in vendors register their operations when their packages load (core/vendor.py):
# load them before a test reads OPERATIONS, as an app's creation does.
vendors()

MODE = os.environ.get("EMULATOR_TEST_MODE", "inprocess")
if MODE not in ("inprocess", "server"):
    raise pytest.UsageError(f"EMULATOR_TEST_MODE must be inprocess or server, not {MODE!r}")

DATABASE_URL = os.environ.get("EMULATOR_TEST_DATABASE_URL") or None
_schemas = itertools.count()

# In process the client is Starlette's TestClient; against a server, a plain httpx client.
Client = httpx.Client | TestClient
ClientFactory = Callable[..., Client]
_names = itertools.count()


def _settings(tmp: Path, schema: str | None = None, **overrides: Any) -> Settings:
    # A file database in server mode, as a user runs it; memory in process, for speed.
    db = str(tmp / "emulator.db") if MODE == "server" else ":memory:"
    if schema is not None:
        db = postgresql_schema(schema)
    # The app's lifespan (a TestClient's, here) opens the default MQTT listener: on an
    # ephemeral port, since 11883 is one per machine and xdist workers or a second clone's
    # suite would fight over it.
    return Settings(**{"db": db, "seed": 1234, "mqtt_port": 0, **overrides})


def postgresql_schema(name: str) -> str:
    """A URL of ``EMULATOR_TEST_DATABASE_URL`` whose connections use schema ``name``, created
    empty now (its tables come from the emulator's migrations); whoever makes it drops it
    with :func:`drop_schemas`."""
    assert DATABASE_URL is not None
    from sqlalchemy import create_engine

    engine = create_engine(DATABASE_URL)
    with engine.begin() as conn:
        conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
        conn.exec_driver_sql(f'CREATE SCHEMA "{name}"')
    engine.dispose()
    separator = "&" if "?" in DATABASE_URL else "?"
    return f"{DATABASE_URL}{separator}options=-csearch_path%3D{name}"


def drop_schemas(*names: str) -> None:
    """Drop the schemas ``names``, made by :func:`postgresql_schema`."""
    if DATABASE_URL is None or not names:
        return
    from sqlalchemy import create_engine

    engine = create_engine(DATABASE_URL)
    with engine.begin() as conn:
        for name in names:
            conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
    engine.dispose()


@contextmanager
def scratch_schema(name: str) -> Iterator[str]:
    """A URL on schema ``name`` (:func:`postgresql_schema`) for one test, dropped after it;
    the test is skipped, saying why, when PostgreSQL is not there."""
    reason = postgresql_skip_reason()
    if reason is not None:
        pytest.skip(reason)
    try:
        yield postgresql_schema(name)
    finally:
        drop_schemas(name)


@contextmanager
def opened_database(db: str, seed: int | None = 1) -> Iterator[Connection]:
    """The database ``db`` as an emulator opens it at start-up (created or upgraded), on one
    connection; the emulator is disposed after."""
    from emulator.app import build_emulator

    emulator = build_emulator(Settings(db=db, seed=seed))
    try:
        with emulator.engine.connect() as conn:
            yield conn
    finally:
        emulator.dispose()


def postgresql_skip_reason() -> str | None:
    """Why the PostgreSQL-only tests cannot run here, or None when they can."""
    if DATABASE_URL is None:
        return "EMULATOR_TEST_DATABASE_URL is not set (a PostgreSQL URL; .ci/run sets it)"
    try:
        from sqlalchemy import create_engine

        engine = create_engine(DATABASE_URL, connect_args={"connect_timeout": 3})
        with engine.connect():
            pass
        engine.dispose()
    except Exception as exc:  # the driver missing, the server down, bad credentials
        return f"PostgreSQL at EMULATOR_TEST_DATABASE_URL is unreachable: {exc}"
    return None


class Emulators:
    """One emulator per distinct settings, built once per session and shared by namespaces."""

    def __init__(self, tmp_factory: pytest.TempPathFactory) -> None:
        self._tmp = tmp_factory
        self._stack = ExitStack()
        self._built: dict[str, tuple[FastAPI, str]] = {}
        self._schemas: list[str] = []  # on PostgreSQL: one per emulator built here

    def get(self, **overrides: Any) -> tuple[FastAPI, str]:
        key = repr(sorted(overrides.items()))
        if key not in self._built:
            schema = None
            if DATABASE_URL is not None:
                schema = f"emu_{os.getpid()}_{next(_schemas)}"
                self._schemas.append(schema)
            app = create_app(_settings(self._tmp.mktemp("emulator"), schema, **overrides))
            if MODE == "server":
                url = self._stack.enter_context(serve_in_thread(app))
            else:
                url = "http://testserver"
            self._built[key] = (app, url)
        return self._built[key]

    def client(self, namespace: str | None = None, **overrides: Any) -> Client:
        app, url = self.get(**overrides)
        base = f"{url}/ns/{namespace}" if namespace else url
        if MODE == "server":
            return httpx.Client(base_url=base, timeout=30)
        return TestClient(app, base_url=base)

    def close(self) -> None:
        self._stack.close()
        for app, _url in self._built.values():
            app.state.emulator.dispose()
        # Only this registry's schemas: a test's own registry must not drop the session's.
        drop_schemas(*self._schemas)


@pytest.fixture(scope="session")
def emulators(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulators]:
    registry = Emulators(tmp_path_factory)
    yield registry
    registry.close()


@pytest.fixture
def namespace() -> str:
    return f"t{next(_names)}-{os.getpid()}"


@pytest.fixture
def make_client(emulators: Emulators, namespace: str) -> Iterator[ClientFactory]:
    """A client of an emulator built with the given settings, in this test's namespace."""
    opened: list[Client] = []

    def factory(**overrides: Any) -> Client:
        client = emulators.client(namespace, **overrides)
        opened.append(client)
        return client

    yield factory
    for client in opened:
        client.close()


@pytest.fixture
def client(make_client: ClientFactory) -> Client:
    """A client of the default emulator (lenient auth, default fixtures), in a fresh namespace."""
    return make_client()


@pytest.fixture
def root_client(emulators: Emulators) -> Iterator[Client]:
    """A client of the default emulator without a namespace prefix (the default namespace)."""
    with emulators.client() as client:
        yield client
