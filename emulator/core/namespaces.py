"""Namespaces: fully isolated copies of the state, each starting from the baseline.

Every path is also served under ``/ns/{name}/...`` (or with an ``X-Emulator-Namespace``
header), so parallel test workers share one server by changing only their base URL.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager

from sqlalchemy import Connection, Engine, delete, select, update
from sqlalchemy.exc import IntegrityError

from emulator.core import registry
from emulator.core.clock import Clock, SharedClock
from emulator.core.fixtures import Baseline
from emulator.core.sql import HotSql, const, insert_of, param

DEFAULT = "default"
HEADER = "x-emulator-namespace"
PREFIX = "/ns/"
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")


def valid_name(name: str) -> bool:
    return bool(NAME_PATTERN.match(name))


# On the driver's cursor (core/sql.py): a test suite creates and drops a namespace per test.
_NS = registry.namespaces
_EXISTS = HotSql(select(_NS.c.name).where(_NS.c.name == param("name")))
_CREATE = HotSql(insert_of(_NS, ["name", "created_at"]))
_DELETE = HotSql(delete(_NS).where(_NS.c.name == param("name")))
_STATE = registry.shared_state
_BUMP_VERSION = HotSql(
    update(_STATE)
    .where(_STATE.c.id == const(1))
    .values(namespaces_version=_STATE.c.namespaces_version + const(1))
)


class Namespaces:
    """Creates namespaces from the baseline on first use, resets and drops them."""

    def __init__(self, engine: Engine, baseline: Baseline, clock: Clock) -> None:
        self._engine = engine
        # One transaction; the emulator gives its own (core/context.py, which a request
        # waiting for a lock runs again: core/lockwait.py).
        self.begin: Callable[[], AbstractContextManager[Connection]] = engine.begin
        self._baseline = baseline
        self._clock = clock
        self._known: set[str] = set()
        self._lock = threading.Lock()
        # Several processes on one database: a namespace another process dropped must be
        # created again here, so what this process knows is forgotten when the namespaces
        # version of the shared state row moves.
        self._shared = clock if isinstance(clock, SharedClock) else None
        self._seen_version = 0
        # On the driver's cursor: a test suite drops a namespace after every test, and a
        # statement per table built with SQLAlchemy costs more than running it.
        self._deletes = [
            (t.name, HotSql(delete(t).where(t.c.namespace == param("ns"))))
            for t in registry.namespaced_tables()
        ]

    def _check_version(self) -> None:
        if self._shared is not None:
            version = self._shared.versions()[1]
            if version != self._seen_version:
                self._known.clear()
                self._seen_version = version

    @property
    def baseline(self) -> Baseline:
        return self._baseline

    def ensure(self, name: str) -> None:
        """Create ``name`` from the baseline unless it holds state already (kept on restart)."""
        if self._shared is not None:
            self._check_version()
        if name in self._known:
            return
        with self._lock:
            with self.begin() as conn:
                if _EXISTS.first(conn, {"name": name}) is None:
                    try:
                        _CREATE.execute(conn, {"name": name, "created_at": self._clock.now_ms()})
                    except IntegrityError:
                        pass  # another process created it first: its baseline is committed
                    else:
                        self._baseline.write(conn, name)
            # Known only once committed: a request of another thread (PostgreSQL serves on
            # several) that finds the name known reads the baseline's rows at once.
            self._known.add(name)

    def reset(self, name: str) -> None:
        """Back to the baseline: drop every row of the namespace and write the baseline again."""
        self.replace(name, self._baseline, keep=())

    def replace(self, name: str, state: Baseline, keep: Iterable[str] = ("tokens",)) -> None:
        """Every row of the namespace replaced by ``state``, except the tables in ``keep``."""
        kept = set(keep)
        with self._lock:
            with self.begin() as conn:
                for table_name, statement in self._deletes:
                    if table_name not in kept:
                        statement.execute(conn, {"ns": name})
                _DELETE.execute(conn, {"name": name})
                _CREATE.execute(conn, {"name": name, "created_at": self._clock.now_ms()})
                state.write(conn, name)
            self._known.add(name)

    def drop(self, name: str) -> bool:
        with self._lock, self.begin() as conn:
            found = _EXISTS.first(conn, {"name": name}) is not None
            # No namespace row, no rows: it is created with its baseline in one transaction.
            for _, statement in self._deletes if found else ():
                statement.execute(conn, {"ns": name})
            _DELETE.execute(conn, {"name": name})
            if self._shared is not None:
                _BUMP_VERSION.execute(conn, {})
        self._known.discard(name)
        if self._shared is not None:
            self._shared.sync()
            self._check_version()
        return found

    def names(self) -> list[str]:
        with self._engine.connect() as conn:
            ns = registry.namespaces
            return [row[0] for row in conn.execute(select(ns.c.name).order_by(ns.c.name))]

    def listing(self) -> list[tuple[str, int]]:
        """(name, created_at) of every namespace holding state, by name."""
        with self._engine.connect() as conn:
            ns = registry.namespaces
            query = select(ns.c.name, ns.c.created_at).order_by(ns.c.name)
            return [(row[0], row[1]) for row in conn.execute(query)]
