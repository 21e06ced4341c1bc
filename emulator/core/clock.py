"""The emulator clock: the one source of time for every service.

Tests freeze or advance it through the control plane, so a 90-day command cache or a
two-hour token expiry can be checked in milliseconds. Services never call ``time.time()``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from contextvars import ContextVar
from typing import Any

from sqlalchemy import Engine, case, null, select, update

from emulator.core.held import Kept
from emulator.core.registry import shared_state
from emulator.core.sql import HotSql, const, param


class Clock:
    """Real time, optionally frozen at an instant or shifted by an offset (milliseconds)."""

    def __init__(self) -> None:
        self._frozen_ms: int | None = None
        self._offset_ms = 0

    def now_ms(self) -> int:
        if self._frozen_ms is not None:
            return self._frozen_ms
        return int(time.time() * 1000) + self._offset_ms

    def now_s(self) -> int:
        return self.now_ms() // 1000

    @property
    def frozen(self) -> bool:
        return self._frozen_ms is not None

    def sync(self) -> None:
        """Read the shared clock now (:class:`SharedClock`); one process has nothing to read."""

    def one_read(self) -> AbstractContextManager[None]:
        """A block (a request) whose calls read the shared clock once between them
        (:class:`SharedClock`); one process has nothing to read."""
        return nullcontext()

    def freeze(self, at_ms: int | None = None) -> None:
        self._frozen_ms = self.now_ms() if at_ms is None else at_ms

    def advance(self, seconds: float) -> None:
        delta = int(seconds * 1000)
        if self._frozen_ms is not None:
            self._frozen_ms += delta
        else:
            self._offset_ms += delta

    def release(self) -> None:
        """Back to real time, with no offset."""
        self._frozen_ms = None
        self._offset_ms = 0


class SharedClock(Clock):
    """The clock of several processes on one database: a row of ``emulator_shared_state``.

    Read at most every :attr:`ttl` seconds (a request calls ``now_ms`` several times; one
    query each would double its cost on PostgreSQL), and at once after this process changed
    it. On PostgreSQL one thread at a time reads it: a thread that finds the copy stale while
    another is reading uses the copy rather than wait for that read (the offload workers
    finding it stale at once queued a whole round trip for it). Another process's freeze or
    advance is thus seen within ``ttl`` plus one read's round trip, as a thread waiting for
    that read saw it too; :meth:`sync` waits, and reads the row itself. The same row carries
    the version counters of the fault rules and the namespaces (see ``versions``).
    """

    def __init__(self, engine: Engine, ttl: float = 0.002) -> None:
        super().__init__()
        self._engine = engine
        self.ttl = ttl
        self._loaded_at = -1.0
        self._versions = (0, 0)
        self._lock = threading.Lock()
        # On PostgreSQL (an autocommit engine: core/db.py make_side_engine) the reads share
        # one connection kept open rather than a pool checkout each (core/held.py), and
        # threads finding the row stale at once read it once. A SQLite connection kept open
        # would keep its read snapshot.
        self._kept = Kept(engine) if engine.dialect.name == "postgresql" else None
        # Held by the thread reading the row through ``_kept``.
        self._reading = threading.Lock()

    @contextmanager
    def one_read(self) -> Iterator[None]:
        """Within the block the row is read at most once (at the first use, if older than
        :attr:`ttl`), not again each time the block outlasts ``ttl``: a create on a busy
        machine took 5 ms and read the row two or three times. A freeze or advance made
        through another process while the block runs is seen from the next block on."""
        token = _ONE_READ.set([False])
        try:
            yield
        finally:
            _ONE_READ.reset(token)

    def _refresh(self, force: bool = False) -> None:
        block = _ONE_READ.get()
        if not force and block is not None:
            if block[0]:
                return
            block[0] = True
        if not force and time.monotonic() - self._loaded_at < self.ttl:
            return
        if self._kept is None:
            now = time.monotonic()
            with self._engine.connect() as conn:
                row = _READ.first(conn, {})
            self._store(row, now)
            return
        # Another thread reading the row: use the copy, unless this is a forced read (it
        # must see what was written before it was called) or there is no copy yet.
        if not self._reading.acquire(blocking=force or self._loaded_at < 0):
            return
        try:
            now = time.monotonic()
            if not force and now - self._loaded_at < self.ttl:
                return  # another thread has just read it
            with self._kept.using() as conn:
                self._store(_READ.first(conn, {}), now)
        finally:
            self._reading.release()

    def _store(self, row: tuple[Any, ...] | None, read_at: float) -> None:
        if row is not None:
            with self._lock:
                self._frozen_ms, self._offset_ms = row[0], int(row[1])
                self._versions = (int(row[2]), int(row[3]))
                self._loaded_at = read_at

    def sync(self) -> None:
        """Read the row now (the control plane answers with what every process sees)."""
        self._refresh(force=True)

    def close(self) -> None:
        """Close the connection kept for reading."""
        if self._kept is not None:
            self._kept.close()

    def versions(self) -> tuple[int, int]:
        """(fault rules version, namespaces version), as of the last read of the row."""
        self._refresh()
        return self._versions

    def now_ms(self) -> int:
        self._refresh()
        return super().now_ms()

    @property
    def frozen(self) -> bool:
        self._refresh()
        return self._frozen_ms is not None

    def _write(self, sql: HotSql, params: dict[str, int | None]) -> None:
        with self._engine.begin() as conn:
            sql.execute(conn, params)
        self._refresh(force=True)

    def freeze(self, at_ms: int | None = None) -> None:
        if at_ms is None:
            self._refresh(force=True)
            at_ms = super().now_ms()
        self._write(_FREEZE, {"at": at_ms})

    def advance(self, seconds: float) -> None:
        self._write(_ADVANCE, {"delta": int(seconds * 1000)})

    def release(self) -> None:
        self._write(_RELEASE, {})


# Whether the block of :meth:`SharedClock.one_read` being run has used the row yet.
_ONE_READ: ContextVar[list[bool] | None] = ContextVar("emulator_clock_one_read", default=None)

_C = shared_state.c
_THE_ROW = _C.id == const(1)
_READ = HotSql(
    select(_C.frozen_ms, _C.offset_ms, _C.faults_version, _C.namespaces_version).where(_THE_ROW)
)
_FREEZE = HotSql(update(shared_state).values(frozen_ms=param("at")).where(_THE_ROW))
# One statement, so two processes advancing at once both count.
_running = _C.frozen_ms.is_(None)
_ADVANCE = HotSql(
    update(shared_state)
    .values(
        offset_ms=case((_running, _C.offset_ms + param("delta")), else_=_C.offset_ms),
        frozen_ms=case((_running, null()), else_=_C.frozen_ms + param("delta")),
    )
    .where(_THE_ROW)
)
_RELEASE = HotSql(update(shared_state).values(frozen_ms=null(), offset_ms=const(0)).where(_THE_ROW))
