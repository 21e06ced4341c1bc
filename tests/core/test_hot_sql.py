"""The hot path's statements (core/sql.py) are built from the registry's table objects and
compiled to the driver's own SQL: each names only columns its tables have, and each runs
on this suite's database (SQLite, or PostgreSQL with ``EMULATOR_TEST_DATABASE_URL``)."""

from __future__ import annotations

import importlib
import os
import pkgutil
import re
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import (
    BindParameter,
    Column,
    Connection,
    MetaData,
    String,
    Table,
    literal_column,
    select,
    text,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql import visitors
from sqlalchemy.sql.elements import TextClause
from sqlalchemy.sql.selectable import CTE, Alias, TableValuedAlias
from sqlmodel import SQLModel

import emulator
from emulator.core import registry
from emulator.core.sql import HotSql, const, insert_of, list_params, param, param_list
from tests.conftest import DATABASE_URL, drop_schemas, opened_database, postgresql_schema

# Statements of one database only: run where their dialect is the suite's.
ONLY_ON = {
    "emulator.core.commands._SEQ_LOCK": "postgresql",
    "emulator.vendors.enos.connect.service._CREATE": "postgresql",
    "emulator.vendors.enos.connect.service._CREATE_ALONE": "postgresql",
    "emulator.core.journal_writer._INSERT": "postgresql",
}


def _hot_statements() -> dict[str, HotSql]:
    """Every module-level hot statement of the emulator's modules, by ``module.name``."""
    found: dict[int, tuple[str, HotSql]] = {}
    for info in pkgutil.walk_packages(emulator.__path__, "emulator."):
        if info.name.endswith("__main__"):
            continue
        module = importlib.import_module(info.name)
        for name, value in vars(module).items():
            if isinstance(value, HotSql):  # once, by the module that defines it
                found.setdefault(id(value), (f"{info.name}.{name}", value))
    return dict(found.values())


HOT = _hot_statements()


def _sized(statement: HotSql) -> HotSql:
    """A statement with a list parameter, sized to two values."""
    lists = [
        b.key for b in visitors.iterate(statement.statement)
        if isinstance(b, BindParameter) and b.expanding
    ]  # fmt: skip
    return statement.sized(lists[0], 2) if lists else statement


def test_the_hot_statements_are_found() -> None:
    # The services' create paths and the shared state's statements, at least.
    assert "emulator.vendors.enos.connect.service._INSERT_DEVICE" in HOT
    assert "emulator.core.faults_sql._FIRE" in HOT
    assert len(HOT) >= 40


def _columns_outside_the_tables(statement: HotSql) -> list[str]:
    """What a statement names that is not a column of a table on the registry's metadata."""
    tables = set(SQLModel.metadata.tables.values())
    wrong = []
    for element in visitors.iterate(statement.statement):
        if isinstance(element, TextClause):
            wrong.append(f"text {element.text!r}")
        elif isinstance(element, Column):
            table: Any = element.table
            if isinstance(table, CTE):  # its columns stand for those its statement returns
                if not any(c.table in tables for c in element.proxy_set if c is not element):
                    wrong.append(f"column {element.name!r} of a CTE returning no table's")
                continue
            if isinstance(table, Alias):  # its columns stand for the aliased table's
                table = table.element
            if not (isinstance(table, Table) and table in tables):
                wrong.append(f"column {element.name!r} of no registered table")
            elif table.c.get(element.key) not in element.proxy_set:
                wrong.append(f"column {element.name!r}, not one of {table.name}'s")
        elif isinstance(getattr(element, "table", None), TableValuedAlias):
            continue  # a column of a function's rows (json_array_elements): of no table
        elif type(element).__name__ == "ColumnClause":  # literal_column(), column()
            name = element.name  # type: ignore[attr-defined]
            if name != "*":  # the ``*`` of ``func.count()`` names no column
                wrong.append(f"column {name!r} written by hand")
    return wrong


@pytest.mark.parametrize("name", sorted(HOT))
def test_a_hot_statement_names_only_columns_of_its_tables(name: str) -> None:
    assert _columns_outside_the_tables(HOT[name]) == []


def test_a_column_written_by_hand_is_found() -> None:
    d = registry.devices
    by_hand = HotSql(select(d.c.device_key).where(literal_column("device_kee") == param("dk")))
    assert _columns_outside_the_tables(by_hand) == ["column 'device_kee' written by hand"]
    assert _columns_outside_the_tables(HotSql(select(text("device_kee")))) == ["text 'device_kee'"]
    # A table of the same name declared beside the registry's.
    stray = Table("devices", MetaData(), Column("device_kee", String))
    assert _columns_outside_the_tables(HotSql(select(stray.c.device_kee))) == [
        "column 'device_kee' of no registered table"
    ]


def test_a_misspelled_column_fails_when_the_statement_is_built() -> None:
    with pytest.raises(AttributeError):
        registry.devices.c.device_kee  # noqa: B018
    with pytest.raises(KeyError):
        insert_of(registry.devices, ("namespace", "device_kee"))


@pytest.fixture(scope="module")
def conn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Connection]:
    """A connection to a database with the emulator's schema, as its start-up makes it."""
    schema = f"emu_hot_sql_{os.getpid()}"
    db = postgresql_schema(schema) if DATABASE_URL else str(tmp_path_factory.mktemp("hot") / "db")
    try:
        with opened_database(db) as connection:
            yield connection
    finally:
        drop_schemas(schema)


