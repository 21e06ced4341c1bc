"""Control-plane behaviour; no FastAPI here."""

from __future__ import annotations

from sqlalchemy import func, select

from emulator import __version__
from emulator.control.schemas import DeviceList, DeviceView, Health
from emulator.core import registry
from emulator.core.context import Ctx, Emulator

_DEVICE_FIELDS = tuple(DeviceView.model_fields)


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
