"""The schema is created or upgraded at start-up: a newer emulator opens an older database,
an older emulator refuses a newer one."""

from __future__ import annotations

import logging
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import Connection, create_engine, insert, inspect, select
from sqlalchemy.exc import IntegrityError

from emulator.app import build_emulator
from emulator.config import Settings
from emulator.core import db, registry
from emulator.core.db import MIGRATIONS, SCHEMA_VERSION, current_version
from emulator.core.db_open import DatabaseOpenError
from tests.conftest import (
    drop_schemas,
    opened_database,
    postgresql_schema,
    postgresql_skip_reason,
)

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
    with opened_database(str(path)) as conn:
        assert current_version(conn) == SCHEMA_VERSION
        assert set(SHARED_TABLES) <= set(inspect(conn).get_table_names())
        d = registry.devices
        kept = conn.execute(select(d.c.device_key).where(d.c.device_key == "kept")).all()
        assert kept == [("kept",)]


def test_opening_a_database_twice_keeps_its_version(tmp_path: Path) -> None:
    for _ in range(2):
        with opened_database(str(tmp_path / "again.db")) as conn:
            assert current_version(conn) == SCHEMA_VERSION


def test_a_database_of_a_newer_emulator_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "newer.db"
    build_emulator(Settings(db=str(path), seed=1)).dispose()
    with sqlite3.connect(path) as db:
        db.execute("UPDATE schema_version SET version = ?", (SCHEMA_VERSION + 1,))
    with pytest.raises(DatabaseOpenError, match="schema version"):
        build_emulator(Settings(db=str(path), seed=1))


@contextmanager
def _older_postgresql(*statements: str) -> Iterator[str]:
    """A PostgreSQL schema made by this emulator, then taken back to an older version by
    ``statements`` (run in one transaction); its URL. Skips without PostgreSQL."""
    reason = postgresql_skip_reason()
    if reason is not None:
        pytest.skip(reason)
    url = postgresql_schema(SCHEMA)
    try:
        build_emulator(Settings(db=url, seed=1)).dispose()
        engine = create_engine(url)
        with engine.begin() as conn:
            for statement in statements:
                conn.exec_driver_sql(statement)
        engine.dispose()
        yield url
    finally:
        drop_schemas(SCHEMA)


def test_an_older_postgresql_database_gets_bigint_millisecond_times() -> None:
    # What the first release's create_all made on PostgreSQL: INTEGER times.
    with _older_postgresql(
        "ALTER TABLE devices ALTER COLUMN created_at TYPE INTEGER",
        "UPDATE schema_version SET version = 1",
    ) as url:
        with opened_database(url) as conn:
            assert current_version(conn) == SCHEMA_VERSION
            columns = {c["name"]: c for c in inspect(conn).get_columns("devices")}
            assert str(columns["created_at"]["type"]) == "BIGINT"


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
    with opened_database(str(path)) as conn:
        assert current_version(conn) == SCHEMA_VERSION
        assert "action" in {c["name"] for c in inspect(conn).get_columns("emulator_faults")}


def _unique_keys(conn: Connection) -> list[list[str]]:
    return [k["column_names"] for k in inspect(conn).get_unique_constraints("devices")]


def _index_names(conn: Connection) -> set[str]:
    # Not the index behind the unique key (PostgreSQL lists it, SQLite does not).
    return {str(i["name"]) for i in inspect(conn).get_indexes("devices") if not i["unique"]}


NEW_KEY = ["namespace", "vendor", "device_key", "product_key"]
OLD_KEY = ["namespace", "vendor", "product_key", "device_key"]
VERSION_5_INDEXES = {"ix_devices_asset", "ix_devices_key"}
VERSION_6_INDEXES = {"ix_devices_asset", "ix_devices_product"}


def _version_5_sqlite(path: Path) -> None:
    """A database as version 5 left it: the unique key product key first, an index on device
    keys alone, and two devices whose ids are not 1 and 2."""
    build_emulator(Settings(db=str(path), seed=1)).dispose()
    with sqlite3.connect(path) as db:
        (ddl,) = db.execute("SELECT sql FROM sqlite_master WHERE name = 'devices'").fetchone()
        new = "CONSTRAINT uq_devices_key UNIQUE (namespace, vendor, device_key, product_key)"
        assert new in ddl
        db.execute("DROP INDEX ix_devices_product")
        db.execute("DROP INDEX ix_devices_asset")
        db.execute("ALTER TABLE devices RENAME TO gone")
        db.execute(ddl.replace(new, "UNIQUE (namespace, vendor, product_key, device_key)"))
        db.execute("DROP TABLE gone")
        db.execute("CREATE INDEX ix_devices_asset ON devices (namespace, vendor, asset_id)")
        db.execute("CREATE INDEX ix_devices_key ON devices (namespace, vendor, device_key)")
        for id_, key in ((7, "kept"), (9, "also")):
            db.execute(
                "INSERT INTO devices (id, namespace, vendor, product_key, device_key, name,"
                " secret, online, attrs, created_at, updated_at)"
                f" VALUES ({id_}, 'default', 'enos', 'Vu82Agp3', '{key}', '', 's', 0, '{{}}',"
                " 1, 1)"
            )
        db.execute("UPDATE schema_version SET version = 5")


