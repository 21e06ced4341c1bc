"""The registry behind the MQTT surface: the device a login names, its secrets, its connection
state (through the control plane's one online/offline path) and what it reports.

Every function opens its own transaction and returns plain values: the caller (the broker's
hooks, on the event loop) never awaits inside one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import func, select, update

from emulator.control import service as control
from emulator.control.errors import ControlError
from emulator.core import commands, registry
from emulator.core.context import Ctx
from emulator.core.sql import HotSql, const, dumps, param

VENDOR = "enos"
# Measure-point posts kept per device (oldest dropped first), for the control plane.
HISTORY_SIZE = 100
# Operations whose tickets travel to the device over MQTT (vendors/enos/commands).
MQTT_OPERATIONS = ("enos.connect.invoke_service", "enos.connect.set_measurepoint")

_D = registry.devices
_P = registry.products


@dataclass(frozen=True)
class DeviceRow:
    product_key: str
    device_key: str
    secret: str
    asset_id: str | None
    org_id: str | None
    gateway: tuple[str, str] | None


def _where(ctx: Ctx, product_key: str, device_key: str) -> tuple[Any, ...]:
    return (
        _D.c.namespace == ctx.namespace, _D.c.vendor == VENDOR,
        _D.c.product_key == product_key, _D.c.device_key == device_key,
    )  # fmt: skip


def device(ctx: Ctx, product_key: str, device_key: str) -> DeviceRow | None:
    with ctx.read() as conn:
        row = conn.execute(
            select(
                _D.c.secret, _D.c.asset_id, _D.c.org_id, _D.c.gateway_product_key,
                _D.c.gateway_device_key,
            ).where(*_where(ctx, product_key, device_key))
        ).first()  # fmt: skip
    if row is None:
        return None
    gateway = None
    if row.gateway_product_key and row.gateway_device_key:
        gateway = (row.gateway_product_key, row.gateway_device_key)
    return DeviceRow(product_key, device_key, row.secret, row.asset_id, row.org_id, gateway)


def product_secret(ctx: Ctx, product_key: str) -> str | None:
    """The product's ``productSecret`` (fixtures: ``productSecret`` of an EnOS product)."""
    with ctx.read() as conn:
        row = conn.execute(
            select(_P.c.attrs).where(
                _P.c.namespace == ctx.namespace, _P.c.vendor == VENDOR,
                _P.c.product_key == product_key,
            )
        ).first()  # fmt: skip
    if row is None:
        return None
    secret = (row.attrs or {}).get("productSecret")
    return secret if isinstance(secret, str) and secret else None


def set_online(ctx: Ctx, product_key: str, device_key: str, online: bool) -> bool:
    """The control plane's own online/offline (DPS connectStatus, cached commands delivered);
    False when the device is gone (deleted while connected)."""
    try:
        control.set_online(
            ctx, vendor=VENDOR, product_key=product_key, device_key=device_key, online=online
        )
    except ControlError:
        return False
    return True


def pending(ctx: Ctx, product_key: str, device_key: str) -> list[dict[str, Any]]:
    """Tickets delivered to this connection and not answered yet, oldest first: sent again
    when the device logs in (a cached command, or one whose earlier delivery was lost)."""
    with ctx.read() as conn:
        items = commands.inbox(conn, ctx, VENDOR, product_key, device_key)
    return [
        item for item in items
        if item["state"] == commands.SENT and (item["payload"] or {}).get("topic")
    ]  # fmt: skip


def answer(ctx: Ctx, ticket: str, success: bool, result: Any) -> dict[str, Any] | None:
    """The device answered a ticket; None when no such ticket waits for an answer."""
    try:
        with ctx.begin() as conn:
            return commands.ack(conn, ctx, ticket, success, result)
    except (commands.CommandNotFound, commands.CommandStateError):
        return None


# Every uplink message writes its device's attrs: on the driver's cursor, JSON by orjson
# (core/sql.py), as the hot HTTP paths do.
_THE_DEVICE = (
    _D.c.namespace == param("ns"), _D.c.vendor == const("enos"),
    _D.c.product_key == param("pk"), _D.c.device_key == param("dk"),
)  # fmt: skip
_ATTRS = HotSql(select(_D.c.attrs).where(*_THE_DEVICE))
_SET_ATTRS = HotSql(
    update(_D).values(attrs=param("attrs"), updated_at=param("now")).where(*_THE_DEVICE)
)


def _update_attrs(ctx: Ctx, product_key: str, device_key: str, change: Any) -> Any:
    """Read, change and write a device's ``attrs`` in one transaction; ``change(attrs)``
    returns what the caller gets back. None when the device does not exist."""
    params = {"ns": ctx.namespace, "pk": product_key, "dk": device_key}
    with ctx.begin() as conn:
        row = _ATTRS.first(conn, params)
        if row is None:
            return None
        raw = row[0]
        attrs = dict((orjson.loads(raw) if isinstance(raw, str | bytes) else raw) or {})
        result = change(attrs)
        _SET_ATTRS.execute(conn, {**params, "attrs": dumps(attrs), "now": ctx.now_ms()})
    return result


