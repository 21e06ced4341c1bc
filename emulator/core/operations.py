"""Every vendor operation, by its one id ``<vendor>.<api>.<operation>``.

The id names the operation in the journal, faults, metrics and the OpenAPI operationId. Each
vendor's routes module registers its operations with the error tables whose codes they can
answer, so a fault can only inject a documented code of that operation.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from emulator.core.errors import ErrorCode


@dataclass(frozen=True)
class Operation:
    id: str
    vendor: str
    errors: tuple[type[ErrorCode], ...]
    # Documented codes that no real input can trigger: only a fault produces them.
    fault_only: frozenset[int] = field(default_factory=frozenset)

    def codes(self) -> list[int]:
        return sorted({member.code for table in self.errors for member in table})


OPERATIONS: dict[str, Operation] = {}


def register(*operations: Operation) -> None:
    for operation in operations:
        OPERATIONS[operation.id] = operation
