"""Fault injection: armed rules that make an operation, or one device of a batch, fail.

A rule belongs to a namespace and names an operation id and one of that operation's
documented codes (``emulator.core.operations``). ``VendorRoute`` asks :meth:`FaultBook.take`
before the handler runs, so a whole request answers the code in the vendor's own envelope;
batch services ask :func:`device_fault` for each device, so a rule with a ``deviceKey`` fails
just that device (its entry goes to the failure list).

``probability`` below 1 rolls the rule's own generator, seeded by ``seed`` when given, so a
seeded rule fails the same calls every run. ``ttlSeconds`` counts on the emulator clock.
"""

from __future__ import annotations

import os
import random
import threading
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from emulator.core.errors import ErrorCode, VendorError
from emulator.core.operations import OPERATIONS, Operation

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
    random: random.Random = field(default_factory=random.Random, repr=False)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "operation": self.operation,
            "code": self.code,
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
        now_ms: int,
    ) -> FaultRule:
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
        if device_key is not None and error is None:
            raise FaultSpecError("a deviceKey rule needs the code the device fails with")
        if error is None and latency_ms <= 0:
            raise FaultSpecError("a rule needs a code, a latencyMs, or both")
        if device_key is not None and latency_ms > 0:
            raise FaultSpecError(
                "latencyMs delays whole requests; arm it in a rule without deviceKey"
            )
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

    def take(
        self, namespace: str, operation: str, now_ms: int, device_key: str | None = None
    ) -> FaultRule | None:
        """The first armed rule that fires for this request (``device_key`` None) or device.

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
                if device_key is None:
                    if rule.device_key is not None:
                        continue
                elif rule.device_key not in (device_key, ANY_DEVICE):
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


def device_fault(ctx: Ctx, operation: str, device_key: str) -> VendorError | None:
    """The error an armed rule injects for this device of a batch, if any."""
    rule = ctx.emulator.faults.take(ctx.namespace, operation, ctx.now_ms(), device_key)
    if rule is None or rule.error is None:
        return None
    current = CURRENT.get()
    if current is not None:
        current.devices.append(device_key)
        current.rule_id = current.rule_id or rule.id
    return VendorError(rule.error)
