"""Fault injection: armed rules that make an operation, or one device of a batch, fail.

A rule belongs to a namespace and names an operation id and one of that operation's
documented codes (``emulator.core.operations``). ``VendorRoute`` asks :meth:`FaultBook.take`
before the handler runs, so a whole request answers the code in the vendor's own envelope;
batch services ask :func:`device_fault` for each device, so a rule with a ``deviceKey`` fails
just that device (its entry goes to the failure list).

A device-protocol operation (an MQTT message, ``Operation.message``) takes the same rules:
one without ``deviceKey`` fires for every device's message, one with ``deviceKey`` for that
device's only, and ``action`` may drop the reply or the connection instead of a code.

``probability`` below 1 draws from the rule's own sequence (:func:`draw`), fixed by ``seed``
when given, so a seeded rule fails the same calls every run, however many processes serve it.
``ttlSeconds`` counts on the emulator clock.

What fires is decided once, by :class:`FaultBook` (:func:`step`); where the rules live is its
store's business: :class:`MemoryFaultStore` in one process, :class:`SqlFaultStore` when several
processes share a database (chosen once, where the emulator is built: core/context.py).
"""

from __future__ import annotations

import functools
import hashlib
import os
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import Connection, Engine, delete, select, update

from emulator.core.clock import SharedClock
from emulator.core.db import TRANSACTION
from emulator.core.errors import ErrorCode, VendorError
from emulator.core.operations import ACTIONS, OPERATIONS, Operation
from emulator.core.registry import shared_faults, shared_state
from emulator.core.sql import HotSql, const, insert_of, param

if TYPE_CHECKING:
    from emulator.core.context import Ctx

# deviceKey "*" fails every device of a batch.
ANY_DEVICE = "*"


class FaultSpecError(ValueError):
    """A rule that cannot be armed; the message says why (and lists the valid values)."""


@dataclass
class FaultRule:
    id: str
    namespace: str
    operation: str
    code: int | None
    error: ErrorCode | None
    times: int | None  # firings left; None: until cleared
    probability: float
    seed: int | None
    latency_ms: int
    device_key: str | None
    expires_at: int | None  # emulator clock, ms
    created_at: int
    fired: int = 0
    # A device message's fault that drops instead of answering (operations.ACTIONS).
    action: str | None = None
    # The rule's sequence of draws (see draw): its seed, or a random negative number for a
    # rule armed without one; and how many draws any process has taken from it.
    stream: int = field(default=0, repr=False)
    draws: int = field(default=0, repr=False)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "operation": self.operation,
            "code": self.code,
            "action": self.action,
            "times": self.times,
            "probability": self.probability,
            "seed": self.seed,
            "latencyMs": self.latency_ms,
            "deviceKey": self.device_key,
            "expiresAt": self.expires_at,
            "createdAt": self.created_at,
            "fired": self.fired,
        }


@dataclass
class RequestFaults:
    """What faults did to the request being served (for the journal)."""

    rule_id: str | None = None
    devices: list[str] = field(default_factory=list)


# Set by VendorRoute around each vendor request; device_fault reports the devices it failed.
CURRENT: ContextVar[RequestFaults | None] = ContextVar("emulator_request_faults", default=None)


def error_of(operation: Operation, code: int) -> ErrorCode | None:
    for table in operation.errors:
        for member in table:
            if member.code == code:
                return member
    return None


def validate(
    operation: str,
    code: int | None,
    device_key: str | None,
    latency_ms: int,
    action: str | None = None,
) -> ErrorCode | None:
    """The error a rule injects; raises :class:`FaultSpecError` when it cannot be armed."""
    op = OPERATIONS.get(operation)
    if op is None:
        known = ", ".join(sorted(OPERATIONS)) or "(none)"
        raise FaultSpecError(f"unknown operation {operation!r}; known operations: {known}")
    error: ErrorCode | None = None
    if code is not None:
        error = error_of(op, code)
        if error is None:
            valid = ", ".join(str(c) for c in op.codes())
            raise FaultSpecError(
                f"code {code} is not a documented code of {operation}; valid codes: {valid}"
            )
    if action is not None:
        allowed = op.message.actions if op.message is not None else frozenset()
        if action not in allowed:
            takers = sorted(o.id for o in OPERATIONS.values() if o.message is not None)
            raise FaultSpecError(
                f"action {action!r} does not apply to {operation}; actions "
                f"({', '.join(ACTIONS)}) apply to device messages: {', '.join(takers) or '(none)'}"
            )
        if code is not None:
            raise FaultSpecError(f"an {action} rule answers no code: leave code out")
    if op.message is not None:
        # A device's message: deviceKey names the sender, so it goes with any effect.
        if error is None and latency_ms <= 0 and action is None:
            raise FaultSpecError("a rule needs a code, a latencyMs or an action")
        return error
    if device_key is not None and error is None:
        raise FaultSpecError("a deviceKey rule needs the code the device fails with")
    if error is None and latency_ms <= 0:
        raise FaultSpecError("a rule needs a code, a latencyMs, or both")
    if device_key is not None and latency_ms > 0:
        raise FaultSpecError("latencyMs delays whole requests; arm it in a rule without deviceKey")
    return error