def record_measurepoints(
    ctx: Ctx, product_key: str, device_key: str, points: dict[str, Any], at: int | None
) -> bool:
    """The latest value of each measure point, and a bounded history of posts."""
    now = ctx.now_ms()

    def change(attrs: dict[str, Any]) -> bool:
        latest = dict(attrs.get("measurepoints") or {})
        stamp = at if at is not None else now
        for name, value in points.items():
            latest[name] = {"value": value, "time": stamp}
        attrs["measurepoints"] = latest
        history = list(attrs.get("measurepointHistory") or [])
        history.append({"time": stamp, "receivedAt": now, "measurepoints": points})
        attrs["measurepointHistory"] = history[-HISTORY_SIZE:]
        return True

    return bool(_update_attrs(ctx, product_key, device_key, change))


def record_event(ctx: Ctx, product_key: str, device_key: str, event: str, params: Any) -> bool:
    now = ctx.now_ms()

    def change(attrs: dict[str, Any]) -> bool:
        events = list(attrs.get("events") or [])
        events.append({"event": event, "receivedAt": now, "params": params})
        attrs["events"] = events[-HISTORY_SIZE:]
        return True

    return bool(_update_attrs(ctx, product_key, device_key, change))


def update_map(
    ctx: Ctx, product_key: str, device_key: str, key: str, values: dict[str, Any]
) -> bool:
    """Merge ``values`` into the device's ``deviceAttributes`` or ``deviceTags`` (the fields
    Create Device sets and Get Device answers)."""

    def change(attrs: dict[str, Any]) -> bool:
        attrs[key] = {**(attrs.get(key) or {}), **values}
        return True

    return bool(_update_attrs(ctx, product_key, device_key, change))


def query_map(
    ctx: Ctx, product_key: str, device_key: str, key: str, names: list[str]
) -> dict[str, Any] | None:
    with ctx.read() as conn:
        row = conn.execute(select(_D.c.attrs).where(*_where(ctx, product_key, device_key))).first()
    if row is None:
        return None
    values: dict[str, Any] = dict((row.attrs or {}).get(key) or {})
    return {k: v for k, v in values.items() if k in names} if names else values


def delete_from_map(
    ctx: Ctx, product_key: str, device_key: str, key: str, names: list[str]
) -> bool:
    def change(attrs: dict[str, Any]) -> bool:
        attrs[key] = {k: v for k, v in (attrs.get(key) or {}).items() if k not in names}
        return True

    return bool(_update_attrs(ctx, product_key, device_key, change))


def set_gateway(
    ctx: Ctx, product_key: str, device_key: str, gateway: tuple[str, str] | None
) -> bool:
    """Put a sub-device behind a gateway (topology add), or take it out (delete)."""
    gw_pk, gw_dk = gateway if gateway else (None, None)
    with ctx.begin() as conn:
        result = conn.execute(
            update(_D)
            .where(*_where(ctx, product_key, device_key))
            .values(gateway_product_key=gw_pk, gateway_device_key=gw_dk, updated_at=ctx.now_ms())
        )
    return bool(result.rowcount)


def sub_devices(ctx: Ctx, product_key: str, device_key: str) -> list[tuple[str, str]]:
    with ctx.read() as conn:
        rows = conn.execute(
            select(_D.c.product_key, _D.c.device_key)
            .where(
                _D.c.namespace == ctx.namespace, _D.c.vendor == VENDOR,
                _D.c.gateway_product_key == product_key, _D.c.gateway_device_key == device_key,
            )
            .order_by(_D.c.id)
        ).all()  # fmt: skip
    return [(r.product_key, r.device_key) for r in rows]


_C = registry.commands


def delivered_since(ctx: Ctx, after: int, limit: int = 500) -> list[dict[str, Any]]:
    """Tickets delivered (``sent``) after inbox position ``after``, oldest first: what another
    process sent to devices that may be connected to this one."""
    with ctx.read() as conn:
        rows = conn.execute(
            select(_C)
            .where(
                _C.c.namespace == ctx.namespace, _C.c.vendor == VENDOR,
                _C.c.delivery_seq > after, _C.c.state == commands.SENT,
                _C.c.operation.in_(MQTT_OPERATIONS),
            )
            .order_by(_C.c.delivery_seq)
            .limit(limit)
        ).all()  # fmt: skip
    return [commands.inbox_item(row._asdict()) for row in rows]


def last_delivery(ctx: Ctx) -> int:
    with ctx.read() as conn:
        value = conn.execute(
            select(func.max(_C.c.delivery_seq)).where(_C.c.namespace == ctx.namespace)
        ).scalar()
    return int(value or 0)
