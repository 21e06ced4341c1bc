"""The fault rules of several processes on one database (table ``emulator_faults``): the
:class:`~emulator.core.faults.FaultStore` that core/context.py gives the fault book when the
clock is shared. What fires is decided by the book (``faults.step``), the same as in memory.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any

from sqlalchemy import Connection, Engine, delete, select, update

from emulator.core.clock import SharedClock
from emulator.core.db import TRANSACTION
from emulator.core.errors import ErrorCode
from emulator.core.faults import Claim, FaultRule, Step, error_of
from emulator.core.operations import OPERATIONS
from emulator.core.registry import shared_faults, shared_state
from emulator.core.sql import HotSql, const, insert_of, param


class SqlFaultStore:
    """The rules of several processes on one database (table ``emulator_faults``).

    A request asks the database only when its namespace has rules: each process caches the
    set of namespaces holding rules, reloaded when the fault version of the shared state row
    (read with the clock, at most every few milliseconds) moves. Recording a call is a
    compare-and-set on the rule's ``fired`` and ``draws`` counts, so a ``times=1`` rule fires
    once across every process, and a probability rule's next draw is the one after the last
    any process took (:func:`draw` computes it directly): its sequence is one process's.
    """

    def __init__(self, engine: Engine, clock: SharedClock) -> None:
        self._engine = engine
        self._clock = clock
        self._seen_version = -1
        self._armed: frozenset[str] = frozenset()

    def armed(self, namespace: str) -> bool:
        version = self._clock.versions()[0]
        if version != self._seen_version:
            with self._engine.connect() as conn:
                armed = frozenset(row[0] for row in _ARMED.execute(conn, {}).fetchall())
            self._armed, self._seen_version = armed, version
        return namespace in self._armed

    def add(self, rule: FaultRule) -> None:
        with self._engine.begin() as conn:
            _COUNT.execute(conn, {})
            rule.id = f"f{int(_COUNTER.first(conn, {})[0])}"  # type: ignore[index]
            _INSERT.execute(conn, _row_of(rule))
            _BUMP.execute(conn, {})
        self._clock.sync()

    def rules(self, namespace: str, now_ms: int) -> list[FaultRule]:
        with self._engine.begin() as conn:
            return [_rule_of(row) for row in _live_rows(conn, namespace, now_ms)]

    def remove(self, namespace: str, rule_id: str) -> bool:
        return self._delete(_REMOVE, {"ns": namespace, "rule_id": rule_id}) > 0

    def clear(self, namespace: str) -> int:
        return self._delete(_CLEAR, {"ns": namespace})

    def _delete(self, sql: HotSql, params: dict[str, Any]) -> int:
        with self._engine.begin() as conn:
            count = sql.rowcount(conn, params)
            if count:
                _BUMP.execute(conn, {})
        self._clock.sync()
        return count

    @contextmanager
    def claim(self, namespace: str, now_ms: int) -> Iterator[Claim]:
        with self._transaction() as conn:
            yield _SqlClaim(conn, _live_rows(conn, namespace, now_ms))

    def _transaction(self) -> AbstractContextManager[Connection]:
        current = TRANSACTION.get()
        if current is not None and current.dialect.name == "sqlite":
            # Inside the request's own transaction: a second connection would wait for it.
            return nullcontext(current)
        return self._engine.begin()


class _SqlClaim:
    def __init__(self, conn: Connection, rows: list[Any]) -> None:
        self._conn = conn
        self.rules = [_rule_of(row) for row in rows]
        self._seq = {rule.id: row["seq"] for rule, row in zip(self.rules, rows, strict=True)}

    def record(self, rule: FaultRule, step: Step) -> bool:
        seq = self._seq[rule.id]
        claimed = _FIRE.rowcount(
            self._conn,
            {
                "seq": seq,
                "fired": rule.fired,
                "draws": rule.draws,
                "new_fired": rule.fired + step.fires,
                "new_draws": step.draws,
                "times": step.times,
            },
        )
        if not claimed:
            return False
        step.apply(rule)
        if step.disarms:
            _DELETE.execute(self._conn, {"seq": seq})
            _BUMP.execute(self._conn, {})
        return True


def _live_rows(conn: Connection, namespace: str, now_ms: int) -> list[Any]:
    if _EXPIRE.rowcount(conn, {"ns": namespace, "now": now_ms}):
        _BUMP.execute(conn, {})
    return _RULES.all(conn, {"ns": namespace})


def _row_of(rule: FaultRule) -> dict[str, Any]:
    return {
        "ns": rule.namespace,
        "rule_id": rule.id,
        "operation": rule.operation,
        "code": rule.code,
        "action": rule.action,
        "times": rule.times,
        "probability": rule.probability,
        # Negative: the rule was armed without a seed (the listing shows none).
        "seed": rule.stream,
        "latency_ms": rule.latency_ms,
        "device_key": rule.device_key,
        "expires_at": rule.expires_at,
        "created_at": rule.created_at,
    }


def _rule_of(row: Mapping[str, Any]) -> FaultRule:
    stream = row["seed"] if row["seed"] is not None else -1
    code = row["code"]
    return FaultRule(
        id=row["rule_id"],
        namespace=row["ns"],
        operation=row["operation"],
        code=code,
        error=None if code is None else _error_of(row["operation"], code),
        times=row["times"],
        probability=row["probability"],
        seed=stream if stream >= 0 else None,
        latency_ms=row["latency_ms"],
        device_key=row["device_key"],
        expires_at=row["expires_at"],
        created_at=row["created_at"],
        fired=row["fired"],
        action=row["action"],
        stream=stream,
        draws=row["draws"],
    )


@functools.lru_cache(maxsize=1024)
def _error_of(operation: str, code: int) -> ErrorCode | None:
    # Every take builds its namespace's rules from their rows: the code's lookup once.
    return error_of(OPERATIONS[operation], code)


_F, _S = shared_faults.c, shared_state.c
_ARMED = HotSql(select(_F.ns).distinct())
_BUMP = HotSql(
    update(shared_state)
    .values(faults_version=_S.faults_version + const(1))
    .where(_S.id == const(1))
)
_COUNT = HotSql(
    update(shared_state).values(fault_counter=_S.fault_counter + const(1)).where(_S.id == const(1))
)
_COUNTER = HotSql(select(_S.fault_counter).where(_S.id == const(1)))
_INSERT = HotSql(
    insert_of(shared_faults, (
        "ns", "rule_id", "operation", "code", "action", "times", "probability", "seed",
        "latency_ms", "device_key", "expires_at", "created_at",
    )).values(draws=const(0), fired=const(0))
)  # fmt: skip
_EXPIRE = HotSql(
    delete(shared_faults).where(
        _F.ns == param("ns"), _F.expires_at.is_not(None), _F.expires_at <= param("now")
    )
)
_RULES = HotSql(select(shared_faults).where(_F.ns == param("ns")).order_by(_F.seq))
_REMOVE = HotSql(delete(shared_faults).where(_F.ns == param("ns"), _F.rule_id == param("rule_id")))
_CLEAR = HotSql(delete(shared_faults).where(_F.ns == param("ns")))
_FIRE = HotSql(
    update(shared_faults)
    .values(fired=param("new_fired"), draws=param("new_draws"), times=param("times"))
    .where(_F.seq == param("seq"), _F.fired == param("fired"), _F.draws == param("draws"))
)
_DELETE = HotSql(delete(shared_faults).where(_F.seq == param("seq")))
