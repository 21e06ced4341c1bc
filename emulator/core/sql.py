"""Hot-path SQL: one statement, compiled once per dialect, run on the driver's own cursor.

A load test sends thousands of requests a second through a handful of statements. Built as
SQLAlchemy expressions they cost about 170 µs each; prebuilt Core statements about 28 µs;
on the DB-API cursor about 4 µs (measured on SQLite). Services use this for the statements of
their hot paths and Core everywhere else.

A statement is written in SQLAlchemy Core on the registry's table objects, so a column that
does not exist fails when the module loads, and compiled on first use into the text the
driver runs. Its values are :func:`param` (passed by the caller), :func:`param_list` (a list,
see :meth:`HotSql.sized`) or :func:`const` (written into the text); anything else is refused
when the statement is compiled, since no caller would pass it. Values of JSON columns are
passed as JSON text (:func:`dumps`); a query's JSON columns come back decoded from
:meth:`HotSql.one` and :meth:`HotSql.all`.
"""

from __future__ import annotations

import json
import operator
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, NamedTuple

import orjson
from sqlalchemy import JSON, BindParameter, Connection, Insert, Table, bindparam, insert, literal
from sqlalchemy.exc import DataError, DBAPIError
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.types import NullType, TypeDecorator

# A statement's values stay out of error messages (and so out of logs): they hold device
# secrets, tokens and, in the journal, requests as they came. The engines (core/db.py) and
# the hot statements' errors here both leave them out.
HIDE_PARAMETERS = True


def dumps(value: Any) -> str:
    """JSON text for a JSON column: orjson, about ten times the standard encoder's speed on
    the small objects a 500-device batch writes one per row."""
    return orjson.dumps(value).decode()


def loads(value: Any) -> Any:
    """A JSON column as read from the driver: text on SQLite, already decoded on PostgreSQL."""
    return json.loads(value) if isinstance(value, str | bytes) else value


class _AsGiven(TypeDecorator[Any]):
    """The type of a hot statement's values: they reach the driver as the caller gave them
    (SQLAlchemy never sees them), so the text carries no cast either (PostgreSQL's compiler
    writes one for a typed value, ``%(ns)s::VARCHAR``)."""

    impl = NullType
    cache_ok = True


_AS_GIVEN = _AsGiven()


def param(name: str) -> BindParameter[Any]:
    """A value the caller passes as ``params[name]``."""
    # A value (None) and required=False only so the compiler may write const()s into the text.
    return bindparam(name, None, type_=_AS_GIVEN, required=False)


def param_list(name: str) -> BindParameter[Any]:
    """A list of values, as in ``column.in_(param_list("keys"))``: see :meth:`HotSql.sized`."""
    return bindparam(name, None, type_=_AS_GIVEN, required=False, expanding=True)


def const(value: str | int | bool) -> BindParameter[Any]:
    """A constant written into the statement's text (``vendor = 'enos'``), not a value to pass."""
    return literal(value, literal_execute=True)


def insert_of(table: Table, columns: Iterable[str]) -> Insert:
    """``INSERT INTO table (columns) VALUES (...)``, each value the :func:`param` of its column's
    name. No ``RETURNING`` of the new key (PostgreSQL's default for a single row)."""
    return insert(table).inline().values({table.c[name]: param(name) for name in columns})


Values = Callable[[Mapping[str, Any]], Any]


def _values_of(order: tuple[str, ...]) -> Values:
    """What the driver takes for a statement's parameters: a tuple in ``order`` for a
    positional paramstyle, the mapping itself (as a dict) for a named one."""
    if not order:
        return dict
    if len(order) == 1:
        name = order[0]
        return lambda params: (params[name],)
    return operator.itemgetter(*order)  # a tuple, in C


class _Compiled(NamedTuple):
    """A statement as one dialect runs it: its text, what makes its parameters of a mapping,
    and the names of its positional parameters in order (empty for a named paramstyle)."""

    sql: str
    values_of: Values
    order: tuple[str, ...]


