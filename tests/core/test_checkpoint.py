"""WAL checkpoints off the event loop (emulator/core/checkpoint.py): on a SQLite file the log
is copied into the database file by a thread of its own, not by the COMMIT of a request.

The checkpoints run while the app serves (its lifespan). The database file is read alone
(copied without its ``-wal``): what it holds is what was checkpointed. The tests wait for the
checkpointer's own report, never for a time.
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import httpx

from emulator.app import create_app
from emulator.config import Settings
from emulator.core.checkpoint import Checkpointer
from emulator.core.context import Emulator
from emulator.testing import serve_in_thread
from tests.control.helpers import create_body
from tests.vendors.enos.helpers import HEADERS, devices_url

WAIT_S = 30


def _file_alone(db: Path, copy: Path) -> set[str]:
    """The EnOS device keys the database file holds without its log."""
    shutil.copyfile(db, copy)
    with sqlite3.connect(copy) as conn:
        try:
            return {row[0] for row in conn.execute("SELECT device_key FROM devices")}
        except sqlite3.DatabaseError:  # not even the table reached it, or copied mid-write
            return set()


def _wait_for_the_file_to_hold(
    checkpointer: Checkpointer, db: Path, copy: Path, keys: set[str]
) -> tuple[int, int, int]:
    """Looks at the file alone after each checkpoint until it holds ``keys``; the last
    checkpoint's (busy, log pages, pages copied)."""
    with checkpointer.done:
        assert checkpointer.done.wait_for(lambda: keys <= _file_alone(db, copy), timeout=WAIT_S), (
            checkpointer.last
        )
        assert checkpointer.last is not None
        return checkpointer.last


def test_created_devices_reach_the_database_file_without_a_commit_checkpointing(
    tmp_path: Path,
) -> None:
    db = tmp_path / "e.db"
    app = create_app(Settings(db=str(db), seed=1, mqtt=False))
    emulator: Emulator = app.state.emulator
    # A COMMIT would checkpoint only past this many log pages; a few creates write far fewer.
    with emulator.engine.connect() as conn:
        (threshold,) = conn.exec_driver_sql("PRAGMA wal_autocheckpoint").one()
    assert threshold >= 1000
    try:
        with serve_in_thread(app, lifespan=True) as url, httpx.Client(base_url=url) as client:
            for key in ("ck-one", "ck-two"):
                answer = client.post(devices_url("create"), headers=HEADERS, json=create_body(key))
                assert answer.json()["code"] == 0, answer.text
            checkpointer = emulator._checkpointer
            assert checkpointer is not None
            keys = {"ck-one", "ck-two"}
            _busy, log, copied = _wait_for_the_file_to_hold(
                checkpointer, db, tmp_path / "a.db", keys
            )
            assert 0 < copied <= log < threshold
    finally:
        emulator.dispose()


def test_the_checkpoints_run_while_the_app_serves_and_stop_with_it(tmp_path: Path) -> None:
    app = create_app(Settings(db=str(tmp_path / "e.db"), seed=1, mqtt=False))
    emulator: Emulator = app.state.emulator
    try:
        assert emulator._checkpointer is None  # built, not serving: a command that writes
        with serve_in_thread(app, lifespan=True):
            checkpointer = emulator._checkpointer
            assert checkpointer is not None
            thread = checkpointer._thread
            assert thread.is_alive()
        assert emulator._checkpointer is None
        assert not thread.is_alive()
    finally:
        emulator.dispose()


def test_dispose_stops_the_checkpoints(tmp_path: Path) -> None:
    app = create_app(Settings(db=str(tmp_path / "e.db"), seed=1, mqtt=False))
    emulator: Emulator = app.state.emulator
    emulator.start_checkpoints()
    checkpointer = emulator._checkpointer
    assert checkpointer is not None
    emulator.dispose()
    assert not checkpointer._thread.is_alive()


def test_an_in_memory_database_has_no_checkpointer() -> None:
    app = create_app(Settings(db=":memory:", seed=1))
    emulator: Emulator = app.state.emulator
    try:
        emulator.start_checkpoints()
        assert emulator._checkpointer is None
    finally:
        emulator.dispose()