def draw(stream: int, index: int) -> float:
    """The ``index``-th draw (from 0) of a rule's sequence, in [0, 1).

    A hash of the rule's stream and the index, not a generator's next value: any process
    computes any draw directly, at one hash's cost, so a rule that several processes serve
    draws the sequence one process would, without replaying the draws before it.
    """
    digest = hashlib.sha256(b"fault:%d:%d" % (stream, index)).digest()
    return (int.from_bytes(digest[:8], "big") >> 11) / _TWO_53


_TWO_53 = float(1 << 53)  # 53 bits: every float of [0, 1) the draw can give is exact


def aims_at(rule_device: str | None, device_key: str | None, message: bool) -> bool:
    """Whether a rule naming ``rule_device`` fires: for a whole request (``device_key`` None)
    only rules naming no device; for one device of a batch only rules naming it (or ``*``);
    for a device's own message both (a rule naming no device fires for every device)."""
    if rule_device is None:
        return device_key is None or message
    return device_key is not None and rule_device in (device_key, ANY_DEVICE)


@dataclass(frozen=True)
class Step:
    """What one call does to a rule it concerns: whether it fires, and the rule's counts after."""

    fires: bool
    draws: int
    times: int | None

    @property
    def disarms(self) -> bool:
        return self.fires and self.times is not None and self.times <= 0

    def apply(self, rule: FaultRule) -> None:
        rule.draws, rule.times = self.draws, self.times
        rule.fired += self.fires


def step(rule: FaultRule, operation: str, device_key: str | None, message: bool) -> Step | None:
    """The matcher, one for every store: ``None`` when the rule does not concern the call
    (it draws nothing then), else what the call does to it (expired rules are gone already)."""
    if rule.operation != operation or not aims_at(rule.device_key, device_key, message):
        return None
    draws, fires = rule.draws, True
    if rule.probability < 1.0:
        fires = draw(rule.stream, draws) < rule.probability
        draws += 1
    times = rule.times
    if fires and times is not None:
        times -= 1
    return Step(fires, draws, times)


class Claim(Protocol):
    """A namespace's live rules in arming order, held for one take (a lock or a transaction)."""

    @property
    def rules(self) -> Sequence[FaultRule]: ...

    def record(self, rule: FaultRule, step: Step) -> bool:
        """Apply ``step`` to the rule here and in the store (a disarmed rule leaves it);
        False when another process changed the rule since it was read."""
        ...


class FaultStore(Protocol):
    """Where the rules live: what :class:`FaultBook` needs of one process's memory or of the
    database several processes share."""

    def add(self, rule: FaultRule) -> None:
        """Keep a new rule, giving it the next id (f1, f2, ...)."""
        ...

    def rules(self, namespace: str, now_ms: int) -> list[FaultRule]: ...

    def remove(self, namespace: str, rule_id: str) -> bool: ...

    def clear(self, namespace: str) -> int: ...

    def armed(self, namespace: str) -> bool:
        """Whether any rule is armed in ``namespace``: the cheap question asked per device."""
        ...

    def claim(self, namespace: str, now_ms: int) -> AbstractContextManager[Claim]: ...


