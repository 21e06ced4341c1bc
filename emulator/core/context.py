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
from emulator.core.clock import Clock
from emulator.core.fixtures import Baseline
from emulator.core.ids import Ids
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

    def ids(self, namespace: str) -> Ids:
        ids = self._ids.get(namespace)
        if ids is None:
            ids = self._ids[namespace] = Ids(self.seed, namespace)
        return ids

    def reseed(self, seed: int | None) -> None:
        self.seed = seed
        self._ids.clear()

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
            yield conn

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with self.emulator.engine.connect() as conn:
            yield conn
