"""The emulator's process-wide state and the per-request context services receive.

Services take a :class:`Ctx` (namespace, ids, clock, settings, database) and never import
FastAPI, so the same behaviour serves the vendor routes, the control plane and the CLI.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import QueuePool

from emulator.config import Settings
from emulator.core.checkpoint import Checkpointer
from emulator.core.clock import Clock, SharedClock
from emulator.core.db import TRANSACTION
from emulator.core.faults import FaultBook
from emulator.core.faults_sql import SqlFaultStore
from emulator.core.fixtures import Baseline
from emulator.core.groupcommit import MEMBER, GroupCommit, GroupCommits
from emulator.core.held import Held
from emulator.core.ids import Ids
from emulator.core.journal import Journal, SqlJournal
from emulator.core.journal_writer import BatchedSqlJournal
from emulator.core.lockwait import ATTEMPT, is_busy
from emulator.core.namespaces import Namespaces
from emulator.core.offload import Offload
from emulator.core.vendor import Hooks


class RunningListener(Protocol):
    """A device-protocol endpoint a vendor runs beside the HTTP API (e.g. EnOS over MQTT)."""

    name: str

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    def describe(self) -> dict[str, Any]: ...


@dataclass
class Emulator:
    """Everything one running emulator holds; stored on ``app.state.emulator``."""

    settings: Settings
    engine: Engine
    clock: Clock
    baseline: Baseline
    namespaces: Namespaces
    seed: int | None = None
    _ids: dict[str, Ids] = field(default_factory=dict)
    # Seeds set for one namespace (POST /_emulator/seed), so parallel workers stay independent.
    _seeds: dict[str, int | None] = field(default_factory=dict)
    journal: Journal = field(init=False)
    faults: FaultBook = field(default_factory=FaultBook)
    # Appended to every namespace's id seed: "" in one process; each worker of --workers N
    # draws its own ids (a shared seed would give two workers the same tickets and keys).
    id_salt: str = ""
    # The shared clock's and journal's engine (core/db.py make_side_engine); None: ``engine``.
    side_engine: Engine | None = None
    # Worker threads for the hot handlers on PostgreSQL (core/offload.py); None: on the loop.
    offload: Offload | None = None
    # On PostgreSQL, connections that do not wait for a lock (core/db.py make_eager_engine).
    eager_engine: Engine | None = None
    # Registered at app creation by the command engine and the vendors (core/vendor.py).
    hooks: Hooks = field(default_factory=Hooks)
    # Device-protocol listeners running now (the vendors' ``listeners``), by name: health
    # reports them, the vendor's routes reach them.
    listeners: dict[str, RunningListener] = field(default_factory=dict)

    # Connections kept open per thread (see held_connection): the second one does not wait
    # for a lock (core/lockwait.py).
    _held: Held = field(init=False, repr=False)
    _held_eager: Held = field(init=False, repr=False)
    # On a SQLite file in one process: the loop's vendor requests share COMMITs
    # (core/groupcommit.py).
    _groups: GroupCommits | None = field(init=False, repr=False, default=None)
    # On a SQLite file: the WAL is checkpointed off the event loop (core/checkpoint.py).
    _checkpointer: Checkpointer | None = field(init=False, repr=False, default=None)
    _ids_lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def __post_init__(self) -> None:
        # A pool checkout and return cost more than the statements of a small request; on a
        # SQLite file (a pool of local connections) each thread keeps one connection open.
        self._holds = self.engine.dialect.name == "sqlite" and isinstance(
            self.engine.pool, QueuePool
        )
        self._held = Held(self.engine)
        self._held_eager = Held(self.engine, _no_busy_wait)
        # The namespaces' writes (a reset, a state import) are a request's transactions too.
        self.namespaces.begin = self.transaction
        # The one place the stores are chosen: several processes on one database (a shared
        # clock, emulator/app.py) keep their faults and journal there too; one process in memory.
        size = self.settings.journal_size
        if isinstance(self.clock, SharedClock):
            side = self.side_engine or self.engine
            # On PostgreSQL an entry is written after its answer, in batches
            # (core/journal_writer.py); on a SQLite file a thread writing would contend for
            # the one write lock with the requests.
            store = BatchedSqlJournal if side.dialect.name == "postgresql" else SqlJournal
            self.journal = Journal(size, store=store(size, side))
            self.faults = FaultBook(SqlFaultStore(self.engine, self.clock))
        else:
            self.journal = Journal(size, self.settings.journal_bytes)
            if self._holds:
                self._groups = GroupCommits(Held(self.engine, _no_busy_wait))

    @property
    def holds_connections(self) -> bool:
        """On a SQLite file: each thread keeps its connections (:meth:`held_connection`)."""
        return self._holds

    @property
    def groups_commits(self) -> bool:
        """The vendor requests of one loop turn share one COMMIT (core/groupcommit.py)."""
        return self._groups is not None

    @property
    def shared(self) -> bool:
        """Whether the clock, faults and journal are shared with other processes."""
        return isinstance(self.clock, SharedClock)

    def start_checkpoints(self) -> None:
        """On a SQLite file, checkpoint the WAL on a thread of its own (core/checkpoint.py)
        until :meth:`stop_checkpoints`: while the app serves (its lifespan), not in a command
        that only writes (``fleet``), whose last connection closed folds the log in."""
        if self._holds and self.engine.url.database and self._checkpointer is None:
            self._checkpointer = Checkpointer(self.engine.url.database)

    def stop_checkpoints(self) -> None:
        if self._checkpointer is not None:
            self._checkpointer.close()
            self._checkpointer = None

    def dispose(self) -> None:
        """Close every database connection: the pools of both engines and the held ones."""
        self.stop_checkpoints()
        # The held connections first: an offload worker's would be dropped open with it.
        self._held.close()
        self._held_eager.close()
        if self._groups is not None:
            self._groups.close()
        if self.offload is not None:
            self.offload.close()
        if isinstance(self.journal.store, BatchedSqlJournal):
            self.journal.store.close()
        if isinstance(self.clock, SharedClock):
            self.clock.close()
        self.engine.dispose()
        if self.eager_engine is not None:
            self.eager_engine.dispose()
        if self.side_engine is not None and self.side_engine is not self.engine:
            self.side_engine.dispose()

    def ids(self, namespace: str) -> Ids:
        ids = self._ids.get(namespace)
        if ids is None:
            with self._ids_lock:  # handlers on worker threads (core/offload.py): one Ids
                return self._new_ids(namespace)
        return ids

    def _new_ids(self, namespace: str) -> Ids:
        ids = self._ids.get(namespace)
        if ids is None:
            if namespace in self._seeds:
                # Seeded on purpose: the seed alone decides, so a test gets the same ids in
                # whatever namespace (worker) it runs.
                ids = Ids(self._seeds[namespace], self.id_salt)
            else:
                ids = Ids(self.seed, namespace + self.id_salt)
            self._ids[namespace] = ids
        return ids

    def reseed(self, seed: int | None) -> None:
        """A new emulator-wide seed; every namespace's ids restart from it."""
        self.seed = seed
        self._seeds.clear()
        self._ids.clear()

    def reseed_namespace(self, namespace: str, seed: int | None) -> None:
        """A new seed for one namespace: its ids, keys and secrets restart from it."""
        self._seeds[namespace] = seed
        self._ids.pop(namespace, None)

    def restart_ids(self, namespace: str) -> None:
        """The namespace's ids start over from its seed (a reset does this, so the same
        seed and the same requests after a reset give the same ids)."""
        self._ids.pop(namespace, None)

    def forget(self, namespace: str) -> None:
        """Drop what the process holds for a deleted namespace (ids, seed, faults, journal)."""
        self._ids.pop(namespace, None)
        self._seeds.pop(namespace, None)
        self.faults.clear(namespace)
        self.journal.clear(namespace)

    def held_connection(self, waits: bool = True) -> Connection | None:
        """This thread's own open connection when it is free, else ``None`` (use the pool).

        On a SQLite file, every thread; on PostgreSQL, the offload workers (core/offload.py,
        a fixed set of threads, each serving request after request). The connection is
        taken out of the pool (core/held.py), so it counts against no pool limit, and it
        closes with its thread: an idle worker thread that ends drops it, and
        :meth:`dispose` closes them all. A block that already holds it in a transaction (a
        nested ``begin``) gets a pooled connection, as before. ``waits=False``: the thread's
        second one, which does not wait for a lock another connection holds
        (core/lockwait.py; SQLite only).
        """
        if self._holds:
            conn = (self._held if waits else self._held_eager).get()
        elif waits and self.offload is not None and self.offload.here():
            conn = self._held.get()
        else:
            return None
        return None if conn.in_transaction() else conn

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """One transaction (:meth:`Ctx.begin`); a request's first one does not wait for a
        lock (core/lockwait.py); a vendor request's on the loop joins the loop's group
        (core/groupcommit.py)."""
        attempt = ATTEMPT.get()
        groups = self._groups
        if groups is not None:
            group = groups.here()
            member = MEMBER.get()
            if member is not None and group.joinable(member):
                if group.worth_opening() and self._group_opened(group, attempt):
                    with group.member(member) as conn, _current(conn):
                        yield conn
                    return
            else:
                # Anyone else's transaction is its own: the group commits first, so it is
                # neither in it nor waiting for the lock the group holds on this thread.
                group.flush()
        if attempt is None or attempt.committed:
            held = self.held_connection()
            if held is None:
                with self.engine.begin() as conn, _current(conn):
                    yield conn
                return
            with held.begin(), _current(held):
                yield held
            return
        held = self.held_connection(waits=False)
        try:
            if held is None:
                with (self.eager_engine or self.engine).begin() as conn, _current(conn):
                    yield conn
            else:
                with held.begin(), _current(held):
                    yield held
        except OperationalError as exc:
            attempt.busy = attempt.busy or is_busy(exc)
            raise
        attempt.committed = True

    @staticmethod
    def _group_opened(group: GroupCommit, attempt: Any) -> bool:
        """The group is open, or opened now; ``False``: the lock is taken and the request may
        not run again (it committed already, or is no vendor request), so it waits in SQLite
        outside any group, as before."""
        try:
            group.open()
        except sqlite3.OperationalError as exc:
            if not is_busy(exc):
                raise
            if attempt is not None and not attempt.committed:
                attempt.busy = True
                raise
            return False
        return True

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        """A connection for reads (:meth:`Ctx.read`): on PostgreSQL a request's reads do not
        wait for a lock either (a table locked for writes is locked for reads there). A
        vendor request that wrote into the open group reads inside it (its own writes)."""
        groups = self._groups
        if groups is not None:
            group = groups.here()
            member = MEMBER.get()
            if member is not None and group.holds(member) and group.joinable(member):
                with group.reading() as conn:
                    yield conn
                return
        held = self.held_connection()
        if held is not None:
            # On PostgreSQL (an offload worker's) in autocommit: reads on the driver's cursor
            # (core/sql.py HotSql) begin no transaction SQLAlchemy knows of, so its rollback
            # would not end one, and the session stayed idle in transaction into the next
            # request (whose autocommit statement psycopg then refused). Each read is also
            # one round trip, with no BEGIN before it nor ROLLBACK after.
            alone = _autocommit(held) if held.dialect.name == "postgresql" else nullcontext()
            try:
                with alone:
                    yield held
            finally:
                held.rollback()
            return
        attempt = ATTEMPT.get()
        if attempt is None or attempt.committed or self.eager_engine is None:
            with self.engine.connect() as conn:
                yield conn
            return
        try:
            with self.eager_engine.connect() as conn:
                yield conn
        except OperationalError as exc:
            attempt.busy = attempt.busy or is_busy(exc)
            raise

    @contextmanager
    def alone(self) -> Iterator[Connection]:
        """A connection whose statements each commit on their own (:meth:`Ctx.alone`): on
        PostgreSQL in autocommit, so one statement is one round trip to the database, not
        three (BEGIN, the statement, COMMIT); elsewhere a transaction (:meth:`transaction`)."""
        if self.engine.dialect.name != "postgresql":
            with self.transaction() as conn:
                yield conn
            return
        attempt = ATTEMPT.get()
        # No request that may run again (an offload worker's, which may wait; or one that
        # committed already): the statement waits for any lock in PostgreSQL.
        if attempt is None or attempt.committed:
            held = self.held_connection()
            if held is None:
                with self.engine.connect() as conn, _autocommit(conn):
                    yield conn
                return
            with _autocommit(held):
                yield held
            return
        # A request on the loop, as in transaction(): its statement does not wait for a lock
        # another session holds (core/lockwait.py), the request waits on the loop instead.
        # Once it committed, nothing of it runs again: a busy error after is no retry.
        try:
            with (self.eager_engine or self.engine).connect() as conn, _autocommit(conn):
                yield conn
        except OperationalError as exc:
            attempt.busy = attempt.busy or is_busy(exc)
            raise
        attempt.committed = True

    def context(self, namespace: str) -> Ctx:
        self.namespaces.ensure(namespace)
        return Ctx(emulator=self, namespace=namespace)


