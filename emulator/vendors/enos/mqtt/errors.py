"""Codes of EnOS devices over MQTT (ENOS-DEVICES.md §2, §3).

A request's code travels in its reply on ``<topic>_reply`` (200 when it succeeded); a login's
is the CONNACK return code (0 when accepted). ``http_status`` is the table base's default
and means nothing here: these answers are not HTTP.
"""

from __future__ import annotations

import enum

from emulator.core.errors import ErrorCode


@enum.unique
class MqttCode(ErrorCode):
    """Common return codes of every EnOS MQTT topic ("Common Return Codes")."""

    PAYLOAD_FORMAT_ERROR = 1220, "Payload format error"
    PAYLOAD_EMPTY = 1251, "Payload is empty"
    METHOD_NOT_CONSISTENT = 1260, "Methods not consistent"
    MESSAGE_TOO_LARGE = 1008, "Msg size is too large, discard the message"
    NO_WRITE_PERMISSION = 1009, "Publish to topic with no write permission"


@enum.unique
class SubDeviceCode(ErrorCode):
    """A gateway's sub-device refused: the emulator's own codes (EnOS's public pages name
    none for these cases; the README says so)."""

    SIGNATURE_INVALID = 1246, "Sub-device unknown or its signature wrong"
    NOT_IN_TOPOLOGY = 1248, "Sub-device is not in the gateway's topology"


@enum.unique
class ConnackCode(ErrorCode):
    """CONNACK return codes (MQTT 3.1.1 §3.2.2.3) a device's login gets when refused: EnOS
    answers 5 to a wrong secret or an unknown device; 3 (the platform unavailable) only a
    fault produces."""

    SERVER_UNAVAILABLE = 3, "Connection refused, server unavailable"
    NOT_AUTHORIZED = 5, "Connection refused, not authorized"
