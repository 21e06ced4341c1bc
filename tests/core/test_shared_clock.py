"""The clock several processes share (emulator/core/clock.py SharedClock): a row of the
database, read at most every ``ttl`` and once per request."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from emulator.core.clock import SharedClock
from emulator.core.db_open import open_database

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