@dataclass
class Ctx:
    """What a service needs to serve one request in one namespace."""

    emulator: Emulator
    namespace: str

    @property
    def ids(self) -> Ids:
        return self.emulator.ids(self.namespace)

    @property
    def clock(self) -> Clock:
        return self.emulator.clock

    @property
    def settings(self) -> Settings:
        return self.emulator.settings

    def now_ms(self) -> int:
        return self.emulator.clock.now_ms()

    def begin(self) -> AbstractContextManager[Connection]:
        """One transaction: committed when the block ends, rolled back if it raises.

        Never ``await`` inside the block: the connection may be the thread's held one
        (:meth:`Emulator.held_connection`), which another request of the same event loop
        would then find in the middle of this transaction.
        """
        return self.emulator.transaction()

    @property
    def on_postgresql(self) -> bool:
        return self.emulator.engine.dialect.name == "postgresql"

    def alone(self) -> AbstractContextManager[Connection]:
        """A connection on which each statement commits on its own, when it ends, as one
        round trip on PostgreSQL: for a request whose writes are one statement (atomic
        alone). A statement whose outcome the caller might still refuse belongs in
        :meth:`begin`. No ``await`` inside (see :meth:`begin`)."""
        return self.emulator.alone()

    def read(self) -> AbstractContextManager[Connection]:
        """A connection for reads only: a write may commit (on PostgreSQL, an offload
        worker's reads run in autocommit). No ``await`` inside (see :meth:`begin`)."""
        return self.emulator.reading()


def _no_busy_wait(dbapi_connection: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA busy_timeout=0")
    cursor.close()


# psycopg.pq.TransactionStatus.IDLE (psycopg is an optional dependency).
_PG_IDLE = 0


@contextmanager
def _autocommit(conn: Connection) -> Iterator[None]:
    """``conn``'s PostgreSQL connection in autocommit for the block. On the DB-API connection
    itself: SQLAlchemy's own (an execution option) costs a reset of the connection after."""
    dbapi_connection = conn.connection.dbapi_connection
    assert dbapi_connection is not None
    # psycopg refuses the switch inside a transaction: one left open (a read on the driver's
    # cursor that nothing ended) holds nothing this block needs, so it ends here.
    if dbapi_connection.info.transaction_status != _PG_IDLE:
        dbapi_connection.rollback()
    dbapi_connection.autocommit = True
    try:
        yield
    finally:
        if not dbapi_connection.closed:
            dbapi_connection.autocommit = False


@contextmanager
def _current(conn: Connection) -> Iterator[None]:
    """Names ``conn`` as the transaction of this request (core/faults.py writes into it)."""
    token = TRANSACTION.set(conn)
    try:
        yield
    finally:
        TRANSACTION.reset(token)
