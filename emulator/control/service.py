"""Control-plane behaviour; no FastAPI here."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Connection, func, select, update

from emulator import __version__
from emulator.control.errors import ControlError
from emulator.control.schemas import DeviceList, DeviceView, Health
from emulator.core import registry
from emulator.core.context import Ctx, Emulator

# Called inside the transaction that brings a device online, with (conn, ctx, device row):
# the command engine delivers cached commands here. Vendors register at import time.
ON_ONLINE: list[Callable[[Connection, Ctx, DeviceView], None]] = []


def health(emulator: Emulator) -> Health:
    return Health(
        status="ok",
        version=__version__,
        auth=emulator.settings.auth,
        namespaces=len(emulator.namespaces.names()),
    )


def list_devices(
    ctx: Ctx,
    *,
    vendor: str | None,
    product_key: str | None,
    online: bool | None,
    limit: int,
    offset: int,
) -> DeviceList:
    t = registry.devices
    where = [t.c.namespace == ctx.namespace]
    if vendor is not None:
        where.append(t.c.vendor == vendor)
    if product_key is not None:
        where.append(t.c.product_key == product_key)
    if online is not None:
        where.append(t.c.online == online)
    with ctx.read() as conn:
        total = conn.execute(select(func.count()).select_from(t).where(*where)).scalar_one()
        rows = conn.execute(
            select(*(t.c[name] for name in _column_names()))
            .where(*where)
            .order_by(t.c.id)
            .limit(limit)
            .offset(offset)
        ).mappings()
        devices = [DeviceView.model_validate(dict(row)) for row in rows]
    return DeviceList(namespace=ctx.namespace, total=total, devices=devices)


def _column_names() -> list[str]:
    return [
        "vendor", "product_key", "device_key", "name", "secret", "org_id", "asset_id", "online",
        "gateway_product_key", "gateway_device_key", "attrs", "created_at", "updated_at",
        "first_online_at", "last_online_at", "last_offline_at",
    ]  # fmt: skip


def set_online(
    ctx: Ctx, *, vendor: str, product_key: str, device_key: str, online: bool
) -> DeviceView:
    """Bring a simulated device online or take it offline (the device's connection)."""
    t = registry.devices
    where = (
        t.c.namespace == ctx.namespace, t.c.vendor == vendor,
        t.c.product_key == product_key, t.c.device_key == device_key,
    )  # fmt: skip
    now = ctx.now_ms()
    with ctx.begin() as conn:
        row = conn.execute(select(t.c.first_online_at).where(*where)).first()
        if row is None:
            raise ControlError(404, f"no {vendor} device {product_key}/{device_key}")
        changes: dict[str, object] = {"online": online, "updated_at": now}
        if online:
            changes["last_online_at"] = now
            if row.first_online_at is None:
                changes["first_online_at"] = now
        else:
            changes["last_offline_at"] = now
        conn.execute(update(t).where(*where).values(**changes))
        view = DeviceView.model_validate(
            dict(
                conn.execute(select(*(t.c[n] for n in _column_names())).where(*where))
                .mappings()
                .one()
            )
        )
        if online:
            for hook in ON_ONLINE:
                hook(conn, ctx, view)
    return view
