"""The MQTT side's operations (core/operations.py), declared with the EnOS vendor: the login
and one per request topic, each with the codes its answer can carry. The journal, faults,
the coverage report and the conformance report know them by these ids."""

from __future__ import annotations

from emulator.core.errors import ErrorCode
from emulator.core.operations import DROP_CONNECTION, DeviceMessage, Operation
from emulator.vendors.enos.mqtt import uplink
from emulator.vendors.enos.mqtt.errors import ConnackCode, EmulatorCode, MqttCode, SubDeviceCode
from emulator.vendors.enos.mqtt.protocol import OK, REPLY_SUFFIX

DOC = "ENOS-DEVICES.md"
LOGIN = "enos.mqtt.login"
VENDOR = "enos"
# Topics under /ext/session/{pk}/{dk}/ rather than /sys/{pk}/{dk}/.
_SESSION = ("combine/",)


def _topic(path: str) -> str:
    base = "/ext/session" if path.startswith(_SESSION) else "/sys"
    return f"{base}/{{productKey}}/{{deviceKey}}/{path}"


def _publish(path: str) -> Operation:
    errors: tuple[type[ErrorCode], ...] = (MqttCode, EmulatorCode)
    # An internal error answers only a bug of ours, or a fault.
    fault_only = frozenset({EmulatorCode.INTERNAL_ERROR.code})
    if path in uplink.SIGNED:
        errors = (MqttCode, SubDeviceCode, EmulatorCode)
        if path not in uplink.LOGINS:  # only a sub-device's login checks the topology
            fault_only |= {SubDeviceCode.NOT_IN_TOPOLOGY.code}
    topic = _topic(path)
    message = DeviceMessage(
        "PUBLISH", topic, DOC, success=frozenset({OK}), answer=f"PUBLISH {topic}{REPLY_SUFFIX}"
    )
    return Operation(uplink.operation_id(path), VENDOR, errors, fault_only, message)


OPERATIONS = (
    Operation(
        LOGIN, VENDOR, (ConnackCode,),
        fault_only=frozenset({ConnackCode.SERVER_UNAVAILABLE.code}),
        message=DeviceMessage(
            "CONNECT", "{deviceKey}|securemode=2,signmethod=hmacsha256,timestamp={ts}|", DOC,
            success=frozenset({0}), actions=frozenset({DROP_CONNECTION}), answer="CONNACK",
        ),
    ),
    *(_publish(path) for path in [*uplink.ROUTES, uplink.EVENT_POST]),
)  # fmt: skip
