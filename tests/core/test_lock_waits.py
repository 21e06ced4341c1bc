"""A request waiting for a database lock does not stop the server (core/lockwait.py).

Over a real socket, on a SQLite file (and on PostgreSQL, a table locked): another connection
holds the write lock, a vendor create and a control-plane write start and wait for it; health
and a control-plane read answer while the lock is still held (their client gives up long
before the statement timeout: on a blocked event loop they would fail); then the lock is
released and both writes complete. Each step waits for an event (the server's log line saying
a request waits, PostgreSQL showing a session waiting for a lock), never for a guessed time.
Past the statement timeout, each vendor family answers its own internal-error envelope.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from emulator.app import create_app
from emulator.config import Settings
from emulator.core import lockwait
from emulator.testing import serve_in_thread
from tests.conftest import DATABASE_URL, scratch_schema
from tests.control.helpers import create_body
from tests.vendors.enos import helpers as enos
from tests.vendors.mcs import helpers as mcs
from tests.vendors.quectel import devicemgr_helpers as quectel

# Long: the requests that wait are released by the test, not by the timeout.
PATIENT_S = 60.0
# Far below PATIENT_S: a call that has to wait for the lock holder would fail.
QUICK_S = 5.0
# How long a test waits for an event before it fails.
EVENT_S = 30.0


class WaitCounter(logging.Handler):
    """Counts the server's "a request waits for a database lock" lines."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.count = 0
        self.changed = threading.Condition()

    def emit(self, record: logging.LogRecord) -> None:
        with self.changed:
            self.count += 1
            self.changed.notify_all()

    def wait_for(self, count: int) -> None:
        with self.changed:
            assert self.changed.wait_for(lambda: self.count >= count, EVENT_S), (
                f"{count} request(s) never waited for the lock ({self.count} did)"
            )


@pytest.fixture
def waits() -> Iterator[WaitCounter]:
    counter = WaitCounter()
    logger = lockwait.logger
    level = logger.level
    logger.addHandler(counter)
    logger.setLevel(logging.DEBUG)
    try:
        yield counter
    finally:
        logger.removeHandler(counter)
        logger.setLevel(level)


@contextmanager
def served(db: Path | str, statement_timeout: float) -> Iterator[httpx.Client]:
    app = create_app(Settings(db=str(db), seed=1, db_statement_timeout=statement_timeout))
    try:
        with serve_in_thread(app) as url, httpx.Client(base_url=url, timeout=PATIENT_S) as client:
            yield client
    finally:
        app.state.emulator.dispose()


@contextmanager
def write_lock(db: Path) -> Iterator[None]:
    """Another program's transaction holding the file's write lock until the block ends."""
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        yield
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def enos_create(client: httpx.Client, key: str) -> httpx.Response:
    return client.post(enos.devices_url("create"), json=create_body(key), headers=enos.HEADERS)


def test_health_and_reads_answer_while_writes_wait_for_a_lock(
    tmp_path: Path, waits: WaitCounter
) -> None:
    db = tmp_path / "emulator.db"
    with served(db, PATIENT_S) as client, ThreadPoolExecutor(2) as pool:
        assert enos_create(client, "before").json()["code"] == 0
        online = f"/_emulator/devices/enos/{enos.PRODUCT}/before/online"
        with write_lock(db):
            create: Future[httpx.Response] = pool.submit(enos_create, client, "during")
            waits.wait_for(1)
            went_online: Future[httpx.Response] = pool.submit(client.post, online)
            waits.wait_for(2)
            # Both writes are waiting for the lock, which is still held.
            health = client.get("/_emulator/health", timeout=QUICK_S)
            devices = client.get("/_emulator/devices", timeout=QUICK_S)
            assert not create.done()
            assert not went_online.done()
        assert health.status_code == 200
        assert devices.status_code == 200
        assert "during" not in devices.text
        assert create.result(EVENT_S).json()["code"] == 0
        assert went_online.result(EVENT_S).json()["online"] is True
        keys = {d["deviceKey"] for d in client.get("/_emulator/devices").json()["devices"]}
        assert {"before", "during"} <= keys
        # Journalled once, as any answered request.
        operation = {"operation": "enos.connect.create_device"}
        journal = client.get("/_emulator/requests", params=operation).json()
        assert len(journal["requests"]) == 2


def quectel_create(client: httpx.Client, key: str) -> httpx.Response:
    body = {"productKey": quectel.PRODUCT, "deviceKey": key}
    return client.post(quectel.CREATE, json=body, headers=quectel.HEADERS)


def mcs_register(client: httpx.Client, key: str) -> httpx.Response:
    return client.post(mcs.DEVICES_URL, json=mcs.device(name=key), headers=mcs.HEADERS)


def _enos_internal(response: httpx.Response) -> bool:
    return response.status_code == 200 and response.json()["code"] == 99500


def _quectel_internal(response: httpx.Response) -> bool:
    return response.status_code == 200 and response.json()["code"] == 50000


