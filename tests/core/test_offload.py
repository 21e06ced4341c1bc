"""On PostgreSQL a vendor request waiting for the database does not hold up the others
(core/offload.py): its handler waits on a worker thread, not on the server's event loop.

A test connection locks the product row a create updates, so that create waits inside
PostgreSQL for as long as the test holds the lock; meanwhile other requests are answered.
Skipped with the reason when ``EMULATOR_TEST_DATABASE_URL`` is not set or unreachable.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import create_engine, text

from emulator.app import create_app
from emulator.config import Settings
from emulator.testing import serve_in_thread
from tests.conftest import DATABASE_URL, drop_schemas, postgresql_schema, postgresql_skip_reason

pytestmark = pytest.mark.skipif(
    postgresql_skip_reason() is not None, reason=str(postgresql_skip_reason())
)

SCHEMA = f"emu_offload_{os.getpid()}"
CREATE = "/connect-service/v2.1/devices?action=create&orgId=o15475450989191"
GET = "/connect-service/v2.1/devices?action=get&orgId=o15475450989191"
HEADERS = {"apim-accesstoken": "any-well-formed-token"}
BODY = {"productKey": "Vu82Agp3", "timezone": "+08:00", "deviceName": {"defaultValue": "d"}}


@pytest.fixture
def server() -> Iterator[tuple[str, str]]:
    db = postgresql_schema(SCHEMA)
    app = create_app(Settings(db=db, seed=1))
    try:
        with serve_in_thread(app) as url:
            yield url, db
    finally:
        app.state.emulator.dispose()
        drop_schemas(SCHEMA)


def test_a_request_waiting_for_a_lock_does_not_hold_up_the_others(
    server: tuple[str, str],
) -> None:
    url, db = server
    # Once, so the namespace exists and the route is known before the lock is taken.
    with httpx.Client(base_url=url, timeout=60) as http:
        created = http.post(CREATE, json={**BODY, "deviceKey": "first"}, headers=HEADERS)
        assert created.json()["code"] == 0
    assert DATABASE_URL is not None
    locker = create_engine(db)
    answers: list[dict[str, object]] = []
    try:
        with locker.connect() as lock:
            lock.execute(
                text(
                    "SELECT quota_used FROM products WHERE namespace = 'default'"
                    " AND product_key = 'Vu82Agp3' FOR UPDATE"
                )
            )

            def blocked_create() -> None:
                with httpx.Client(base_url=url, timeout=60) as http:
                    body = {**BODY, "deviceKey": "waits"}
                    answers.append(http.post(CREATE, json=body, headers=HEADERS).json())

            waiting = threading.Thread(target=blocked_create)
            waiting.start()
            _wait_until_blocked_by(int(lock.execute(text("SELECT pg_backend_pid()")).scalar_one()))

            # Answered while the create waits inside PostgreSQL.
            with httpx.Client(base_url=url, timeout=60) as http:
                found = http.get(f"{GET}&productKey=Vu82Agp3&deviceKey=first", headers=HEADERS)
                assert found.json()["code"] == 0
            assert waiting.is_alive()
            lock.rollback()
        waiting.join(timeout=60)
    finally:
        locker.dispose()
    assert [a["code"] for a in answers] == [0]


def _wait_until_blocked_by(locker_pid: int) -> None:
    """Until a session waits for the lock that session ``locker_pid`` holds (the create)."""
    engine = create_engine(DATABASE_URL or "")
    try:
        with engine.connect() as probe:
            for _ in range(6000):
                blocked = probe.execute(
                    text(
                        "SELECT count(*) FROM pg_stat_activity"
                        " WHERE :pid = ANY(pg_blocking_pids(pid))"
                    ),
                    {"pid": locker_pid},
                ).scalar_one()
                if blocked:
                    return
                probe.execute(text("SELECT pg_sleep(0.01)"))
    finally:
        engine.dispose()
    raise AssertionError("the create never waited for the lock")


def test_the_offload_has_the_threads_the_settings_give() -> None:
    db = postgresql_schema(SCHEMA)
    app = create_app(Settings(db=db, seed=1, db_threads=2))
    try:
        offload = app.state.emulator.offload
        assert offload is not None
        assert offload._threads == 2
    finally:
        app.state.emulator.dispose()
        drop_schemas(SCHEMA)