class _Nothing(dict[str, Any]):
    """Every parameter None (EXPLAIN plans a statement without running it)."""

    def __missing__(self, key: str) -> None:
        return None


@pytest.mark.parametrize("name", sorted(HOT))
def test_a_hot_statement_runs_on_the_database(conn: Connection, name: str) -> None:
    """EXPLAIN makes the database resolve every table and column the text names."""
    if ONLY_ON.get(name, conn.dialect.name) != conn.dialect.name:
        pytest.skip(f"a statement of {ONLY_ON[name]} only")
    statement = _sized(HOT[name])
    sql, values_of, _ = statement._for(conn)  # the text and values the hot path runs
    params = _Nothing(dict.fromkeys(re.findall(r"%\((\w+)\)s", sql)))
    with conn.begin():
        cursor = conn.connection.cursor()
        cursor.execute(f"EXPLAIN {sql}", values_of(params))
        assert cursor.fetchall()
        conn.rollback()


def test_a_list_runs_with_each_size_on_the_database(conn: Connection) -> None:
    d = registry.devices
    keys = HotSql(select(d.c.device_key).where(d.c.device_key.in_(param_list("keys"))))
    with conn.begin():
        for size in (0, 1, 3):
            values = [f"k{i}" for i in range(size)]
            assert keys.sized("keys", size).all(conn, list_params("keys", values)) == []
        conn.rollback()


def test_rows_given_as_tuples_are_written_in_either_column_order(conn: Connection) -> None:
    """``executemany_rows``: tuples in the statement's own order go to the driver as they
    are (SQLite), in another order (or on PostgreSQL's named parameters) by column name."""
    d = registry.devices
    columns = ("namespace", "vendor", "product_key", "device_key", "name", "secret", "online",
               "attrs", "created_at", "updated_at")  # fmt: skip
    written = HotSql(insert_of(d, columns))
    read = HotSql(
        select(d.c.device_key, d.c.name, d.c.created_at)
        .where(d.c.namespace == param("ns"))
        .order_by(d.c.device_key)
    )
    # SQLite takes the tuples as they are: its "?" come in the insert's column order.
    assert written._for(conn).order == (columns if conn.dialect.name == "sqlite" else ())
    first = ("ns-rows", "v", "P", "a", "one", "s", False, "{}", 1, 1)
    with conn.begin():
        written.executemany_rows(conn, columns, [first])
        reordered = tuple(reversed(columns))
        second = ("ns-rows", "v", "P", "b", "two", "s", False, "{}", 2, 2)
        written.executemany_rows(conn, reordered, [tuple(reversed(second))])
        assert [tuple(r.values()) for r in read.all(conn, {"ns": "ns-rows"})] == [
            ("a", "one", 1),
            ("b", "two", 2),
        ]
        with pytest.raises(IntegrityError):  # the driver's error, as SQLAlchemy's
            written.executemany_rows(conn, columns, [first])
        conn.rollback()


def test_a_value_neither_passed_nor_constant_is_refused(conn: Connection) -> None:
    """``id = 1`` would be a parameter no caller passes: const(1) writes it in the text."""
    s = registry.shared_state
    refused = HotSql(update(s).values(frozen_ms=param("at")).where(s.c.id == 1))
    with pytest.raises(TypeError, match="const"):
        refused.execute(conn, {"at": None})
    accepted = HotSql(update(s).values(frozen_ms=param("at")).where(s.c.id == const(1)))
    assert "id = 1" in accepted._for(conn)[0]


def test_no_cast_is_written_for_a_value(conn: Connection) -> None:
    """Values reach the driver as given: PostgreSQL's compiler would write ``::VARCHAR``."""
    sql = HOT["emulator.vendors.enos.connect.service._INSERT_DEVICE"]._for(conn)[0]
    assert "::" not in sql


def test_a_result_read_at_once_reuses_the_connections_cursor_on_postgresql(
    conn: Connection,
) -> None:
    """first/rowcount/one/all read their rows at once: on PostgreSQL they share a cursor the
    connection keeps (making one costs about 10 us); a cursor ``execute`` hands out stays
    the caller's, its rows intact whatever runs after it."""
    if conn.dialect.name != "postgresql":
        pytest.skip("SQLite makes a cursor per statement (a kept one would hold a snapshot)")
    s = registry.shared_state
    version = HotSql(select(s.c.namespaces_version).where(s.c.id == const(1)))
    with conn.begin():
        handed_out = version.execute(conn, {})
        row = version.first(conn, {})
        kept = conn.connection.info["emulator_hot_cursor"]
        assert version.one(conn, {}) is not None
        assert conn.connection.info["emulator_hot_cursor"] is kept
        assert handed_out is not kept
        assert handed_out.fetchall() == [row]
        conn.rollback()