class FaultBook:
    """The armed rules of every namespace, in arming order. What fires is decided here, once
    (:func:`step`); the store keeps the rules (:class:`MemoryFaultStore` in one process,
    :class:`SqlFaultStore` for several processes on one database)."""

    def __init__(self, store: FaultStore | None = None) -> None:
        self.store: FaultStore = store if store is not None else MemoryFaultStore()

    def arm(
        self,
        namespace: str,
        *,
        operation: str,
        code: int | None = None,
        times: int | None = None,
        probability: float = 1.0,
        seed: int | None = None,
        latency_ms: int = 0,
        device_key: str | None = None,
        ttl_seconds: float | None = None,
        action: str | None = None,
        now_ms: int,
    ) -> FaultRule:
        error = validate(operation, code, device_key, latency_ms, action)
        # Unseeded: a random stream, negative so that it is told from a seed where it is stored.
        stream = seed if seed is not None else -int.from_bytes(os.urandom(6), "big") - 1
        rule = FaultRule(
            id="",
            namespace=namespace,
            operation=operation,
            code=code,
            error=error,
            times=times,
            probability=probability,
            seed=seed,
            latency_ms=latency_ms,
            device_key=device_key,
            expires_at=None if ttl_seconds is None else now_ms + int(ttl_seconds * 1000),
            created_at=now_ms,
            action=action,
            stream=stream,
        )
        self.store.add(rule)
        return rule

    def rules(self, namespace: str, now_ms: int) -> list[FaultRule]:
        return self.store.rules(namespace, now_ms)

    def remove(self, namespace: str, rule_id: str) -> bool:
        return self.store.remove(namespace, rule_id)

    def clear(self, namespace: str) -> int:
        return self.store.clear(namespace)

    def armed(self, namespace: str) -> bool:
        return self.store.armed(namespace)

    def take(
        self,
        namespace: str,
        operation: str,
        now_ms: int,
        device_key: str | None = None,
        *,
        message: bool = False,
    ) -> FaultRule | None:
        """The first armed rule that fires for this request (``device_key`` None) or device;
        with ``message``, for the message ``device_key`` sent (see :func:`aims_at`).

        Firing counts against ``times``; a rule whose ``times`` reach 0 is disarmed.
        """
        if not self.store.armed(namespace):
            return None
        for _attempt in range(50):
            with self.store.claim(namespace, now_ms) as claim:
                outcome = _first_firing(claim, operation, device_key, message)
            if outcome is not _RETRY:
                return outcome  # type: ignore[return-value]
        return None  # pragma: no cover - fifty processes firing the same rule at once


_RETRY = object()


def _first_firing(
    claim: Claim, operation: str, device_key: str | None, message: bool
) -> FaultRule | None | object:
    for rule in claim.rules:
        change = step(rule, operation, device_key, message)
        if change is None:
            continue
        if not claim.record(rule, change):
            # Another process fired or drew it first: read the rules again.
            return _RETRY
        if change.fires:
            return rule
    return None


class MemoryFaultStore:
    """The rules of one process: a list per namespace, under a lock."""

    def __init__(self) -> None:
        self._rules: dict[str, list[FaultRule]] = {}
        self._lock = threading.Lock()
        self._counter = 0

    def add(self, rule: FaultRule) -> None:
        with self._lock:
            self._counter += 1
            rule.id = f"f{self._counter}"
            self._rules.setdefault(rule.namespace, []).append(rule)

    def rules(self, namespace: str, now_ms: int) -> list[FaultRule]:
        with self._lock:
            return list(self._live(namespace, now_ms))

    def remove(self, namespace: str, rule_id: str) -> bool:
        with self._lock:
            rules = self._rules.get(namespace, [])
            for i, rule in enumerate(rules):
                if rule.id == rule_id:
                    del rules[i]
                    return True
            return False

    def clear(self, namespace: str) -> int:
        with self._lock:
            return len(self._rules.pop(namespace, []))

    def armed(self, namespace: str) -> bool:
        return bool(self._rules.get(namespace))

    @contextmanager
    def claim(self, namespace: str, now_ms: int) -> Iterator[Claim]:
        with self._lock:
            yield _MemoryClaim(self._live(namespace, now_ms))

    def _live(self, namespace: str, now_ms: int) -> list[FaultRule]:
        rules = self._rules.get(namespace)
        if not rules:
            return []
        rules[:] = [r for r in rules if r.expires_at is None or r.expires_at > now_ms]
        return rules


class _MemoryClaim:
    def __init__(self, live: list[FaultRule]) -> None:
        self._live = live
        self.rules = tuple(live)

    def record(self, rule: FaultRule, step: Step) -> bool:
        step.apply(rule)
        if step.disarms:
            self._live[:] = [r for r in self._live if r is not rule]
        return True


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


def device_fault(ctx: Ctx, operation: str, device_key: str) -> VendorError | None:
    """The error an armed rule injects for this device of a batch, if any."""
    book = ctx.emulator.faults
    if not book.armed(ctx.namespace):
        return None
    rule = book.take(ctx.namespace, operation, ctx.now_ms(), device_key)
    if rule is None or rule.error is None:
        return None
    current = CURRENT.get()
    if current is not None:
        current.devices.append(device_key)
        current.rule_id = current.rule_id or rule.id
    return VendorError(rule.error)
