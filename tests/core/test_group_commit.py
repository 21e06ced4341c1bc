"""Group commit on a SQLite file (emulator/core/groupcommit.py).

The vendor requests of one event-loop turn share one COMMIT; each answer leaves only after
it. Requests are run concurrently in process (``asyncio.gather`` over the ASGI app: their
handlers run in one loop turn) or over a real socket; what is committed is read from another
connection to the file, which sees only committed rows. Commits are counted with the engine's
``commit`` event.
"""

from __future__ import annotations

import asyncio
import contextvars
import gc
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import event
from sqlalchemy.exc import IntegrityError, InvalidRequestError
from starlette.requests import Request
from starlette.responses import Response

from emulator.app import create_app
from emulator.config import Settings
from emulator.core import groupcommit
from emulator.core.context import Emulator
from emulator.core.groupcommit import MEMBER, Member
from emulator.core.lockwait import ATTEMPT, Attempt
from emulator.core.routing import run_handler
from emulator.testing import serve_in_thread
from emulator.vendors.enos.connect.errors import ConnectError
from tests.control.helpers import create_body
from tests.vendors.enos.helpers import HEADERS, devices_url


class Served:
    def __init__(self, db: Path) -> None:
        self.db = db
        self.app = create_app(Settings(db=str(db), seed=1))
        self.emulator: Emulator = self.app.state.emulator
        self.commits = 0
        event.listen(self.emulator.engine, "commit", self._count)

    def _count(self, _conn: Any) -> None:
        self.commits += 1

    def committed_keys(self) -> set[str]:
        """The EnOS device keys another connection sees (committed only)."""
        with sqlite3.connect(self.db) as conn:
            rows = conn.execute("SELECT device_key FROM devices WHERE vendor = 'enos'")
            return {row[0] for row in rows}

    def creates(self, *keys: str, app: Any = None) -> list[dict[str, Any]]:
        """Creates sent at once; their handlers run in one loop turn."""

        async def run() -> list[httpx.Response]:
            transport = httpx.ASGITransport(app=app or self.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://emulator") as c:
                return await asyncio.gather(
                    *(
                        c.post(devices_url("create"), json=create_body(k), headers=HEADERS)
                        for k in keys
                    )
                )

        return [r.json() for r in asyncio.run(run())]


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    own = Served(tmp_path / "emulator.db")
    try:
        yield own
    finally:
        own.emulator.dispose()


def test_creates_of_one_loop_turn_share_one_commit(served: Served) -> None:
    served.creates("warm")
    before = served.commits
    answers = served.creates("a", "b", "c")
    assert [a["code"] for a in answers] == [0, 0, 0]
    assert served.commits == before + 1
    assert {"a", "b", "c"} <= served.committed_keys()


def test_a_failing_request_keeps_the_others_rows(served: Served) -> None:
    served.creates("dup")
    before = served.commits
    answers = served.creates("a", "dup", "b")
    assert [a["code"] for a in answers] == [0, ConnectError.DEVICE_KEY_EXISTS.code, 0]
    assert served.commits == before + 1
    assert {"a", "b", "dup"} <= served.committed_keys()


def test_a_failed_commit_answers_every_request_of_the_group(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    served.creates("warm")
    failures = []

    def failing(tx: Any) -> None:
        failures.append(tx)
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(groupcommit, "commit", failing)
    answers = served.creates("a", "b")
    assert len(failures) == 1
    internal = ConnectError.EMULATOR_INTERNAL_ERROR.code
    assert [a["code"] for a in answers] == [internal, internal]
    assert served.committed_keys() == {"warm"}
    monkeypatch.undo()
    assert [a["code"] for a in served.creates("a")] == [0]
    assert "a" in served.committed_keys()


def test_no_answer_leaves_before_its_row_is_committed(served: Served) -> None:
    seen: list[tuple[str, set[str]]] = []

    async def watching(scope: Any, receive: Any, send: Any) -> None:
        async def checked(message: Any) -> None:
            if message["type"] == "http.response.body":
                key = json.loads(message["body"])["data"]["deviceKey"]
                seen.append((key, served.committed_keys()))
            await send(message)

        await served.app(scope, receive, checked)

    served.creates("warm")
    answers = served.creates("a", "b", "c", app=watching)
    assert [a["code"] for a in answers] == [0, 0, 0]
    assert sorted(key for key, _ in seen) == ["a", "b", "c"]
    for key, committed in seen:
        assert key in committed


def test_concurrent_creates_over_a_socket_are_committed_when_answered(served: Served) -> None:
    with serve_in_thread(served.app) as url:

        async def run() -> list[httpx.Response]:
            async with httpx.AsyncClient(base_url=url) as c:

                async def create(key: str) -> httpx.Response:
                    answer = await c.post(
                        devices_url("create"), json=create_body(key), headers=HEADERS
                    )
                    # At the moment the answer arrives, another connection sees the row.
                    assert key in served.committed_keys()
                    return answer

                return await asyncio.gather(*(create(f"k{i}") for i in range(8)))

        answers = asyncio.run(run())
    assert [a.json()["code"] for a in answers] == [0] * 8


def _scratch(served: Served) -> None:
    with sqlite3.connect(served.db) as conn:
        conn.execute("CREATE TABLE scratch (k TEXT)")


def _committed_scratch(served: Served) -> set[str]:
    with sqlite3.connect(served.db) as conn:
        return {row[0] for row in conn.execute("SELECT k FROM scratch")}


def _another_request_ready() -> None:
    """Something else is ready to run in this turn of the loop (as another request would
    be): a write now opens a group instead of committing alone."""
    asyncio.get_running_loop().call_soon(lambda: None)


def _write(emulator: Emulator, member: Member | None, key: str, fail: bool = False) -> None:
    token = MEMBER.set(member)
    try:
        with emulator.transaction() as conn:
            conn.exec_driver_sql(f"INSERT INTO scratch VALUES ('{key}')")
            if fail:
                raise RuntimeError("the request fails after its write")
    finally:
        MEMBER.reset(token)


def _grouped_write(emulator: Emulator, key: str) -> Member:
    """A member's write in a turn where another request is ready: it goes into a group."""
    member = Member()
    _another_request_ready()
    _write(emulator, member, key)
    return member


def _read(emulator: Emulator, member: Member | None) -> set[str]:
    token = MEMBER.set(member)
    try:
        with emulator.reading() as conn:
            return {row[0] for row in conn.exec_driver_sql("SELECT k FROM scratch")}
    finally:
        MEMBER.reset(token)


def test_an_ended_group_leaves_nothing_for_the_collector(served: Served) -> None:
    """A group and its members are freed as soon as the answers left: a cycle between them
    would keep every request's task and context alive until the collector ran."""
    served.creates("warm")
    before = served.commits
    gc.collect()
    flags = gc.get_debug()
    gc.set_debug(flags | gc.DEBUG_SAVEALL)  # what a collection finds is kept, for the test
    try:
        answers = served.creates("a", "b", "c")
        gc.collect()
        found = [o for o in gc.garbage if isinstance(o, (Member, groupcommit._Group))]
    finally:
        gc.set_debug(flags)
        gc.garbage.clear()
    assert [a["code"] for a in answers] == [0, 0, 0]
    assert served.commits == before + 1  # the three shared one group
    assert found == []


def test_reads_during_an_open_group_do_not_end_it(served: Served) -> None:
    _scratch(served)
    emulator = served.emulator

    async def run() -> None:
        one, two = Member(), Member()
        _another_request_ready()
        _write(emulator, one, "a")
        # Its own write, inside the group; anyone else: committed rows only.
        assert _read(emulator, one) == {"a"}
        assert _read(emulator, None) == set()
        assert _read(emulator, two) == set()
        _write(emulator, two, "b")
        assert _committed_scratch(served) == set()
        before = served.commits
        await one.settled()
        await two.settled()
        assert served.commits == before + 1
        assert _committed_scratch(served) == {"a", "b"}

    asyncio.run(run())


def test_a_request_alone_in_its_turn_commits_at_once(served: Served) -> None:
    _scratch(served)
    emulator = served.emulator

    async def run() -> None:
        member = Member()
        before = served.commits
        _write(emulator, member, "a")
        # Nothing else could have joined: no group, nothing to wait for.
        assert _committed_scratch(served) == {"a"}
        assert served.commits == before + 1
        assert member.waiter is None

    asyncio.run(run())


def test_a_member_failing_after_its_write_rolls_back_only_its_own(served: Served) -> None:
    _scratch(served)
    emulator = served.emulator

    async def run() -> None:
        one, two, three = Member(), Member(), Member()
        _another_request_ready()
        _write(emulator, one, "a")
        with pytest.raises(RuntimeError):
            _write(emulator, two, "b", fail=True)
        _write(emulator, three, "c")
        await one.settled()
        await two.settled()  # wrote nothing that stays: nothing to wait for
        await three.settled()
        assert _committed_scratch(served) == {"a", "c"}

    asyncio.run(run())


def _fail_outside(emulator: Emulator) -> None:
    with emulator.transaction() as conn:
        conn.exec_driver_sql("INSERT INTO scratch VALUES ('undone')")
        raise RuntimeError("the control-plane write fails")


def test_other_transactions_end_the_group_first_and_keep_their_own(served: Served) -> None:
    _scratch(served)
    emulator = served.emulator

    async def run() -> None:
        one = _grouped_write(emulator, "a")
        # A control-plane write on the loop: the group commits before it, not with it.
        with emulator.transaction() as conn:
            assert _committed_scratch(served) == {"a"}
            conn.exec_driver_sql("INSERT INTO scratch VALUES ('control')")
        await one.settled()
        two = _grouped_write(emulator, "b")
        with pytest.raises(RuntimeError):
            _fail_outside(emulator)
        await two.settled()
        assert _committed_scratch(served) == {"a", "control", "b"}

    asyncio.run(run())


def test_a_group_does_not_wait_for_a_lock_another_process_holds(served: Served) -> None:
    _scratch(served)
    emulator = served.emulator
    holder = sqlite3.connect(served.db, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")

    async def run() -> None:
        attempt = Attempt()
        token = ATTEMPT.set(attempt)
        _another_request_ready()
        try:
            with pytest.raises(sqlite3.OperationalError):
                _write(emulator, Member(), "a")
        finally:
            ATTEMPT.reset(token)
        assert attempt.busy
        assert not attempt.committed
        holder.execute("ROLLBACK")
        member = Member()
        _write(emulator, member, "b")
        await member.settled()
        assert _committed_scratch(served) == {"b"}

    try:
        asyncio.run(run())
    finally:
        holder.close()


def test_a_group_whose_connection_dies_answers_its_members(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    _scratch(served)
    emulator = served.emulator

    def dying(tx: Any) -> None:
        # The connection dies under the COMMIT (as after an I/O error): its ROLLBACK fails too.
        tx.connection.connection.dbapi_connection.close()
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(groupcommit, "commit", dying)

    async def run() -> None:
        one = _grouped_write(emulator, "a")
        # The timeout only bounds a hang: the member's waiter is what is awaited.
        with pytest.raises(sqlite3.OperationalError, match="disk I/O error"):
            await asyncio.wait_for(one.settled(), 30)
        monkeypatch.undo()
        # The next group takes a new connection.
        two = _grouped_write(emulator, "b")
        await two.settled()

    asyncio.run(run())
    assert _committed_scratch(served) == {"b"}


def test_a_commit_sqlite_refuses_leaves_no_transaction_open(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A COMMIT that fails with SQLite's transaction still open (a deferred constraint: SQLite
    keeps the transaction for the caller to roll back) must not leave the group's connection
    inside it: every later group on it would fail at its BEGIN."""
    _scratch(served)
    with sqlite3.connect(served.db) as conn:
        conn.execute("CREATE TABLE parent (id INTEGER PRIMARY KEY)")
        conn.execute("CREATE TABLE child (parent INTEGER REFERENCES parent(id))")
    emulator = served.emulator

    def refused(tx: Any) -> None:
        cursor = tx.connection.connection.cursor()
        cursor.execute("PRAGMA defer_foreign_keys=ON")
        cursor.execute("INSERT INTO child VALUES (99)")  # checked only at the COMMIT
        tx.commit()

    monkeypatch.setattr(groupcommit, "commit", refused)

    async def run() -> None:
        one = _grouped_write(emulator, "a")
        with pytest.raises(IntegrityError):
            await asyncio.wait_for(one.settled(), 30)
        monkeypatch.undo()
        two = _grouped_write(emulator, "b")
        await asyncio.wait_for(two.settled(), 30)

    asyncio.run(run())
    assert _committed_scratch(served) == {"b"}


def test_disposing_with_a_group_open_answers_its_members(served: Served) -> None:
    _scratch(served)
    emulator = served.emulator

    async def run() -> None:
        one = _grouped_write(emulator, "a")
        # Closing its connection rolled the group back: its COMMIT fails.
        emulator.dispose()
        with pytest.raises(InvalidRequestError):
            await asyncio.wait_for(one.settled(), 30)

    asyncio.run(run())
    assert _committed_scratch(served) == set()


def test_a_task_a_request_spawns_writes_on_its_own(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    _scratch(served)
    emulator = served.emulator

    def failing(tx: Any) -> None:
        raise sqlite3.OperationalError("disk I/O error")

    async def run() -> None:
        request = Member()
        token = MEMBER.set(request)

        async def spawned() -> None:
            # It inherits the request's context (its member): its write is still its own.
            _another_request_ready()
            with emulator.transaction() as conn:
                conn.exec_driver_sql("INSERT INTO scratch VALUES ('spawned')")

        task = asyncio.create_task(spawned())
        MEMBER.reset(token)
        monkeypatch.setattr(groupcommit, "commit", failing)
        await task
        assert request.waiter is None

    asyncio.run(run())
    assert _committed_scratch(served) == {"spawned"}


def test_a_cancelled_request_leaves_no_member_behind(served: Served) -> None:
    request = Request({"type": "http", "app": served.app})
    context = contextvars.copy_context()

    async def handler(_request: Request) -> Response:
        # The client went away while the handler waited.
        raise asyncio.CancelledError

    async def run() -> None:
        task = asyncio.get_running_loop().create_task(
            run_handler(handler, request, grouped=True), context=context
        )
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(run())
    assert context.run(MEMBER.get) is None