def _mcs_internal(response: httpx.Response) -> bool:
    return response.status_code == 500 and response.json()["results"]["code"] == 500


FAMILIES: dict[str, tuple[Callable[[httpx.Client, str], httpx.Response], Callable[..., Any]]] = {
    "enos": (enos_create, _enos_internal),
    "quectel": (quectel_create, _quectel_internal),
    "mcs": (mcs_register, _mcs_internal),
}


@pytest.mark.parametrize("family", FAMILIES)
def test_a_lock_held_past_the_statement_timeout_gets_the_vendors_internal_error(
    tmp_path: Path, waits: WaitCounter, family: str
) -> None:
    send, is_internal_error = FAMILIES[family]
    db = tmp_path / "emulator.db"
    with served(db, statement_timeout=0.5) as client:
        assert send(client, "before").status_code == 200
        with write_lock(db):
            refused = send(client, "during")
            health = client.get("/_emulator/health", timeout=QUICK_S)
        assert waits.count == 1
        assert is_internal_error(refused), refused.text
        assert health.status_code == 200
        done = send(client, "after")
        assert done.status_code == 200, done.text
        assert not is_internal_error(done)


@pytest.fixture
def postgresql_url() -> Iterator[str]:
    with scratch_schema("emu_lock_waits") as url:
        yield url


def _plain(url: str) -> str:
    return url.replace("postgresql+psycopg", "postgresql")


def _wait_for_a_lock_waiter(watcher: Any) -> None:
    """Until a session of this database waits for a lock (the create, on a worker thread)."""
    query = (
        "SELECT count(*) FROM pg_stat_activity"
        " WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    deadline = time.monotonic() + EVENT_S
    while watcher.execute(query).fetchone()[0] == 0:
        assert time.monotonic() < deadline, "the create never waited for the lock"
        time.sleep(0.01)


def test_health_and_reads_answer_while_a_postgresql_table_is_locked(
    postgresql_url: str, waits: WaitCounter
) -> None:
    assert DATABASE_URL is not None
    import psycopg

    with served(postgresql_url, PATIENT_S) as client, ThreadPoolExecutor(2) as pool:
        assert enos_create(client, "before").json()["code"] == 0
        online = f"/_emulator/devices/enos/{enos.PRODUCT}/before/online"
        holder = psycopg.connect(_plain(DATABASE_URL))
        watcher = psycopg.connect(_plain(DATABASE_URL), autocommit=True)
        try:
            holder.execute('LOCK TABLE "emu_lock_waits".devices IN ACCESS EXCLUSIVE MODE')
            create: Future[httpx.Response] = pool.submit(enos_create, client, "during")
            _wait_for_a_lock_waiter(watcher)
            went_online: Future[httpx.Response] = pool.submit(client.post, online)
            waits.wait_for(1)
            # Both writes wait for the lock, which is still held.
            health = client.get("/_emulator/health", timeout=QUICK_S)
            journal = client.get("/_emulator/requests", timeout=QUICK_S)
            assert not create.done()
            assert not went_online.done()
        finally:
            holder.rollback()
            holder.close()
            watcher.close()
        assert health.status_code == 200
        assert journal.status_code == 200
        assert create.result(EVENT_S).json()["code"] == 0
        assert went_online.result(EVENT_S).json()["online"] is True
        keys = {d["deviceKey"] for d in client.get("/_emulator/devices").json()["devices"]}
        assert {"before", "during"} <= keys


def _streamed(body: dict[str, Any]) -> Iterator[bytes]:
    """A body sent chunked (no Content-Length): such a create is served on the event loop,
    not on an offload worker thread (core/routing.py reads it there first)."""
    yield json.dumps(body).encode()


def test_a_streamed_create_waits_on_the_loop_while_its_product_row_is_locked(
    postgresql_url: str, waits: WaitCounter
) -> None:
    # The create's one statement in autocommit (Ctx.alone) must not wait for the lock inside
    # PostgreSQL on the loop: it finds the row locked at once and waits on the loop instead.
    assert DATABASE_URL is not None
    import psycopg

    with served(postgresql_url, PATIENT_S) as client, ThreadPoolExecutor(1) as pool:
        assert enos_create(client, "before").json()["code"] == 0
        holder = psycopg.connect(_plain(DATABASE_URL))
        try:
            holder.execute(
                'SELECT 1 FROM "emu_lock_waits".products WHERE product_key = %s FOR UPDATE',
                (enos.PRODUCT,),
            )
            create: Future[httpx.Response] = pool.submit(
                client.post,
                enos.devices_url("create"),
                content=_streamed(create_body("during")),
                headers={**enos.HEADERS, "Content-Type": "application/json"},
            )
            waits.wait_for(1)
            health = client.get("/_emulator/health", timeout=QUICK_S)
            assert not create.done()
        finally:
            holder.rollback()
            holder.close()
        assert health.status_code == 200
        assert create.result(EVENT_S).json()["code"] == 0
        keys = {d["deviceKey"] for d in client.get("/_emulator/devices").json()["devices"]}
        assert {"before", "during"} <= keys
