"""WAL checkpoints off the event loop (emulator/core/checkpoint.py).

The loop's group connections never checkpoint; a thread of the emulator's copies the log
into the database file after the commits. Creates are sent several at once, so that they
commit in a group (a lone request commits on its own connection, as before). What the file
holds is read from a copy of the database file alone, without its ``-wal``: only
checkpointed pages are in it.
"""

from __future__ import annotations

import logging
import shutil
import sqlite3
import threading
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine

from emulator.core.checkpoint import Checkpointer, loop_connection
from emulator.core.groupcommit import GroupCommits
from tests.core.served import Served


def groups_of(served: Served) -> GroupCommits:
    groups = served.emulator._groups
    assert groups is not None, "a SQLite file in one process commits in groups"
    return groups


def keys_in_database_file(db: Path, tmp_path: Path) -> set[str]:
    """The EnOS device keys in the database file alone (its log left behind)."""
    copy = tmp_path / "file-only.db"
    shutil.copyfile(db, copy)
    with sqlite3.connect(copy) as conn:
        rows = conn.execute("SELECT device_key FROM devices WHERE vendor = 'enos'")
        return {row[0] for row in rows}


def test_the_loops_connections_leave_checkpoints_to_the_thread(served: Served) -> None:
    served.creates("cp-pragma-1", "cp-pragma-2")
    conn = groups_of(served)._held.get()  # this thread ran the loop: its group's connection
    assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 0
    assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 0


def test_created_devices_reach_the_database_file(served: Served, tmp_path: Path) -> None:
    keys = {f"cp-file-{n}" for n in range(20)}
    answers = served.creates(*sorted(keys))
    assert all(a["code"] == 0 for a in answers), answers
    checkpointer = groups_of(served).checkpointer
    assert checkpointer.written >= 1
    assert checkpointer.wait_until_checkpointed(checkpointer.written, timeout=30)
    assert keys <= keys_in_database_file(served.db, tmp_path)


def test_a_reader_holds_a_checkpoint_back_until_it_ends(served: Served, tmp_path: Path) -> None:
    # A reader's snapshot from before the writes: a PASSIVE checkpoint may not copy past it.
    reader = sqlite3.connect(served.db, isolation_level=None)
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM devices").fetchone()
    keys = {f"cp-held-back-{n}" for n in range(5)}
    served.creates(*sorted(keys))
    checkpointer = groups_of(served).checkpointer
    written = checkpointer.written
    assert written >= 1
    assert not checkpointer.wait_until_checkpointed(written, timeout=1)
    # With no further write, the thread tries again until the log is copied.
    reader.execute("COMMIT")
    reader.close()
    assert checkpointer.wait_until_checkpointed(written, timeout=30)
    assert keys <= keys_in_database_file(served.db, tmp_path)


def test_dispose_stops_the_thread(tmp_path: Path) -> None:
    own = Served(tmp_path / "emulator.db")
    try:
        own.creates("cp-stop-1", "cp-stop-2")
        thread = groups_of(own).checkpointer._thread
        assert thread is not None, "the first COMMIT starts the thread"
        assert thread.is_alive()
        assert thread.name == "wal-checkpoint"
        assert thread.daemon
    finally:
        own.emulator.dispose()
    assert not thread.is_alive()
    # Closing the last connection checkpointed the rest: the file holds everything.
    assert {"cp-stop-1", "cp-stop-2"} <= keys_in_database_file(own.db, tmp_path)


class _FailsOnce(sqlite3.Connection):
    """A real connection whose first checkpoint fails, as on a full disk."""

    failures = 0
    attempts = 0

    def cursor(self, *args: Any, **kwargs: Any) -> sqlite3.Cursor:  # type: ignore[override]
        return super().cursor(_FailingCursor)


class _FailingCursor(sqlite3.Cursor):
    def execute(self, sql: str, *args: Any) -> sqlite3.Cursor:  # type: ignore[override]
        if sql.startswith("PRAGMA wal_checkpoint"):
            _FailsOnce.attempts += 1
            if _FailsOnce.failures:
                _FailsOnce.failures -= 1
                raise sqlite3.OperationalError("database or disk is full")
        return super().execute(sql, *args)


class _Warned(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []
        self.event = threading.Event()

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())
        self.event.set()


def test_a_failed_checkpoint_is_logged_and_the_next_commit_tries_again(tmp_path: Path) -> None:
    _FailsOnce.failures, _FailsOnce.attempts = 1, 0
    warned = _Warned()
    logger = logging.getLogger("emulator.core.checkpoint")
    logger.addHandler(warned)
    db = tmp_path / "fails.db"
    engine = create_engine(
        "sqlite://",
        creator=lambda: sqlite3.connect(db, factory=_FailsOnce, check_same_thread=False),
    )
    setup = sqlite3.connect(db, isolation_level=None)
    setup.execute("PRAGMA journal_mode=WAL")
    setup.execute("PRAGMA wal_autocheckpoint=0")
    setup.execute("CREATE TABLE t (n INTEGER)")
    checkpointer = Checkpointer(engine)
    try:
        setup.execute("INSERT INTO t VALUES (1)")
        checkpointer.wrote()
        assert warned.event.wait(30)
        assert warned.messages == ["WAL checkpoint failed"]
        assert checkpointer.checkpointed == 0
        # Nothing retries a failed checkpoint on its own (a full disk stays full a while);
        # the next COMMIT does.
        setup.execute("INSERT INTO t VALUES (2)")
        checkpointer.wrote()
        assert checkpointer.wait_until_checkpointed(2, timeout=30)
        assert _FailsOnce.attempts == 2
    finally:
        logger.removeHandler(warned)
        checkpointer.close()
        setup.close()
        engine.dispose()


def test_a_checkpointer_never_written_to_starts_no_thread(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'idle.db'}")
    checkpointer = Checkpointer(engine)
    checkpointer.close()
    assert checkpointer._thread is None
    engine.dispose()


def test_loop_connection_turns_off_autocheckpoint(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "x.db")
    loop_connection(conn)
    assert conn.execute("PRAGMA wal_autocheckpoint").fetchone() == (0,)
    conn.close()
