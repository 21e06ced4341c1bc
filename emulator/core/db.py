"""The database engine: SQLite (file in WAL mode, or in memory) or PostgreSQL (any SQLAlchemy
URL), and the versioned schema migrations run at start-up.

Migrations: ``schema_version`` holds the version a database is at; :data:`MIGRATIONS` are the
ordered steps after the tables of the current registry are created (``create_all`` adds the
tables an older emulator did not have; a step alters what ``create_all`` cannot: column types,
new columns of existing tables). A newer emulator thus opens an older database; an older
emulator refuses a newer one rather than corrupt it. Several processes starting at once on one
PostgreSQL take an advisory lock, on one SQLite file they retry.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from sqlalchemy import BigInteger, Connection, Engine, create_engine, event, insert, select
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import StaticPool
from sqlmodel import SQLModel

from emulator.core import registry
from emulator.core.sql import HIDE_PARAMETERS
from emulator.core.vendor import vendors

logger = logging.getLogger(__name__)

# One connection per thread of the request thread pool (Starlette's default is 40 threads) is
# more than a PostgreSQL server likes per process: 10 plus 20 overflow, reused.
PG_POOL_SIZE = 10
PG_MAX_OVERFLOW = 20
# Seconds one connection attempt to PostgreSQL may take (unless the URL says connect_timeout).
# Any constant: the advisory lock that serialises the migrations of processes starting at once.
_MIGRATION_LOCK = 0x10E_E11


# The transaction of the request being served (``Ctx.begin``). On SQLite a second connection
# cannot write while it is open (one writer), so shared state written during a request (a
# device fault firing) goes through it.
TRANSACTION: ContextVar[Connection | None] = ContextVar("emulator_transaction", default=None)


class SchemaTooNewError(RuntimeError):
    """The database was migrated by a newer emulator."""


def database_url(db: str) -> str:
    """``--db`` accepts a file path, ``:memory:`` or a full SQLAlchemy URL."""
    if db == ":memory:":
        return "sqlite://"
    if "://" in db:
        return db
    return f"sqlite:///{db}"


def is_postgresql(db: str) -> bool:
    return database_url(db).startswith(("postgresql", "postgres"))


WAL_CHECKPOINT_PAGES = 4000


# How long a connection may take, and a statement may run or wait on a lock, by default
# (Settings.db_connect_timeout, Settings.db_statement_timeout): past them the request gets the
# vendor's internal error or the control plane's 503, and the process serves the next one.
CONNECT_TIMEOUT_S = 5.0
STATEMENT_TIMEOUT_S = 10.0


def make_engine(
    db: str,
    connect_timeout: float = CONNECT_TIMEOUT_S,
    statement_timeout: float = STATEMENT_TIMEOUT_S,
) -> Engine:
    url = database_url(db)
    if not url.startswith("sqlite"):
        parsed = make_url(url)
        connect_args: dict[str, Any] = {}
        if parsed.drivername.startswith("postgresql") and "connect_timeout" not in parsed.query:
            # libpq waits for an unanswered connection as long as TCP does (minutes); it
            # counts whole seconds (at least 2).
            connect_args["connect_timeout"] = max(2, math.ceil(connect_timeout))
        engine = create_engine(
            parsed,
            hide_parameters=HIDE_PARAMETERS,
            # No ping per checkout (a round trip per request); connections are recycled.
            pool_recycle=1800,
            pool_size=PG_POOL_SIZE,
            max_overflow=PG_MAX_OVERFLOW,
            # Read committed: each statement sees what other processes committed before it.
            isolation_level="READ COMMITTED",
            connect_args=connect_args,
        )
        if engine.dialect.driver == "psycopg":
            event.listen(engine, "connect", _psycopg_nul_safe_text)
        event.listen(engine, "connect", _statement_timeout(statement_timeout))
        return engine
    in_memory = url in ("sqlite://", "sqlite:///:memory:")
    engine = create_engine(
        url,
        hide_parameters=HIDE_PARAMETERS,
        # One in-memory database must be shared by every connection; a file gets a pool.
        poolclass=StaticPool if in_memory else None,
        connect_args={"check_same_thread": False},
    )

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        if not in_memory:
            # WAL: readers never block the writer, and a crash loses no committed batch.
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            # Checkpoint every 4,000 pages, not SQLite's 1,000: a page written by many
            # commits (a product's quota row, an index's inner pages) is copied and synced
            # once per checkpoint, and a log under 4,096 frames keeps a single index table
            # for readers to search. Measured: about 5% more creates a second under load.
            cursor.execute(f"PRAGMA wal_autocheckpoint={WAL_CHECKPOINT_PAGES}")
        # A lock held by another connection is waited for this long, then "database is locked".
        cursor.execute(f"PRAGMA busy_timeout={int(statement_timeout * 1000)}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    return engine


def make_side_engine(
    engine: Engine,
    connect_timeout: float = CONNECT_TIMEOUT_S,
    statement_timeout: float = STATEMENT_TIMEOUT_S,
) -> Engine:
    """The engine of the shared clock and journal reads and writes: on PostgreSQL its own small
    pool in autocommit with ``synchronous_commit`` off, so a journal entry is one round trip
    without a disk flush (the vendor transaction it records has flushed already); on SQLite
    the engine itself."""
    if engine.dialect.name != "postgresql":
        return engine
    side = create_engine(
        engine.url,
        hide_parameters=HIDE_PARAMETERS,
        connect_args={"connect_timeout": max(2, math.ceil(connect_timeout))},
        pool_recycle=1800,
        pool_size=PG_POOL_SIZE,
        max_overflow=PG_MAX_OVERFLOW,
        isolation_level="AUTOCOMMIT",
    )
    event.listen(side, "connect", _statement_timeout(statement_timeout))

    @event.listens_for(side, "connect")
    def _no_flush(dbapi_connection: Any, _record: Any) -> None:
        if engine.dialect.driver == "psycopg":
            _psycopg_nul_safe_text(dbapi_connection, _record)
        autocommit = dbapi_connection.autocommit
        dbapi_connection.autocommit = True
        cursor = dbapi_connection.cursor()
        cursor.execute("SET synchronous_commit TO OFF")
        cursor.close()
        dbapi_connection.autocommit = autocommit

    return side


# A PostgreSQL statement of a request on the server's event loop waits this long for a lock,
# then the request waits on the loop instead (core/lockwait.py): the loop stops at most this
# long per try.
EAGER_LOCK_TIMEOUT_MS = 1


def make_eager_engine(
    engine: Engine,
    connect_timeout: float = CONNECT_TIMEOUT_S,
    statement_timeout: float = STATEMENT_TIMEOUT_S,
) -> Engine:
    """On PostgreSQL, the engine of a request's first transaction on the server's event loop:
    its connections do not wait for a lock (``lock_timeout``), so a locked table does not stop
    the loop (core/lockwait.py). A small pool: the loop runs one statement at a time."""
    eager = create_engine(
        engine.url,
        hide_parameters=HIDE_PARAMETERS,
        connect_args={"connect_timeout": max(2, math.ceil(connect_timeout))},
        pool_recycle=1800,
        pool_size=2,
        max_overflow=2,
        isolation_level="READ COMMITTED",
    )
    if engine.dialect.driver == "psycopg":
        event.listen(eager, "connect", _psycopg_nul_safe_text)
    event.listen(eager, "connect", _statement_timeout(statement_timeout, EAGER_LOCK_TIMEOUT_MS))
    return eager


def _statement_timeout(seconds: float, lock_ms: int = 0) -> Callable[[Any, Any], None]:
    """A PostgreSQL connection's ``statement_timeout`` (lock waits included), and its
    ``lock_timeout`` if given, set once per connection outside any transaction (a SET inside
    one would be rolled back with it)."""
    milliseconds = max(1, int(seconds * 1000))

    def set_timeout(dbapi_connection: Any, _record: Any) -> None:
        autocommit = dbapi_connection.autocommit
        dbapi_connection.autocommit = True
        cursor = dbapi_connection.cursor()
        cursor.execute(f"SET statement_timeout = {milliseconds}")
        if lock_ms:
            cursor.execute(f"SET lock_timeout = {lock_ms}")
        cursor.close()
        dbapi_connection.autocommit = autocommit

    return set_timeout


def _psycopg_nul_safe_text(dbapi_connection: Any, _record: Any) -> None:
    """PostgreSQL text cannot hold NUL, which SQLite stores: a string with one (a hostile
    deviceKey, a fuzzed ticket) is sent with U+FFFD in its place, the same way in a lookup as
    in an insert, so the vendor answers as on SQLite rather than with a driver error."""
    from psycopg.types.string import StrDumperUnknown

    class NulSafeText(StrDumperUnknown):
        def dump(self, obj: Any) -> Any:
            return super().dump(obj.replace("\x00", "\ufffd") if "\x00" in obj else obj)

    dbapi_connection.adapters.register_dumper(str, NulSafeText)


def _widen_millisecond_columns(conn: Connection) -> None:
    """Version 2: times in milliseconds pass 2**31; PostgreSQL's INTEGER does not hold them.
    (SQLite's integers are 64-bit whatever the declared type: nothing to do there.)"""
    if conn.dialect.name != "postgresql":
        return
    inspector = sa_inspect(conn)
    for table in SQLModel.metadata.sorted_tables:
        existing = {c["name"]: c for c in inspector.get_columns(table.name)}
        for column in table.c:
            found = existing.get(column.name)
            if isinstance(column.type, BigInteger) and found is not None:
                if not isinstance(found["type"], BigInteger):
                    conn.exec_driver_sql(
                        f'ALTER TABLE "{table.name}" ALTER COLUMN "{column.name}" TYPE BIGINT'
                    )


def _shared_state_row(conn: Connection) -> None:
    """Version 3: the clock and version counters several processes share (one row)."""
    table = registry.shared_state
    if conn.execute(select(table.c.id).where(table.c.id == 1)).first() is None:
        conn.execute(
            insert(table),
            {
                "id": 1,
                "frozen_ms": None,
                "offset_ms": 0,
                "faults_version": 0,
                "namespaces_version": 0,
                "fault_counter": 0,
            },
        )


def _device_key_index(conn: Connection) -> None:
    """Version 4: an index on devices by (namespace, vendor, device_key); without it those
    lookups scanned every device of the vendor, slower with every device registered. (Since
    version 6 the unique key serves them: the model has no such index and this does nothing.)"""
    for index in registry.devices.indexes:
        if index.name == "ix_devices_key":
            index.create(conn, checkfirst=True)


def _fault_action_column(conn: Connection) -> None:
    """Version 5: a fault rule may drop a device message's reply or connection (``action``)."""
    table = registry.shared_faults
    columns = {c["name"] for c in sa_inspect(conn).get_columns(table.name)}
    if "action" not in columns:
        conn.exec_driver_sql(f'ALTER TABLE "{table.name}" ADD COLUMN action VARCHAR')


def _device_key_first(conn: Connection) -> None:
    """Version 6: the devices' unique key leads with the device key, which makes the index on
    device keys alone (version 4) redundant; an index on product keys takes its place for a
    product's devices. One index fewer for a create to write.

    PostgreSQL swaps the constraint in place. SQLite cannot drop a table's own unique
    constraint: the table is rebuilt (renamed, made anew, its rows copied with their ids).
    The new table is the model's of the day, so a database older than version 6 gets a later
    version's devices columns here, empty: the copy takes the columns both tables have, and
    a later step that adds a column to devices must allow for it being there already."""
    table = registry.devices
    inspector = sa_inspect(conn)
    keys = inspector.get_unique_constraints(table.name)
    wanted = ["namespace", "vendor", "device_key", "product_key"]
    if any(k["column_names"] == wanted for k in keys):
        return  # made so by this version's create_all
    conn.exec_driver_sql("DROP INDEX IF EXISTS ix_devices_key")
    if conn.dialect.name == "postgresql":
        for key in keys:
            conn.exec_driver_sql(f'ALTER TABLE devices DROP CONSTRAINT "{key["name"]}"')
        columns = ", ".join(wanted)
        conn.exec_driver_sql(
            f'ALTER TABLE devices ADD CONSTRAINT "{registry.DEVICE_KEY}" UNIQUE ({columns})'
        )
        for index in table.indexes:
            index.create(conn, checkfirst=True)
        return
    # SQLite: the old table's indexes go first, their names are the new table's.
    for found in inspector.get_indexes(table.name):
        name = found["name"]
        if name and not name.startswith("sqlite_autoindex"):
            conn.exec_driver_sql(f'DROP INDEX "{name}"')
    conn.exec_driver_sql("ALTER TABLE devices RENAME TO devices_before_v6")
    table.create(conn)
    _copy_devices(conn, "devices_before_v6")
    conn.exec_driver_sql("DROP TABLE devices_before_v6")


def _copy_devices(conn: Connection, source: str) -> None:
    """The rows of ``source`` into the devices table, ids kept, in the columns both have (a
    seam: the tests make it fail halfway through a migration)."""
    present = {column["name"] for column in sa_inspect(conn).get_columns(source)}
    columns = ", ".join(c.name for c in registry.devices.c if c.name in present)
    conn.exec_driver_sql(
        f"INSERT INTO devices ({columns}) SELECT {columns} FROM {source} ORDER BY id"
    )


# Ordered: (version, what it does, step). Version 1 is the schema of the first release, the
# tables ``create_all`` makes; append new steps, never edit or reorder released ones.
MIGRATIONS: list[tuple[int, str, Callable[[Connection], None]]] = [
    (1, "the first release's tables", lambda conn: None),
    (2, "millisecond times as BIGINT", _widen_millisecond_columns),
    (3, "shared clock, faults and journal", _shared_state_row),
    (4, "devices indexed by device key", _device_key_index),
    (5, "fault rules that drop a device message", _fault_action_column),
    (6, "devices keyed by device key first", _device_key_first),
]
SCHEMA_VERSION = MIGRATIONS[-1][0]


def current_version(conn: Connection) -> int:
    table = registry.schema_version
    if not sa_inspect(conn).has_table(table.name):
        return 0
    row = conn.execute(select(table.c.version).where(table.c.id == 1)).first()
    return 0 if row is None else int(row[0])


def migrate(conn: Connection) -> int:
    """Bring the database to :data:`SCHEMA_VERSION`; returns the version it was at."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_MIGRATION_LOCK})")
        # A step may rewrite a large table (version 6): not cut short by the requests' limit.
        conn.exec_driver_sql("SET LOCAL statement_timeout = 0")
    elif not conn.connection.dbapi_connection.in_transaction:  # type: ignore[union-attr]
        # pysqlite begins a transaction only before DML: the DDL of a step (a table rebuilt,
        # version 6) would commit statement by statement, and a process stopped midway would
        # leave it half done. IMMEDIATE takes the write lock too, so processes starting
        # together migrate one after the other.
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    before = current_version(conn)
    if before > SCHEMA_VERSION:
        raise SchemaTooNewError(
            f"the database is at schema version {before}; this emulator knows up to "
            f"{SCHEMA_VERSION}: upgrade the emulator or use another database"
        )
    # An empty database is created at the latest version: its steps still run (some fill
    # rows), but only an upgrade of existing tables is worth a line per step in the log.
    empty = before == 0 and not sa_inspect(conn).has_table(registry.devices.name)
    vendors()  # the vendors' own tables are defined when their packages load
    # New tables (all of them on an empty database); existing ones are left as they are.
    SQLModel.metadata.create_all(conn)
    if empty:
        logger.info("database schema: created at version %s", SCHEMA_VERSION)
    for version, what, step in MIGRATIONS:
        if version > before:
            if not empty:
                logger.info("database schema: migrating to version %s (%s)", version, what)
            step(conn)
    table = registry.schema_version
    if before == 0:
        conn.execute(insert(table), {"id": 1, "version": SCHEMA_VERSION})
    elif before < SCHEMA_VERSION:
        conn.execute(table.update().where(table.c.id == 1).values(version=SCHEMA_VERSION))
    return before


def init_db(engine: Engine) -> None:
    """Create or upgrade the schema. Processes starting together on one SQLite file race on
    ``create_all``; the loser retries once the winner has committed (on PostgreSQL an
    advisory lock orders them: an error there is final)."""
    retries = 19 if engine.dialect.name == "sqlite" else 0
    for attempt in range(retries + 1):
        try:
            with engine.begin() as conn:
                migrate(conn)
            return
        except DBAPIError:
            if attempt == retries:
                raise
            time.sleep(0.05 * (attempt + 1))
