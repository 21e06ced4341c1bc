"""EnOS MQTT topics, payloads and return codes (ENOS-DEVICES.md §3).

A request is ``{"id", "version", "method", "params"}``; its reply, on the request topic
followed by ``_reply``, is ``{"id": <the request's id>, "code": 200, "data": ..., "message"}``.
The SDK treats a reply as success only when ``code`` is the number 200.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from emulator.core.errors import ErrorCode
from emulator.vendors.enos.mqtt.errors import MqttCode

REPLY_SUFFIX = "_reply"
OK = 200
# The documented size limit behind 1008 is not published; this one is ours (README).
MAX_PAYLOAD_BYTES = 256 * 1024


class Refused(Exception):
    """A request the platform answers with an error code on its reply topic."""

    def __init__(self, code: int, message: str) -> None:
        self.code = code
        self.message = message
        super().__init__(f"{code} {message}")

    @classmethod
    def of(cls, code: ErrorCode, detail: str = "") -> Refused:
        return cls(code.code, f"{code.message}: {detail}" if detail else code.message)


@dataclass(frozen=True)
class Topic:
    """``/sys/{pk}/{dk}/thing/...`` or ``/ext/session/{pk}/{dk}/...``: the device it names
    and the rest of its path (``thing/measurepoint/post``)."""

    raw: str
    product_key: str
    device_key: str
    path: str

    @property
    def is_reply(self) -> bool:
        return self.raw.endswith(REPLY_SUFFIX)

    @property
    def reply(self) -> str:
        return self.raw + REPLY_SUFFIX


def parse_topic(topic: str) -> Topic | None:
    parts = topic.split("/")
    # '', 'sys', pk, dk, rest... or '', 'ext', 'session', pk, dk, rest...
    if len(parts) >= 5 and parts[0] == "" and parts[1] == "sys":
        return Topic(topic, parts[2], parts[3], "/".join(parts[4:]))
    if len(parts) >= 6 and parts[0] == "" and parts[1] == "ext" and parts[2] == "session":
        return Topic(topic, parts[3], parts[4], "/".join(parts[5:]))
    return None


def sys_topic(product_key: str, device_key: str, path: str) -> str:
    return f"/sys/{product_key}/{device_key}/{path}"


def session_topic(product_key: str, device_key: str, path: str) -> str:
    return f"/ext/session/{product_key}/{device_key}/{path}"


def decode(data: bytes | bytearray | None) -> dict[str, Any]:
    """A request payload as JSON; :class:`Refused` with the documented code when it is not."""
    if not data:
        raise Refused.of(MqttCode.PAYLOAD_EMPTY)
    if len(data) > MAX_PAYLOAD_BYTES:
        raise Refused.of(MqttCode.MESSAGE_TOO_LARGE)
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError:
        raise Refused.of(MqttCode.PAYLOAD_FORMAT_ERROR) from None
    if not isinstance(value, dict):
        raise Refused.of(MqttCode.PAYLOAD_FORMAT_ERROR, "a JSON object is expected")
    return value


def message_id(payload: dict[str, Any] | None) -> str:
    value = (payload or {}).get("id")
    return "" if value is None else str(value)


def reply(request_id: str, code: int = OK, data: Any = None, message: str = "") -> bytes:
    body = {"id": request_id, "code": code, "data": {} if data is None else data}
    body["message"] = message
    return orjson.dumps(body)


def request(message_id: str, method: str, params: Any) -> bytes:
    return orjson.dumps({"id": message_id, "version": "1.0", "method": method, "params": params})


def reply_code(payload: dict[str, Any]) -> int | None:
    """A device reply's code: the SDK sends a number, and a string when its handler failed."""
    code = payload.get("code")
    if isinstance(code, bool):
        return None
    if isinstance(code, int):
        return code
    if isinstance(code, str) and code.strip().lstrip("-").isdigit():
        return int(code)
    return None
