"""Fault injection: armed rules that make an operation, or one device of a batch, fail.

A rule belongs to a namespace and names an operation id and one of that operation's
documented codes (``emulator.core.operations``). ``VendorRoute`` asks :meth:`FaultBook.take`
before the handler runs, so a whole request answers the code in the vendor's own envelope;
batch services ask :func:`device_fault` for each device, so a rule with a ``deviceKey`` fails
just that device (its entry goes to the failure list).

A device-protocol operation (an MQTT message, ``Operation.message``) takes the same rules:
one without ``deviceKey`` fires for every device's message, one with ``deviceKey`` for that
device's only, and ``action`` may drop the reply or the connection instead of a code.

``probability`` below 1 rolls the rule's own generator, seeded by ``seed`` when given, so a
seeded rule fails the same calls every run. ``ttlSeconds`` counts on the emulator clock.
"""

from __future__ import annotations

import os
import random
import threading
from collections.abc import Mapping
from contextlib import AbstractContextManager, nullcontext
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

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
    random: random.Random = field(default_factory=random.Random, repr=False)

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


class FaultBook:
    """The armed rules of every namespace, in arming order."""

    def __init__(self) -> None:
        self._rules: dict[str, list[FaultRule]] = {}
        self._lock = threading.Lock()
        self._counter = 0

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
        rng = random.Random()
        # A str seed hashes with SHA-512: the same sequence on every run and platform.
        rng.seed(f"fault:{seed}" if seed is not None else os.urandom(16))
        with self._lock:
            self._counter += 1
            rule = FaultRule(
                id=f"f{self._counter}",
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
                random=rng,
            )
            self._rules.setdefault(namespace, []).append(rule)
        return rule

    def rules(self, namespace: str, now_ms: int) -> list[FaultRule]:
        with self._lock:
            self._expire(namespace, now_ms)
            return list(self._rules.get(namespace, ()))

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
        """Whether any rule is armed in ``namespace``: the cheap question asked per device."""
        return bool(self._rules.get(namespace))

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
        if not self._rules.get(namespace):
            return None
        with self._lock:
            self._expire(namespace, now_ms)
            rules = self._rules.get(namespace, [])
            for i, rule in enumerate(rules):
                if rule.operation != operation:
                    continue
                if not aims_at(rule.device_key, device_key, message):
                    continue
                if rule.probability < 1.0 and rule.random.random() >= rule.probability:
                    continue
                rule.fired += 1
                if rule.times is not None:
                    rule.times -= 1
                    if rule.times <= 0:
                        del rules[i]
                return rule
        return None

    def _expire(self, namespace: str, now_ms: int) -> None:
        rules = self._rules.get(namespace)
        if rules:
            rules[:] = [r for r in rules if r.expires_at is None or r.expires_at > now_ms]


def aims_at(rule_device: str | None, device_key: str | None, message: bool) -> bool:
    """Whether a rule naming ``rule_device`` fires: for a whole request (``device_key`` None)
    only rules naming no device; for one device of a batch only rules naming it (or ``*``);
    for a device's own message both (a rule naming no device fires for every device)."""
    if rule_device is None:
        return device_key is None or message
    return device_key is not None and rule_device in (device_key, ANY_DEVICE)