def test_a_version_5_sqlite_database_is_rebuilt_device_key_first(tmp_path: Path) -> None:
    path = tmp_path / "v5.db"
    _version_5_sqlite(path)
    with create_engine(f"sqlite:///{path}").connect() as conn:
        assert (_unique_keys(conn), _index_names(conn)) == ([OLD_KEY], VERSION_5_INDEXES)

    emulator = build_emulator(Settings(db=str(path), seed=1))
    try:
        with emulator.engine.connect() as conn:
            assert current_version(conn) == SCHEMA_VERSION
            assert (_unique_keys(conn), _index_names(conn)) == ([NEW_KEY], VERSION_6_INDEXES)
            d = registry.devices
            rows = conn.execute(select(d.c.id, d.c.device_key, d.c.secret).order_by(d.c.id))
            assert rows.all() == [(7, "kept", "s"), (9, "also", "s")]
        with emulator.engine.begin() as conn, pytest.raises(IntegrityError):
            conn.execute(
                insert(registry.devices),
                {
                    "namespace": "default",
                    "vendor": "enos",
                    "product_key": "Vu82Agp3",
                    "device_key": "kept",
                },
            )
        with emulator.engine.begin() as conn:
            conn.execute(
                insert(registry.devices),
                {
                    "namespace": "default",
                    "vendor": "enos",
                    "product_key": "Vu82Agp3",
                    "device_key": "new",
                },
            )
            (new_id,) = conn.execute(select(d.c.id).where(d.c.device_key == "new")).one()
            assert new_id == 10  # ids go on after the copied rows
    finally:
        emulator.dispose()


def test_the_rebuild_copies_a_table_that_lacks_a_later_versions_column(tmp_path: Path) -> None:
    # The rebuilt table is the model's of the day: a column a later version adds to devices
    # is not in a version-5 table (dropped here to stand for one), and the rows still copy,
    # that column empty.
    path = tmp_path / "v5.db"
    _version_5_sqlite(path)
    with sqlite3.connect(path) as raw:
        raw.execute("ALTER TABLE devices DROP COLUMN last_offline_at")
        raw.execute("UPDATE devices SET last_online_at = 5")
    with opened_database(str(path)) as conn:
        d = registry.devices
        rows = conn.execute(
            select(d.c.id, d.c.last_online_at, d.c.last_offline_at).order_by(d.c.id)
        )
        assert rows.all() == [(7, 5, None), (9, 5, None)]


def test_a_rebuild_stopped_halfway_leaves_the_version_5_database_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The rebuild's DDL and its copy are one transaction: a process stopped during the copy
    # (here, an error) leaves the old table, its rows and its version, and the next start
    # migrates it whole.
    path = tmp_path / "v5.db"
    _version_5_sqlite(path)

    def stopped(_conn: Connection, _source: str) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(db, "_copy_devices", stopped)
    with pytest.raises(KeyboardInterrupt):
        build_emulator(Settings(db=str(path), seed=1))
    monkeypatch.undo()
    with sqlite3.connect(path) as raw:
        assert raw.execute("SELECT version FROM schema_version").fetchall() == [(5,)]
        tables = {row[0] for row in raw.execute("SELECT name FROM sqlite_master")}
        assert "devices_before_v6" not in tables
        assert raw.execute("SELECT id FROM devices ORDER BY id").fetchall() == [(7,), (9,)]
    with opened_database(str(path)) as conn:
        assert current_version(conn) == SCHEMA_VERSION
        assert _unique_keys(conn) == [NEW_KEY]
        d = registry.devices
        assert conn.execute(select(d.c.id).order_by(d.c.id)).all() == [(7,), (9,)]


def test_lookups_by_device_key_or_product_use_an_index(tmp_path: Path) -> None:
    # The unique key leads with the device key so that it serves lookups by device key alone;
    # without that (or an index of its own) they would scan every device.
    with opened_database(str(tmp_path / "plan.db")) as conn:
        for where in ("device_key = 'k'", "product_key = 'p' ORDER BY id"):
            plan = conn.exec_driver_sql(
                "EXPLAIN QUERY PLAN SELECT * FROM devices"
                f" WHERE namespace = 'default' AND vendor = 'enos' AND {where}"
            ).all()
            details = " ".join(str(row[-1]) for row in plan)
            assert "USING INDEX" in details, details
            assert "TEMP B-TREE" not in details, details


def test_a_version_5_postgresql_database_swaps_its_device_key() -> None:
    with _older_postgresql(
        "ALTER TABLE devices DROP CONSTRAINT uq_devices_key",
        "ALTER TABLE devices ADD UNIQUE (namespace, vendor, product_key, device_key)",
        "DROP INDEX ix_devices_product",
        "CREATE INDEX ix_devices_key ON devices (namespace, vendor, device_key)",
        "UPDATE schema_version SET version = 5",
    ) as url:
        engine = create_engine(url)
        with engine.connect() as conn:
            assert (_unique_keys(conn), _index_names(conn)) == ([OLD_KEY], VERSION_5_INDEXES)
        engine.dispose()
        with opened_database(url) as conn:
            assert current_version(conn) == SCHEMA_VERSION
            assert (_unique_keys(conn), _index_names(conn)) == (
                [NEW_KEY],
                VERSION_6_INDEXES,
            )
