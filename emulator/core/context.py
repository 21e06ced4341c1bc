"""The emulator's process-wide state and the per-request context services receive.

Services take a :class:`Ctx` (namespace, ids, clock, settings, database) and never import
FastAPI, so the same behaviour serves the vendor routes, the control plane and the CLI.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from sqlalchemy import Connection, Engine

from emulator.config import Settings
from emulator.core.clock import Clock, SharedClock
from emulator.core.db import TRANSACTION
from emulator.core.faults import FaultBook, SharedFaultBook
from emulator.core.fixtures import Baseline
from emulator.core.ids import Ids
from emulator.core.journal import Journal, SharedJournal
from emulator.core.namespaces import Namespaces


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

    def __post_init__(self) -> None:
        if isinstance(self.clock, SharedClock):
            # Several processes on one database: faults and the journal live there too.
            self.journal = SharedJournal(
                self.settings.journal_size, self.side_engine or self.engine
            )
            self.faults = SharedFaultBook(self.engine, self.clock)
        else:
            self.journal = Journal(self.settings.journal_size)

    @property
    def shared(self) -> bool:
        """Whether the clock, faults and journal are shared with other processes."""
        return isinstance(self.clock, SharedClock)

    def dispose(self) -> None:
        """Close every pooled database connection (both engines)."""
        self.engine.dispose()
        if self.side_engine is not None and self.side_engine is not self.engine:
            self.side_engine.dispose()

    def ids(self, namespace: str) -> Ids:
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

    def seed_of(self, namespace: str) -> int | None:
        return self._seeds.get(namespace, self.seed)

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

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        """One transaction: committed when the block ends, rolled back if it raises."""
        with self.emulator.engine.begin() as conn:
            token = TRANSACTION.set(conn)
            try:
                yield conn
            finally:
                TRANSACTION.reset(token)

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with self.emulator.engine.connect() as conn:
            yield conn