class SharedFaultBook(FaultBook):
    """The rules of several processes on one database (table ``emulator_faults``).

    A request asks the database only when its namespace has rules: each process caches the
    set of namespaces holding rules, reloaded when the fault version of the shared state row
    (read with the clock, at most every few milliseconds) moves. Firing is a compare-and-set
    on the rule's ``fired`` and ``draws`` counts, so a ``times=1`` rule fires once across every
    process; a seeded probability rule replays its generator to the rule's next draw, so its
    sequence is the one a single process draws.
    """

    def __init__(self, engine: Engine, clock: SharedClock) -> None:
        super().__init__()
        self._engine = engine
        self._clock = clock
        self._seen_version = -1
        self._armed: frozenset[str] = frozenset()

    def armed(self, namespace: str) -> bool:
        return self._has_rules(namespace)

    def _has_rules(self, namespace: str) -> bool:
        version = self._clock.versions()[0]
        if version != self._seen_version:
            with self._engine.connect() as conn:
                armed = frozenset(row[0] for row in _ARMED.execute(conn, {}).fetchall())
            self._armed, self._seen_version = armed, version
        return namespace in self._armed

    def _changed(self, conn: Connection) -> None:
        _BUMP.execute(conn, {})

    def _after_write(self) -> None:
        self._clock.sync()

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
        if seed is None:
            # An unseeded rule still needs one generator every process replays.
            seed = int.from_bytes(os.urandom(6), "big")
            shown_seed = None
        else:
            shown_seed = seed
        with self._engine.begin() as conn:
            _COUNT.execute(conn, {})
            counter = int(_COUNTER.first(conn, {})[0])  # type: ignore[index]
            row = {
                "ns": namespace,
                "rule_id": f"f{counter}",
                "operation": operation,
                "code": code,
                "action": action,
                "times": times,
                "probability": probability,
                # Negative: the rule was armed without a seed (the listing shows none).
                "seed": seed if shown_seed is not None else -seed - 1,
                "latency_ms": latency_ms,
                "device_key": device_key,
                "expires_at": None if ttl_seconds is None else now_ms + int(ttl_seconds * 1000),
                "created_at": now_ms,
            }
            _INSERT.execute(conn, row)
            self._changed(conn)
        self._after_write()
        return self._rule({**row, "fired": 0, "draws": 0}, error)

    def _rule(self, row: Mapping[str, Any], error: ErrorCode | None = None) -> FaultRule:
        seed = row["seed"]
        if error is None and row["code"] is not None:
            error = error_of(OPERATIONS[row["operation"]], row["code"])
        return FaultRule(
            id=row["rule_id"],
            namespace=row["ns"],
            operation=row["operation"],
            code=row["code"],
            error=error,
            times=row["times"],
            probability=row["probability"],
            seed=None if seed is None or seed < 0 else seed,
            latency_ms=row["latency_ms"],
            device_key=row["device_key"],
            expires_at=row["expires_at"],
            created_at=row["created_at"],
            fired=row["fired"],
            action=row["action"],
        )

    def _rows(self, conn: Connection, namespace: str, now_ms: int) -> list[Any]:
        if _EXPIRE.rowcount(conn, {"ns": namespace, "now": now_ms}):
            self._changed(conn)
        return _RULES.all(conn, {"ns": namespace})

    def rules(self, namespace: str, now_ms: int) -> list[FaultRule]:
        with self._engine.begin() as conn:
            rows = self._rows(conn, namespace, now_ms)
        return [self._rule(row) for row in rows]

    def remove(self, namespace: str, rule_id: str) -> bool:
        with self._engine.begin() as conn:
            found = _REMOVE.rowcount(conn, {"ns": namespace, "rule_id": rule_id}) > 0
            if found:
                self._changed(conn)
        self._after_write()
        return found

    def clear(self, namespace: str) -> int:
        with self._engine.begin() as conn:
            count = _CLEAR.rowcount(conn, {"ns": namespace})
            if count:
                self._changed(conn)
        self._after_write()
        return count

    def take(
        self,
        namespace: str,
        operation: str,
        now_ms: int,
        device_key: str | None = None,
        *,
        message: bool = False,
    ) -> FaultRule | None:
        if not self._has_rules(namespace):
            return None
        for _attempt in range(50):
            outcome = self._try_take(namespace, operation, now_ms, device_key, message)
            if outcome is not _RETRY:
                return outcome  # type: ignore[return-value]
        return None  # pragma: no cover - fifty processes firing the same rule at once

    def _transaction(self) -> AbstractContextManager[Connection]:
        current = TRANSACTION.get()
        if current is not None and current.dialect.name == "sqlite":
            # Inside the request's own transaction: a second connection would wait for it.
            return nullcontext(current)
        return self._engine.begin()

    def _try_take(
        self, namespace: str, operation: str, now_ms: int, device_key: str | None, message: bool
    ) -> FaultRule | None | object:
        with self._transaction() as conn:
            for row in self._rows(conn, namespace, now_ms):
                if row["operation"] != operation:
                    continue
                if not aims_at(row["device_key"], device_key, message):
                    continue
                draws = row["draws"]
                fires = True
                if row["probability"] < 1.0:
                    fires = _draw(row["seed"], draws) < row["probability"]
                    draws += 1
                times = row["times"]
                if fires and times is not None:
                    times -= 1
                claimed = _FIRE.rowcount(
                    conn,
                    {
                        "seq": row["seq"],
                        "fired": row["fired"],
                        "draws": row["draws"],
                        "new_fired": row["fired"] + (1 if fires else 0),
                        "new_draws": draws,
                        "times": times,
                    },
                )
                if not claimed:
                    # Another process fired or drew it first: read the rules again.
                    return _RETRY
                if not fires:
                    continue
                if times is not None and times <= 0:
                    _DELETE.execute(conn, {"seq": row["seq"]})
                    self._changed(conn)
                return self._rule({**row, "times": times, "fired": row["fired"] + 1})
        return None


_RETRY = object()


def _draw(seed: int, index: int) -> float:
    """The ``index``-th draw of a rule's generator (seeded as FaultBook seeds it)."""
    rng = random.Random()
    rng.seed(f"fault:{seed}" if seed >= 0 else f"fault-unseeded:{-seed - 1}")
    for _ in range(index):
        rng.random()
    return rng.random()


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
