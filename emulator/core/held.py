"""Connections kept open per thread, out of their engine's pool.

A pool checkout and return (SQLAlchemy's bookkeeping, the reset on return) cost more than the
statements of a small request: measured, about 60 us each on PostgreSQL, where a create
checked out three connections (its transaction, the shared clock's read, the journal's
write). A thread that serves many requests (the server's loop on a SQLite file, an offload
worker on PostgreSQL: core/offload.py) keeps one per engine instead.
"""

from __future__ import annotations

import contextlib
import threading
import weakref
from collections.abc import Callable, Iterator
from typing import Any

from sqlalchemy import Connection, Engine


def _detached(engine: Engine, prepare: Callable[[Any], None] | None = None) -> Connection:
    pooled = engine.raw_connection()
    pooled.detach()
    if prepare is not None:
        prepare(pooled.dbapi_connection)
    return Connection(engine, connection=pooled)


class _Holder:
    """A thread's connection, closed when the thread ends (or its :class:`Held` goes): a
    psycopg connection dropped open warns (ResourceWarning), and threads come and go
    (Starlette's thread pool)."""

    __slots__ = ("conn",)

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def usable(self) -> bool:
        """Neither closed nor dropped by the database (invalidated)."""
        return not (self.conn.closed or self.conn.invalidated)

    def __del__(self) -> None:
        with contextlib.suppress(Exception):  # at interpreter exit, or a dead connection
            self.conn.close()


class Held:
    """One open connection of ``engine`` per thread, taken out of the pool (detached), so it
    counts against no pool limit; ``prepare`` runs once on each new DB-API connection. A
    connection the database dropped (invalidated) is replaced at the next :meth:`get`; a
    thread that ends drops its own, and :meth:`close` closes them all."""

    def __init__(self, engine: Engine, prepare: Callable[[Any], None] | None = None) -> None:
        self._engine = engine
        self._prepare = prepare
        self._local = threading.local()
        self._all: weakref.WeakSet[Connection] = weakref.WeakSet()
        self._lock = threading.Lock()

    def get(self) -> Connection:
        holder: _Holder | None = getattr(self._local, "holder", None)
        if holder is None or not holder.usable():
            holder = self._local.holder = _Holder(_detached(self._engine, self._prepare))
            with self._lock:
                self._all.add(holder.conn)
        return holder.conn

    def __len__(self) -> int:
        """How many are open (threads that ended dropped theirs)."""
        return len(self._all)

    def close(self) -> None:
        with self._lock:
            held = list(self._all)
        for conn in held:
            conn.close()


class Kept:
    """One open connection of ``engine`` that every thread uses in turn (:meth:`using`): for
    a statement run now and then (the shared clock's read), where a connection per thread
    would hold one open for each of the server's threads (up to 40 with Starlette's pool)
    against PostgreSQL's ``max_connections``."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._holder: _Holder | None = None
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def using(self) -> Iterator[Connection]:
        with self._lock:
            holder = self._holder
            if holder is None or not holder.usable():
                holder = self._holder = _Holder(_detached(self._engine))
            yield holder.conn

    def close(self) -> None:
        with self._lock:
            if self._holder is not None:
                self._holder.conn.close()
                self._holder = None
