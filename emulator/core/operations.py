"""Every vendor operation, by its one id ``<vendor>.<api>.<operation>``.

The id names the operation in the journal, faults, metrics and the OpenAPI operationId. Each
vendor's routes module registers its operations with the error tables whose codes they can
answer, so a fault can only inject a documented code of that operation.

An operation may be a device-protocol message rather than an HTTP request (an MQTT CONNECT
or PUBLISH): its :class:`DeviceMessage` says how it travels, and a fault on it targets the
device that sent it and may drop the reply or the connection instead of answering a code.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from emulator.core.errors import ErrorCode

# What a fault may do to a device message instead of answering one of its codes.
DROP_REPLY = "dropReply"  # the platform handles the message and never answers it
DROP_CONNECTION = "dropConnection"  # the connection closes; the message is not handled
ACTIONS = (DROP_REPLY, DROP_CONNECTION)


@dataclass(frozen=True)
class DeviceMessage:
    """How a device-protocol operation travels, for the conformance report and faults."""

    method: str  # the packet: CONNECT, PUBLISH
    path: str  # the topic (or the client id a CONNECT carries)
    doc: str  # the vendor document that describes it
    # The codes of a successful answer (MQTT replies carry 200, CONNACK 0), whatever the
    # vendor's HTTP envelope uses.
    success: frozenset[int]
    actions: frozenset[str] = frozenset(ACTIONS)
    # What carries the answer's code, in place of an HTTP status: a packet (CONNACK), or a
    # packet and its topic (PUBLISH on the request topic's reply topic).
    answer: str = ""


@dataclass(frozen=True)
class Operation:
    id: str
    vendor: str
    errors: tuple[type[ErrorCode], ...]
    # Documented codes that no real input can trigger: only a fault produces them.
    fault_only: frozenset[int] = field(default_factory=frozenset)
    message: DeviceMessage | None = None

    def codes(self) -> list[int]:
        return sorted({member.code for table in self.errors for member in table})


OPERATIONS: dict[str, Operation] = {}


def register(*operations: Operation) -> None:
    for operation in operations:
        OPERATIONS[operation.id] = operation
