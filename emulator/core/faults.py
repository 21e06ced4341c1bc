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
store's business: :class:`MemoryFaultStore` in one process, ``SqlFaultStore`` (core/faults_sql.py)
when several processes share a database; core/context.py chooses once, building the emulator.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Sequence
from contextlib import AbstractContextManager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from emulator.core.errors import ErrorCode, VendorError
from emulator.core.operations import ACTIONS, OPERATIONS, Operation

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
    ``SqlFaultStore`` for several processes on one database)."""

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

    def claim(self, namespace: str, now_ms: int) -> _MemoryClaim:
        return _MemoryClaim(self, namespace, now_ms)

    def _live(self, namespace: str, now_ms: int) -> list[FaultRule]:
        rules = self._rules.get(namespace)
        if not rules:
            return []
        rules[:] = [r for r in rules if r.expires_at is None or r.expires_at > now_ms]
        return rules


class _MemoryClaim:
    """The store's lock, held while a take reads and records the namespace's live rules
    (a class, not a generator: it runs on every request of a namespace that has rules)."""

    def __init__(self, store: MemoryFaultStore, namespace: str, now_ms: int) -> None:
        self._store, self._namespace, self._now_ms = store, namespace, now_ms
        self._live: list[FaultRule] = []
        self.rules: tuple[FaultRule, ...] = ()

    def __enter__(self) -> _MemoryClaim:
        self._store._lock.acquire()
        self._live = self._store._live(self._namespace, self._now_ms)
        self.rules = tuple(self._live)
        return self

    def __exit__(self, *_exc: object) -> None:
        self._store._lock.release()

    def record(self, rule: FaultRule, step: Step) -> bool:
        step.apply(rule)
        if step.disarms:
            self._live[:] = [r for r in self._live if r is not rule]
        return True


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
