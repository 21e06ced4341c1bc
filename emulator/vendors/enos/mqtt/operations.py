"""The MQTT side's operations (core/operations.py), declared with the EnOS vendor: the login,
one per request topic and one for every topic not served, each with the codes its answer can
carry. The journal, faults, the coverage report and the conformance report know them by these
ids."""

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


# An internal error answers only a bug of ours, or a fault.
_INTERNAL = frozenset({EmulatorCode.INTERNAL_ERROR.code})


def _publish(path: str) -> Operation:
    errors: tuple[type[ErrorCode], ...] = (MqttCode, EmulatorCode)
    fault_only = _INTERNAL
    if path in uplink.SIGNED:
        errors = (MqttCode, SubDeviceCode, EmulatorCode)
        if path not in uplink.LOGINS:  # only a sub-device's login checks the topology
            fault_only |= {SubDeviceCode.NOT_IN_TOPOLOGY.code}
    topic = _topic(path)
    message = DeviceMessage(
        "PUBLISH", topic, DOC, success=frozenset({OK}), answer=f"PUBLISH {topic}{REPLY_SUFFIX}"
    )
    return Operation(uplink.operation_id(path), VENDOR, errors, fault_only, message)


def _unsupported() -> Operation:
    """Any other request topic: refused 1009 once its payload is read, before its method is
    compared with the topic's (so 1260 only a fault produces)."""
    topic = "{unsupported topic}"
    message = DeviceMessage(
        "PUBLISH", topic, DOC, success=frozenset({OK}), answer=f"PUBLISH {topic}{REPLY_SUFFIX}"
    )
    fault_only = _INTERNAL | {MqttCode.METHOD_NOT_CONSISTENT.code}
    return Operation(uplink.UNSUPPORTED, VENDOR, (MqttCode, EmulatorCode), fault_only, message)


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
    _unsupported(),
)  # fmt: skip
