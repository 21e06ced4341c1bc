"""Connections PostgreSQL drops (a server restart, ``pg_terminate_backend``): the emulator
replaces them instead of failing every later request.

The hot statements run on the driver's cursor (core/sql.py HotSql), outside SQLAlchemy's
execution, which is what notices a lost connection and invalidates it; the connections kept
per thread (core/held.py) are replaced only once invalidated.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from emulator.app import create_app
from emulator.config import Settings
from tests.conftest import DATABASE_URL, scratch_schema
from tests.control.helpers import create_body
from tests.vendors.enos.helpers import HEADERS, devices_url

# The emulator's connections carry this name, so the test ends theirs and nobody else's.
APP_NAME = f"emu_dropped_{os.getpid()}"


@pytest.fixture
def client() -> Iterator[TestClient]:
    with scratch_schema(f"emu_dropped_{os.getpid()}") as url:
        app = create_app(Settings(db=f"{url}&application_name={APP_NAME}", seed=1))
        with TestClient(app) as client:
            yield client
        app.state.emulator.dispose()


def _terminate_the_emulators_connections() -> int:
    """End the emulator's sessions; return once they are gone (pg_terminate_backend only
    signals a session, which ends a moment later)."""
    assert DATABASE_URL is not None
    engine = create_engine(DATABASE_URL, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            pids = list(
                conn.execute(
                    text("SELECT pid FROM pg_stat_activity WHERE application_name = :name"),
                    {"name": APP_NAME},
                ).scalars()
            )
            for pid in pids:
                conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            alive = text("SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(:pids)")
            deadline = time.monotonic() + 30  # bounds a hang only
            while conn.execute(alive, {"pids": pids}).scalar_one():
                assert time.monotonic() < deadline, "the emulator's sessions never ended"
                time.sleep(0.01)
    finally:
        engine.dispose()
    return len(pids)


def _create(client: TestClient, key: str) -> int:
    answer = client.post(devices_url("create"), json=create_body(key), headers=HEADERS)
    return int(answer.json()["code"])


def test_creates_succeed_again_after_postgresql_drops_the_connections(
    client: TestClient,
) -> None:
    assert _create(client, "before") == 0
    assert _terminate_the_emulators_connections() > 0

    # Each connection that was open fails the one request that finds it dead (99500), at
    # most once per worker thread and kept connection; then the creates succeed again.
    codes = []
    for n in range(40):
        codes.append(_create(client, f"during-{n}"))
        if codes[-1] == 0:
            break
    assert codes[-1] == 0, codes
    assert [_create(client, f"after-{n}") for n in range(5)] == [0] * 5
