"""What the platform answers to each request a device publishes (ENOS-DEVICES.md §3).

Each handler gets the connection's device, the topic's device (itself, or a sub-device behind
it) and the request's ``params``, and returns the reply's ``data``, or raises
:class:`~.protocol.Refused` with a documented code. The dispatcher checks the common rules
first: a JSON object (1220, 1251, 1008), a method that matches the topic (1260), and a topic
this connection may write (1009).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from emulator.core.context import Ctx
from emulator.vendors.enos.mqtt import login, protocol, store
from emulator.vendors.enos.mqtt.errors import MqttCode, SubDeviceCode
from emulator.vendors.enos.mqtt.protocol import Refused, Topic

Device = tuple[str, str]


@dataclass
class Connection:
    """A logged-in device connection: the device, and the sub-devices logged in through it."""

    device: Device
    sub_devices: set[Device] = field(default_factory=set)


Handler = Callable[[Ctx, Connection, Topic, Any], Any]


def _point_map(params: Any) -> tuple[dict[str, Any], int | None]:
    if not isinstance(params, dict) or not isinstance(params.get("measurepoints"), dict):
        raise Refused.of(MqttCode.PAYLOAD_FORMAT_ERROR, "params.measurepoints must be an object")
    at = params.get("time")
    return params["measurepoints"], at if isinstance(at, int) else None


def measurepoint_post(ctx: Ctx, conn: Connection, topic: Topic, params: Any) -> Any:
    points, at = _point_map(params)
    store.record_measurepoints(ctx, topic.product_key, topic.device_key, points, at)
    return {}


def _key(item: dict[str, Any], name: str) -> str | None:
    """An entry's ``productKey`` or ``deviceKey``: a string, or absent (null) for the topic's
    device; any other value is a payload format error, as a mistyped field of every topic."""
    value = item.get(name)
    if value is not None and not isinstance(value, str):
        raise Refused.of(MqttCode.PAYLOAD_FORMAT_ERROR, f"params[].{name} must be a string")
    return value


def measurepoint_batch(ctx: Ctx, conn: Connection, topic: Topic, params: Any) -> Any:
    """``params``: a list of posts, each naming its device (the gateway's sub-devices) or not."""
    if not isinstance(params, list):
        raise Refused.of(MqttCode.PAYLOAD_FORMAT_ERROR, "params must be a list")
    for item in params:
        points, at = _point_map(item)
        pk = _key(item, "productKey") or topic.product_key
        dk = _key(item, "deviceKey") or topic.device_key
        if (pk, dk) != conn.device and (pk, dk) not in conn.sub_devices:
            raise Refused.of(MqttCode.NO_WRITE_PERMISSION, f"{pk}/{dk} is not logged in here")
        store.record_measurepoints(ctx, pk, dk, points, at)
    return {}


def event_post(ctx: Ctx, conn: Connection, topic: Topic, params: Any) -> Any:
    event = topic.path.split("/")[2]
    store.record_event(ctx, topic.product_key, topic.device_key, event, params)
    return {}


def _names(params: Any, key: str) -> list[str]:
    names = params.get(key) if isinstance(params, dict) else None
    if names is None:
        return []
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise Refused.of(MqttCode.PAYLOAD_FORMAT_ERROR, f"params.{key} must be a list of names")
    return names


def _values(params: Any, key: str) -> dict[str, Any]:
    values = params.get(key) if isinstance(params, dict) else None
    if not isinstance(values, dict):
        raise Refused.of(MqttCode.PAYLOAD_FORMAT_ERROR, f"params.{key} must be an object")
    return values


def attribute_update(ctx: Ctx, conn: Connection, topic: Topic, params: Any) -> Any:
    values = _values(params, "attributes")
    store.update_map(ctx, topic.product_key, topic.device_key, "deviceAttributes", values)
    return {}


def attribute_query(ctx: Ctx, conn: Connection, topic: Topic, params: Any) -> Any:
    names = _names(params, "attributes")
    found = store.query_map(ctx, topic.product_key, topic.device_key, "deviceAttributes", names)
    return found or {}


def attribute_delete(ctx: Ctx, conn: Connection, topic: Topic, params: Any) -> Any:
    names = _names(params, "attributes")
    store.delete_from_map(ctx, topic.product_key, topic.device_key, "deviceAttributes", names)
    return {}


def tag_update(ctx: Ctx, conn: Connection, topic: Topic, params: Any) -> Any:
    # The SDK sends a list of {tagKey, tagValue}; EnOS's docs also show a plain object.
    tags: dict[str, Any] = {}
    items = params.get("tags") if isinstance(params, dict) else params
    if isinstance(items, dict):
        tags = items
    elif isinstance(items, list):
        for item in items:
            if not isinstance(item, dict) or "tagKey" not in item:
                raise Refused.of(MqttCode.PAYLOAD_FORMAT_ERROR, "a tag is {tagKey, tagValue}")
            tags[str(item["tagKey"])] = item.get("tagValue")
    else:
        raise Refused.of(MqttCode.PAYLOAD_FORMAT_ERROR, "params must hold the tags")
    store.update_map(ctx, topic.product_key, topic.device_key, "deviceTags", tags)
    return {}


def _sub_device(item: Any) -> Device:
    if not isinstance(item, dict) or not item.get("productKey") or not item.get("deviceKey"):
        raise Refused.of(MqttCode.PAYLOAD_FORMAT_ERROR, "a sub-device has productKey, deviceKey")
    return str(item["productKey"]), str(item["deviceKey"])


def _signed_by(ctx: Ctx, item: dict[str, Any]) -> store.DeviceRow:
    """The sub-device an entry names, its signature checked with the sub-device's secret."""
    pk, dk = _sub_device(item)
    row = store.device(ctx, pk, dk)
    params = {k: str(item.get(k, "")) for k in ("productKey", "deviceKey", "clientId", "timestamp")}
    sign = str(item.get("sign", "")).lower()
    if row is None or not row.secret or login.sign(params, row.secret) != sign:
        raise Refused.of(SubDeviceCode.SIGNATURE_INVALID, f"sub-device {pk}/{dk}")
    return row


def topo_add(ctx: Ctx, conn: Connection, topic: Topic, params: Any) -> Any:
    if not isinstance(params, list):
        raise Refused.of(MqttCode.PAYLOAD_FORMAT_ERROR, "params must be a list")
    for item in params:
        row = _signed_by(ctx, item)
        store.set_gateway(ctx, row.product_key, row.device_key, conn.device)
    return {}


def topo_get(ctx: Ctx, conn: Connection, topic: Topic, params: Any) -> Any:
    return [
        {"productKey": pk, "deviceKey": dk}
        for pk, dk in store.sub_devices(ctx, *conn.device)
    ]  # fmt: skip


def topo_delete(ctx: Ctx, conn: Connection, topic: Topic, params: Any) -> Any:
    if not isinstance(params, list):
        raise Refused.of(MqttCode.PAYLOAD_FORMAT_ERROR, "params must be a list")
    for item in params:
        pk, dk = _sub_device(item)
        if (pk, dk) in store.sub_devices(ctx, *conn.device):
            store.set_gateway(ctx, pk, dk, None)
            if (pk, dk) in conn.sub_devices:
                conn.sub_devices.discard((pk, dk))
                store.set_online(ctx, pk, dk, False)
    return {}


def sub_login(ctx: Ctx, conn: Connection, topic: Topic, params: Any) -> Any:
    row = _signed_by(ctx, params)
    key = (row.product_key, row.device_key)
    if row.gateway != conn.device:
        raise Refused.of(SubDeviceCode.NOT_IN_TOPOLOGY, f"sub-device {key[0]}/{key[1]}")
    conn.sub_devices.add(key)
    store.set_online(ctx, *key, True)
    return {"productKey": key[0], "deviceKey": key[1], "assetId": row.asset_id}


def sub_login_batch(ctx: Ctx, conn: Connection, topic: Topic, params: Any) -> Any:
    items = params.get("subDevices") if isinstance(params, dict) else params
    if not isinstance(items, list):
        raise Refused.of(MqttCode.PAYLOAD_FORMAT_ERROR, "params.subDevices must be a list")
    done = [sub_login(ctx, conn, topic, item) for item in items]
    return {"loginedSubDevices": done, "failedSubDevices": []}


def sub_logout(ctx: Ctx, conn: Connection, topic: Topic, params: Any) -> Any:
    key = _sub_device(params)
    if key in conn.sub_devices:
        conn.sub_devices.discard(key)
        store.set_online(ctx, *key, False)
    return {"productKey": key[0], "deviceKey": key[1]}


# topic path (after /sys/{pk}/{dk}/ or /ext/session/{pk}/{dk}/) -> (method, handler)
ROUTES: dict[str, tuple[str, Handler]] = {
    "thing/measurepoint/post": ("thing.measurepoint.post", measurepoint_post),
    "thing/measurepoint/resume": ("thing.measurepoint.resume", measurepoint_post),
    "thing/measurepoint/post/batch": ("thing.measurepoint.post.batch", measurepoint_batch),
    "thing/measurepoint/resume/batch": ("thing.measurepoint.resume.batch", measurepoint_batch),
    "thing/attribute/update": ("thing.attribute.update", attribute_update),
    "thing/attribute/query": ("thing.attribute.query", attribute_query),
    "thing/attribute/delete": ("thing.attribute.delete", attribute_delete),
    "thing/tag/update": ("thing.tag.update", tag_update),
    "thing/topo/add": ("thing.topo.add", topo_add),
    "thing/topo/get": ("thing.topo.get", topo_get),
    "thing/topo/delete": ("thing.topo.delete", topo_delete),
    "combine/login": ("combine.login", sub_login),
    "combine/login/batch": ("combine.login.batch", sub_login_batch),
    "combine/logout": ("combine.logout", sub_logout),
}
EVENT_POST = "thing/event/{eventId}/post"
# Topics whose entries a sub-device's secret signs (1246), and the sub-device logins, which
# also need the sub-device in the gateway's topology (1248).
SIGNED = ("thing/topo/add", "combine/login", "combine/login/batch")
LOGINS = ("combine/login", "combine/login/batch")
# Topics only a gateway's own connection publishes (never on behalf of a sub-device).
_OWN_ONLY = {"thing/topo/add", "thing/topo/get", "thing/topo/delete", "combine/login",
             "combine/login/batch", "combine/logout"}  # fmt: skip


def route(topic: Topic) -> tuple[str, Handler] | None:
    found = ROUTES.get(topic.path)
    if found is not None:
        return found
    parts = topic.path.split("/")
    # thing/event/{eventId}/post
    if len(parts) == 4 and parts[:2] == ["thing", "event"] and parts[3] == "post" and parts[2]:
        return f"thing.event.{parts[2]}.post", event_post
    return None


def operation_id(path: str) -> str:
    """The operation id of a request topic's path (``thing/measurepoint/post`` ->
    ``enos.mqtt.measurepoint_post``): the journal's, the faults' and the reports'."""
    parts = path.split("/")
    if parts[:2] == ["thing", "event"]:
        return "enos.mqtt.event_post"
    return "enos.mqtt." + "_".join(p for p in parts if p != "thing")


# Every request topic the platform does not serve (answered 1009): one declared operation, so
# that faults aim at them and reports list them; the journal entry's path keeps the topic.
UNSUPPORTED = "enos.mqtt.unsupported_topic"


def operation_of(topic: Topic) -> str:
    return operation_id(topic.path) if route(topic) is not None else UNSUPPORTED


def handle(ctx: Ctx, conn: Connection, topic: Topic, payload: dict[str, Any]) -> Any:
    """The reply's ``data`` for one request; :class:`Refused` for a documented error."""
    found = route(topic)
    if found is None:
        raise Refused.of(MqttCode.NO_WRITE_PERMISSION, f"unsupported topic {topic.raw}")
    method, handler = found
    device = (topic.product_key, topic.device_key)
    allowed = device == conn.device or (device in conn.sub_devices and topic.path not in _OWN_ONLY)
    if not allowed:
        raise Refused.of(MqttCode.NO_WRITE_PERMISSION, f"{device[0]}/{device[1]} is not logged in")
    if payload.get("method") != method:
        raise Refused.of(MqttCode.METHOD_NOT_CONSISTENT, f"topic {topic.raw} takes method {method}")
    return handler(ctx, conn, topic, payload.get("params"))


def decode_request(data: bytes | bytearray | None) -> dict[str, Any]:
    return protocol.decode(data)