class Record(dict[str, Any]):
    """A row by column name, as ``row["name"]`` or ``row.name``."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


class HotSql:
    """A Core statement run as plain SQL on the driver's cursor (see the module's docstring)."""

    def __init__(self, statement: ClauseElement) -> None:
        self.statement = statement
        # The JSON columns a query returns, decoded by one() and all(), as the table says.
        selected = getattr(statement, "selected_columns", ())
        self.json = tuple(c.name for c in selected if isinstance(c.type, JSON))
        self._compiled: dict[str, _Compiled] = {}
        self._sizes: dict[int, HotSql] = {}

    def sized(self, name: str, size: int) -> HotSql:
        """This statement with its :func:`param_list` ``name`` holding ``size`` values, one
        statement per size; pass the values as :func:`list_params`."""
        statement = self._sizes.get(size)
        if statement is None:
            statement = self._sizes[size] = HotSql(self.statement.params({name: [None] * size}))
        return statement

    def _for(self, conn: Connection) -> _Compiled:
        dialect = conn.dialect
        compiled = self._compiled.get(dialect.name)
        if compiled is None:
            compiled = self._compiled[dialect.name] = self._compile(dialect)
        return compiled

    def _compile(self, dialect: Any) -> _Compiled:
        # render_postcompile writes the const()s into the text and a sized list as its values.
        statement = self.statement.compile(
            dialect=dialect, compile_kwargs={"render_postcompile": True}
        )
        assert isinstance(statement, SQLCompiler)
        for bind in statement.binds.values():
            if not (bind.literal_execute or isinstance(bind.type, _AsGiven)):
                raise TypeError(
                    f"{bind.key!r} (value {bind.value!r}) in a hot statement: no caller passes"
                    f" it; write param(name) for a value, const(value) for a constant"
                    f"\n{statement.string}"
                )
        # Positional paramstyles (SQLite's "?") need the parameters in order; named ones
        # (psycopg's "%(name)s") take the mapping as it is.
        order = tuple(statement.positiontup or ())
        return _Compiled(statement.string, _values_of(order), order)

    def execute(self, conn: Connection, params: Mapping[str, Any]) -> Any:
        """Run inside ``conn``'s transaction; returns the DB-API cursor."""
        return self._run(conn, params, conn.connection.cursor())

    def _run(self, conn: Connection, params: Mapping[str, Any], cursor: Any) -> Any:
        sql, values_of, _ = self._for(conn)
        values = values_of(params)
        try:
            cursor.execute(sql, values)
        except conn.dialect.loaded_dbapi.Error as exc:
            raise _translated(conn, sql, values, exc) from exc
        return cursor

    def executemany(self, conn: Connection, rows: list[Mapping[str, Any]]) -> None:
        sql, values_of, _ = self._for(conn)
        _run_many(conn, sql, [values_of(r) for r in rows])

    def executemany_rows(
        self, conn: Connection, columns: tuple[str, ...], rows: list[tuple[Any, ...]]
    ) -> None:
        """:meth:`executemany` of rows given as tuples in ``columns`` order: handed to the
        driver as they are where the statement takes its values in that order (SQLite's
        positional "?"), as mappings otherwise (psycopg's named ones)."""
        sql, _, order = self._for(conn)
        if order == columns:
            _run_many(conn, sql, rows)
        else:
            self.executemany(conn, [dict(zip(columns, row, strict=True)) for row in rows])

    def _read(self, conn: Connection, params: Mapping[str, Any]) -> Any:
        """Run a statement whose result the caller reads at once (:meth:`first`,
        :meth:`rowcount`, :meth:`one`, :meth:`all`): on PostgreSQL on a cursor its connection
        keeps for these (:func:`_kept_cursor`)."""
        if conn.dialect.name != "postgresql":
            return self.execute(conn, params)
        try:
            return self._run(conn, params, _kept_cursor(conn))
        except DataError as exc:
            if _NUL_REFUSED not in str(exc.orig):
                raise
        # A text value holding NUL, refused by the kept cursor's dumper before anything was
        # sent: run again on a cursor with the connection's own, which replaces it (core/db.py).
        return self.execute(conn, params)

    def first(self, conn: Connection, params: Mapping[str, Any]) -> tuple[Any, ...] | None:
        row: tuple[Any, ...] | None = self._read(conn, params).fetchone()
        return row

    def rowcount(self, conn: Connection, params: Mapping[str, Any]) -> int:
        count: int = self._read(conn, params).rowcount
        return count

    def one(self, conn: Connection, params: Mapping[str, Any]) -> Record | None:
        cursor = self._read(conn, params)
        row = cursor.fetchone()
        return None if row is None else self._record(cursor, row)

    def all(self, conn: Connection, params: Mapping[str, Any]) -> list[Record]:
        cursor = self._read(conn, params)
        return [self._record(cursor, row) for row in cursor.fetchall()]

    def _record(self, cursor: Any, row: tuple[Any, ...]) -> Record:
        record = Record(zip((d[0] for d in cursor.description), row, strict=True))
        for name in self.json:
            record[name] = loads(record[name])
        return record


