"""The clock several processes share (emulator/core/clock.py SharedClock): a row of the
database, read at most every ``ttl`` and once per request, by one thread at a time."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, Engine

from emulator.core import clock
from emulator.core.clock import SharedClock
from emulator.core.db import make_side_engine
from emulator.core.db_open import open_database
from tests.conftest import scratch_schema

AT = 1_900_000_000_000


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = open_database(str(tmp_path / "clock.db"))
    yield engine
    engine.dispose()


def test_a_freeze_through_another_process_is_seen_at_the_next_read(engine: Engine) -> None:
    mine, other = SharedClock(engine, ttl=0), SharedClock(engine, ttl=0)
    assert not mine.frozen
    other.freeze(AT)
    assert mine.now_ms() == AT


def test_a_request_reads_the_row_once_however_long_it_takes(engine: Engine) -> None:
    """With a ttl of 0 every call would read the row; within one_read only the first does,
    so another process's freeze is seen from the next request on."""
    mine, other = SharedClock(engine, ttl=0), SharedClock(engine, ttl=0)
    with mine.one_read():
        assert not mine.frozen
        other.freeze(AT)
        assert not mine.frozen
        assert mine.now_ms() != AT
    with mine.one_read():
        assert mine.now_ms() == AT


def test_a_change_made_by_the_request_itself_is_seen_at_once(engine: Engine) -> None:
    mine = SharedClock(engine, ttl=0)
    with mine.one_read():
        mine.now_ms()
        mine.freeze(AT)
        assert mine.now_ms() == AT
        mine.advance(1)
        assert mine.now_ms() == AT + 1000


# On PostgreSQL the reads share one kept connection (core/held.py Kept). A thread that finds
# the copy stale while another thread reads the row uses the copy rather than queue for that
# read's round trip; a forced read (``sync``, the control plane's) still waits, then reads
# the row itself. A read is held up by the test (its row in hand, before it returns); each
# step waits for an event, never for a guessed time.

# How long a call the test expects to return at once may take before the test fails: one
# that waits for the held-up read waits until the test ends the hold.
QUICK_S = 10.0
# How long the test waits for an event before it fails.
EVENT_S = 30.0


class HeldRead:
    """The clock's read of the row, of which the first call within ``with`` takes its row
    and then waits for :attr:`go` (set at the latest when the block ends) before returning
    it."""

    def __init__(self, read: Any) -> None:
        self._read = read
        self._armed = False
        self.reading = threading.Event()
        self.go = threading.Event()

    def __enter__(self) -> HeldRead:
        self._armed = True
        return self

    def __exit__(self, *_: object) -> None:
        self.go.set()

    def first(self, conn: Connection, params: dict[str, Any]) -> Any:
        row = self._read.first(conn, params)
        if self._armed:
            self._armed = False
            self.reading.set()
            assert self.go.wait(EVENT_S), "the test never let the read return"
        return row


@pytest.fixture
def postgresql() -> Iterator[Engine]:
    """The clock's engine (autocommit, as the app's: core/db.py make_side_engine) on a
    scratch schema."""
    with scratch_schema("emu_shared_clock") as url:
        main = open_database(url)
        side = make_side_engine(main)
        yield side
        side.dispose()
        main.dispose()


@pytest.fixture
def held(monkeypatch: pytest.MonkeyPatch) -> HeldRead:
    """The clock's read replaced by a :class:`HeldRead` of it."""
    read = HeldRead(clock._READ)
    monkeypatch.setattr(clock, "_READ", read)
    return read


def test_a_thread_uses_the_copy_while_another_reads_the_row(
    postgresql: Engine, held: HeldRead
) -> None:
    mine, other = SharedClock(postgresql, ttl=0), SharedClock(postgresql, ttl=0)
    try:
        assert not mine.frozen  # the copy: running
        other.freeze(AT)
        with ThreadPoolExecutor(2) as pool, held:
            reading = pool.submit(mine.now_ms)
            assert held.reading.wait(EVENT_S)
            # The copy is stale (ttl 0), and another thread is reading the row.
            assert pool.submit(mine.now_ms).result(QUICK_S) != AT
            assert pool.submit(lambda: mine.frozen).result(QUICK_S) is False
            assert not reading.done()
            held.go.set()
            assert reading.result(EVENT_S) == AT
        assert mine.now_ms() == AT
    finally:
        mine.close()
        other.close()


def test_sync_waits_for_a_read_of_its_own_while_another_thread_reads(
    postgresql: Engine, held: HeldRead
) -> None:
    """The read under way took the row before the freeze; the sync, called after the freeze,
    must not answer with that read's row."""
    # A long ttl: after the sync, now_ms answers from the copy the sync read.
    mine, other = SharedClock(postgresql, ttl=3600), SharedClock(postgresql, ttl=0)
    calling = threading.Event()

    def sync_then_now() -> int:
        calling.set()
        mine.sync()
        return mine.now_ms()

    try:
        assert not mine.frozen
        with ThreadPoolExecutor(2) as pool, held:
            reading = pool.submit(mine.sync)
            assert held.reading.wait(EVENT_S)
            other.freeze(AT)
            syncing = pool.submit(sync_then_now)
            assert calling.wait(EVENT_S)
            held.go.set()
            reading.result(EVENT_S)
            assert syncing.result(EVENT_S) == AT
    finally:
        mine.close()
        other.close()


def test_a_clock_that_never_read_the_row_waits_for_the_read(
    postgresql: Engine, held: HeldRead
) -> None:
    """With no copy yet there is nothing to use instead (real time would be wrong)."""
    other = SharedClock(postgresql, ttl=0)
    other.freeze(AT)
    mine = SharedClock(postgresql, ttl=0)
    calling = threading.Event()

    def now() -> int:
        calling.set()
        return mine.now_ms()

    try:
        with ThreadPoolExecutor(2) as pool, held:
            reading = pool.submit(mine.now_ms)
            assert held.reading.wait(EVENT_S)
            first = pool.submit(now)
            assert calling.wait(EVENT_S)
            held.go.set()
            assert reading.result(EVENT_S) == AT
            assert first.result(EVENT_S) == AT
    finally:
        mine.close()
        other.close()
