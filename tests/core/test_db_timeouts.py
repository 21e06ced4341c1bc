"""A locked table does not freeze the emulator: a statement waits at most
``db_statement_timeout``, then the request gets the vendor's internal code (the control plane
its 503), and health and the control plane keep answering, all while the lock is still held
(each test takes a real lock and releases it only after the answers came)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from emulator.app import create_app
from emulator.config import Settings
from emulator.testing import serve_in_thread
from emulator.vendors.enos.connect.errors import ConnectError
from tests.conftest import DATABASE_URL, scratch_schema
from tests.control.helpers import create_body
from tests.vendors.enos.helpers import HEADERS, devices_url

TIMEOUT_S = 0.5


@contextmanager
def served(db: str) -> Iterator[httpx.Client]:
    app = create_app(Settings(db=db, seed=1, db_statement_timeout=TIMEOUT_S))
    try:
        with serve_in_thread(app) as url, httpx.Client(base_url=url, timeout=60) as client:
            yield client
    finally:
        app.state.emulator.dispose()


def create(client: httpx.Client, device_key: str) -> httpx.Response:
    return client.post(devices_url("create"), json=create_body(device_key), headers=HEADERS)


def test_a_write_waiting_on_a_locked_sqlite_file_gets_the_internal_code(tmp_path: Path) -> None:
    db = tmp_path / "emulator.db"
    with served(str(db)) as client:
        assert create(client, "before").json()["code"] == 0
        holder = sqlite3.connect(db, isolation_level=None)
        holder.execute("BEGIN EXCLUSIVE")
        try:
            blocked = create(client, "during")
            health = client.get("/_emulator/health")
            devices = client.get("/_emulator/devices")
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        assert blocked.json()["code"] == ConnectError.EMULATOR_INTERNAL_ERROR.code
        assert health.status_code == 200
        # Readers are not blocked by a writer in WAL mode: the control plane reads on.
        assert devices.status_code == 200
        assert "during" not in devices.text
        # The lock gone, the same request succeeds.
        assert create(client, "after").json()["code"] == 0


@pytest.fixture
def postgresql_url() -> Iterator[str]:
    with scratch_schema("emu_timeouts") as url:
        yield url


def test_a_table_locked_on_postgresql_gets_the_internal_code_and_a_503(
    postgresql_url: str,
) -> None:
    assert DATABASE_URL is not None
    import psycopg

    with served(postgresql_url) as client:
        assert create(client, "before").json()["code"] == 0
        holder = psycopg.connect(DATABASE_URL.replace("postgresql+psycopg", "postgresql"))
        try:
            holder.execute('LOCK TABLE "emu_timeouts".devices IN ACCESS EXCLUSIVE MODE')
            blocked = create(client, "during")
            health = client.get("/_emulator/health")
            devices = client.get("/_emulator/devices")
        finally:
            holder.rollback()
            holder.close()
        assert blocked.json()["code"] == ConnectError.EMULATOR_INTERNAL_ERROR.code
        assert health.status_code == 200
        assert devices.status_code == 503
        assert devices.headers["content-type"] == "application/json"
        assert "database" in devices.json()["error"]["message"]
        assert create(client, "after").json()["code"] == 0