# A psycopg cursor costs about 10 us to make (its own adapters map); a statement whose rows
# are read at once may reuse its connection's, kept in the pool's record of the connection.
# Not on SQLite, where a cursor whose SELECT was not read to its end keeps its connection's
# read snapshot until the cursor runs again.
# Its text values go through psycopg's own dumper, in C, rather than the connection's, which
# replaces a NUL (core/db.py) at about three Python calls a value (eight values a create):
# psycopg refuses a NUL before sending the statement, and the statement runs again on a
# cursor of the connection's (HotSql._read).
def _kept_cursor(conn: Connection) -> Any:
    pooled = conn.connection
    cursor = pooled.info.get(_KEPT_CURSOR)
    if cursor is None or cursor.closed:
        cursor = pooled.info[_KEPT_CURSOR] = pooled.cursor()
        if conn.dialect.driver == "psycopg":
            from psycopg.types.string import StrDumperUnknown

            cursor.adapters.register_dumper(str, StrDumperUnknown)
    return cursor


_KEPT_CURSOR = "emulator_hot_cursor"
# What psycopg says of a text value holding NUL (a DataError raised before sending).
_NUL_REFUSED = "cannot contain NUL"


def _run_many(conn: Connection, sql: str, params: list[Any]) -> None:
    """The driver's executemany inside ``conn``'s transaction, its error as SQLAlchemy's."""
    try:
        conn.connection.cursor().executemany(sql, params)
    except conn.dialect.loaded_dbapi.Error as exc:
        raise _translated(conn, sql, params, exc) from exc


def _translated(conn: Connection, sql: str, params: Any, exc: Exception) -> Exception:
    """The driver's error as SQLAlchemy's (``IntegrityError`` for a unique key, ...), so
    callers handle one exception family whichever way a statement ran.

    A connection the database dropped (a restart, ``pg_terminate_backend``) is invalidated
    here, as SQLAlchemy's own execution does: the connections kept per thread
    (core/held.py) are replaced once invalidated, and would otherwise fail every request."""
    lost = _lost(conn, exc)
    if lost:
        conn.invalidate(exc)
    return DBAPIError.instance(
        sql, params, exc, conn.dialect.loaded_dbapi.Error, hide_parameters=HIDE_PARAMETERS,
        dialect=conn.dialect, connection_invalidated=lost,
    )  # fmt: skip


def _lost(conn: Connection, exc: Any) -> bool:
    if conn.invalidated or conn.closed:
        return False
    try:
        return bool(conn.dialect.is_disconnect(exc, conn.connection.dbapi_connection, None))
    except Exception:
        return False  # the driver's own error is the one to report


def list_params(name: str, values: Sequence[Any]) -> dict[str, Any]:
    """The values of :func:`param_list` ``name``, by the names SQLAlchemy gives a list's
    values (``name_1 .. name_N``; a test runs each sized statement on both dialects)."""
    return {f"{name}_{i}": value for i, value in enumerate(values, 1)}
