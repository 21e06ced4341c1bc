"""The schema is created or upgraded at start-up: a newer emulator opens an older database,
an older emulator refuses a newer one."""

from __future__ import annotations

import logging
import os
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, select

from emulator.app import build_emulator
from emulator.config import Settings
from emulator.core import registry
from emulator.core.db import MIGRATIONS, SCHEMA_VERSION, current_version
from emulator.core.db_open import DatabaseOpenError
from tests.conftest import drop_schemas, postgresql_schema, postgresql_skip_reason

SCHEMA = f"emu_migration_{os.getpid()}"
SHARED_TABLES = ("schema_version", "emulator_shared_state", "emulator_faults", "emulator_journal")


def test_migrations_are_numbered_in_order_without_gaps() -> None:
    assert [version for version, _what, _step in MIGRATIONS] == list(range(1, SCHEMA_VERSION + 1))


def _older_database(path: Path) -> None:
    """A database as the release before versioned migrations left it: its tables, a device,
    and no schema_version or shared-state tables."""
    emulator = build_emulator(Settings(db=str(path), seed=1))
    emulator.dispose()
    with sqlite3.connect(path) as db:
        for table in SHARED_TABLES:
            db.execute(f"DROP TABLE {table}")
        db.execute(
            "INSERT INTO devices (namespace, vendor, product_key, device_key, name, secret,"
            " online, attrs, created_at, updated_at)"
            " VALUES ('default', 'enos', 'Vu82Agp3', 'kept', '', '', 0, '{}', 1, 1)"
        )


def test_an_older_sqlite_database_is_upgraded_and_keeps_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    _older_database(path)
    emulator = build_emulator(Settings(db=str(path), seed=1))
    try:
        with emulator.engine.connect() as conn:
            assert current_version(conn) == SCHEMA_VERSION
            assert set(SHARED_TABLES) <= set(inspect(conn).get_table_names())
            d = registry.devices
            kept = conn.execute(select(d.c.device_key).where(d.c.device_key == "kept")).all()
            assert kept == [("kept",)]
    finally:
        emulator.dispose()


def test_opening_a_database_twice_keeps_its_version(tmp_path: Path) -> None:
    for _ in range(2):
        emulator = build_emulator(Settings(db=str(tmp_path / "again.db"), seed=1))
        with emulator.engine.connect() as conn:
            assert current_version(conn) == SCHEMA_VERSION
        emulator.dispose()


def test_a_database_of_a_newer_emulator_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "newer.db"
    build_emulator(Settings(db=str(path), seed=1)).dispose()
    with sqlite3.connect(path) as db:
        db.execute("UPDATE schema_version SET version = ?", (SCHEMA_VERSION + 1,))
    with pytest.raises(DatabaseOpenError, match="schema version"):
        build_emulator(Settings(db=str(path), seed=1))


def test_an_older_postgresql_database_gets_bigint_millisecond_times() -> None:
    reason = postgresql_skip_reason()
    if reason is not None:
        pytest.skip(reason)
    url = postgresql_schema(SCHEMA)
    try:
        build_emulator(Settings(db=url, seed=1)).dispose()
        engine = create_engine(url)
        with engine.begin() as conn:
            # What the first release's create_all made on PostgreSQL: INTEGER times.
            conn.exec_driver_sql("ALTER TABLE devices ALTER COLUMN created_at TYPE INTEGER")
            conn.exec_driver_sql("UPDATE schema_version SET version = 1")
        engine.dispose()
        emulator = build_emulator(Settings(db=url, seed=1))
        with emulator.engine.connect() as conn:
            assert current_version(conn) == SCHEMA_VERSION
            columns = {c["name"]: c for c in inspect(conn).get_columns("devices")}
            assert str(columns["created_at"]["type"]) == "BIGINT"
        emulator.dispose()
    finally:
        drop_schemas(SCHEMA)


def test_a_new_database_logs_one_line_and_an_upgrade_one_per_step(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="emulator.core.db")
    build_emulator(Settings(db=str(tmp_path / "new.db"), seed=1)).dispose()
    created = [r.getMessage() for r in caplog.records]
    caplog.clear()
    _older_database(tmp_path / "old.db")
    caplog.clear()
    build_emulator(Settings(db=str(tmp_path / "old.db"), seed=1)).dispose()
    upgraded = [r.getMessage() for r in caplog.records]

    assert created == [f"database schema: created at version {SCHEMA_VERSION}"]
    assert upgraded == [
        f"database schema: migrating to version {version} ({what})"
        for version, what, _step in MIGRATIONS
    ]


def test_a_version_4_database_gains_the_fault_action_column(tmp_path: Path) -> None:
    # Version 5: a fault rule may drop a device message's reply or connection.
    path = tmp_path / "v4.db"
    build_emulator(Settings(db=str(path), seed=1)).dispose()
    with sqlite3.connect(path) as db:
        db.execute("ALTER TABLE emulator_faults DROP COLUMN action")
        db.execute("UPDATE schema_version SET version = 4")
    emulator = build_emulator(Settings(db=str(path), seed=1))
    try:
        with emulator.engine.connect() as conn:
            assert current_version(conn) == SCHEMA_VERSION
            assert "action" in {c["name"] for c in inspect(conn).get_columns("emulator_faults")}
    finally:
        emulator.dispose()
