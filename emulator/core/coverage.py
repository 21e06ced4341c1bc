"""The client coverage report: which documented codes a client's test run saw, and which never.

Read from the request journal (:mod:`emulator.core.journal`) of one namespace, against the
codes each operation documents (:mod:`emulator.core.operations`). A code a fault injected
counts apart from one a real request produced: a client that handled 11714 only because a
fault forced it has still exercised its handling, and the report says which was which.

Device messages (MQTT) count the same way: their journal entries carry their own operation
ids, and their success codes (a reply's 200, CONNACK 0) are their operation's
(``Operation.message``). A message whose reply or connection a fault dropped got no answer:
it counts as ``dropped``, neither a success nor a code.

Limits: the journal keeps the last ``journal_size`` requests (oldest dropped first), so a run
longer than that is seen in part; a code inside a batch answer's per-device list (createBatch's
``failureList``) is not an answer code and is not counted.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

from emulator.core.journal import Entry
from emulator.core.operations import OPERATIONS, Operation
from emulator.core.vendor import vendors


def success_codes() -> frozenset[int]:
    """The registered vendors' success codes (a vendor whose success carries no code adds
    none: an answer with no code is a success already)."""
    return frozenset(v.success_code for v in vendors() if v.success_code is not None)


def is_success(entry: Entry, codes: frozenset[int] | None = None) -> bool:
    if entry.status >= 400:
        return False
    return entry.vendor_code is None or entry.vendor_code in (codes or success_codes())


def _codes_line(codes: Iterable[int]) -> str:
    listed = [str(c) for c in codes]
    if len(listed) <= 1:
        return "".join(listed)
    return ", ".join(listed[:-1]) + " or " + listed[-1]


def _operation_report(operation: Operation, entries: list[Entry]) -> dict[str, Any]:
    documented = operation.codes()
    real: Counter[int] = Counter()
    dropped = 0
    injected: Counter[int] = Counter()
    undocumented: Counter[int] = Counter()
    successes = 0
    success = success_codes()
    if operation.message is not None:
        success = operation.message.success
    for entry in entries:
        if entry.injected and entry.vendor_code is None:
            dropped += 1
            continue
        if is_success(entry, success):
            successes += 1
            continue
        code = entry.vendor_code
        if code is None:
            continue
        if code not in documented:
            undocumented[code] += 1
        elif entry.injected:
            injected[code] += 1
        else:
            real[code] += 1
    seen = [
        {
            "code": code,
            "requests": real[code] + injected[code],
            "injected": injected[code],
            "faultOnly": code in operation.fault_only,
        }
        for code in documented
        if real[code] or injected[code]
    ]
    never = [code for code in documented if not (real[code] or injected[code])]
    return {
        "id": operation.id,
        "vendor": operation.vendor,
        "requests": len(entries),
        "successes": successes,
        "dropped": dropped,
        "documented": len(documented),
        "exercised": len(seen),
        "seen": seen,
        "neverSeen": never,
        # Of the codes never seen, those a real request can produce (the client can try them)
        # and those only a fault reaches (arm one with POST /_emulator/faults).
        "neverSeenRealInput": [c for c in never if c not in operation.fault_only],
        "neverSeenFaultOnly": [c for c in never if c in operation.fault_only],
        "undocumented": [{"code": c, "requests": n} for c, n in sorted(undocumented.items())],
    }


def report(
    entries: Iterable[Entry], *, namespace: str, vendor: str | None = None
) -> dict[str, Any]:
    """Per operation: the requests made, the codes seen and the codes never seen."""
    by_operation: dict[str, list[Entry]] = {}
    for entry in entries:
        by_operation.setdefault(entry.operation, []).append(entry)
    called: list[dict[str, Any]] = []
    not_called: list[dict[str, Any]] = []
    for op_id, operation in sorted(OPERATIONS.items()):
        if vendor is not None and operation.vendor != vendor:
            continue
        mine = by_operation.get(op_id, [])
        if mine:
            called.append(_operation_report(operation, mine))
        else:
            not_called.append({"id": op_id, "vendor": operation.vendor, "codes": operation.codes()})
    documented = sum(op["documented"] for op in called)
    exercised = sum(op["exercised"] for op in called)
    gaps = [
        f"{op['id']}: your client never saw {_codes_line(op['neverSeen'])}"
        for op in called
        if op["neverSeen"]
    ]
    return {
        "namespace": namespace,
        "summary": {
            "requests": sum(op["requests"] for op in called),
            "operationsCalled": len(called),
            "operationsNotCalled": len(not_called),
            "documentedCodes": documented,
            "exercisedCodes": exercised,
            "ratio": round(exercised / documented, 4) if documented else 0.0,
        },
        "gaps": gaps,
        "operations": called,
        "notCalled": not_called,
    }
