"""EnOS connection service behaviour (enos-connect-create-device.md, REAL-CLIENTS.md §1.6-1.7).

Deviations from the real platform:
- 11714 (key generation failed) happens only when 20 generated keys in a row collide, which
  the seeded generator never does in practice: use fault injection to see it;
- an unknown org or product answers the generic 99400 (the doc names no code for them);
- ``get`` answers the fields a client reads (no model or mirror fields).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, delete, func, insert, select
from sqlalchemy.exc import IntegrityError

from emulator.core import registry
from emulator.core.context import Ctx
from emulator.core.errors import VendorError
from emulator.vendors.enos.connect.errors import ConnectError
from emulator.vendors.enos.connect.schemas import DeviceCreateRequest

VENDOR = "enos"
_KEY_ATTEMPTS = 20
_D = registry.devices
_P = registry.products
_O = registry.enos_orgs


def invalid(field: str, detail: str) -> VendorError:
    return VendorError(ConnectError.INVALID_ARGUMENT, f"Invalid Argument {field}:{detail}")


def require_org(conn: Connection, ctx: Ctx, org_id: str | None) -> str:
    if not org_id:
        raise invalid("orgId", "orgId is missing")
    found = conn.execute(
        select(_O.c.org_id).where(_O.c.namespace == ctx.namespace, _O.c.org_id == org_id)
    ).first()
    if found is None:
        raise invalid("orgId", f"organization {org_id} does not exist")
    return org_id


def _product(conn: Connection, ctx: Ctx, org_id: str, product_key: str) -> Any:
    product = conn.execute(
        select(_P.c.name, _P.c.attrs).where(
            _P.c.namespace == ctx.namespace, _P.c.vendor == VENDOR,
            _P.c.product_key == product_key, _P.c.org_id == org_id,
        )
    ).first()  # fmt: skip
    if product is None:
        raise invalid(
            "productKey", f"product {product_key} does not exist in organization {org_id}"
        )
    return product


def _key_taken(conn: Connection, ctx: Ctx, product_key: str, device_key: str) -> bool:
    return (
        conn.execute(
            select(_D.c.id).where(
                _D.c.namespace == ctx.namespace,
                _D.c.vendor == VENDOR,
                _D.c.product_key == product_key,
                _D.c.device_key == device_key,
            )
        ).first()  # fmt: skip
        is not None
    )


def create_device(ctx: Ctx, *, org_id: str | None, request: DeviceCreateRequest) -> dict[str, Any]:
    """Create Device: the DeviceCreateResult of the doc."""
    with ctx.begin() as conn:
        org_id = require_org(conn, ctx, org_id)
        row = insert_device(
            conn, ctx, org_id=org_id, product_key=request.product_key,
            device_key=request.device_key, timezone=request.timezone,
            device_name=request.device_name.model_dump(by_alias=True),
            device_attributes=request.device_attributes, device_tags=request.device_tags,
            device_desc=request.device_desc,
        )  # fmt: skip
    return {
        "productKey": row["product_key"],
        "deviceKey": row["device_key"],
        "deviceSecret": row["secret"],
        "assetId": row["asset_id"],
        "deviceSecrete": row["secret"],
    }


def insert_device(
    conn: Connection, ctx: Ctx, *, org_id: str, product_key: str, device_key: str | None,
    timezone: str, device_name: dict[str, Any], device_attributes: dict[str, Any] | None = None,
    device_tags: dict[str, str] | None = None, device_desc: str | None = None,
) -> dict[str, Any]:  # fmt: skip
    """Insert one device row of a known org: also how DPS allocation provisions a device."""
    product = _product(conn, ctx, org_id, product_key)
    if device_key is not None:
        if _key_taken(conn, ctx, product_key, device_key):
            raise VendorError(ConnectError.DEVICE_KEY_EXISTS)
    else:
        device_key = _generate_key(conn, ctx, product_key)
    quota = int(product.attrs.get("deviceQuota", 10_000))
    count = conn.execute(
        select(func.count()).select_from(_D).where(
            _D.c.namespace == ctx.namespace, _D.c.vendor == VENDOR, _D.c.product_key == product_key,
        )
    ).scalar_one()  # fmt: skip
    if count >= quota:
        raise VendorError(ConnectError.DEVICE_QUOTA_EXCEEDED)
    ids, now = ctx.ids, ctx.now_ms()
    row = {
        "namespace": ctx.namespace,
        "vendor": VENDOR,
        "product_key": product_key,
        "device_key": device_key,
        "org_id": org_id,
        "asset_id": ids.enos_asset_id(),
        "name": str(device_name.get("defaultValue", "")),
        "secret": ids.device_secret(),
        "online": False,
        "attrs": {
            "timezone": timezone,
            "deviceName": device_name,
            "deviceAttributes": device_attributes or {},
            "deviceTags": device_tags or {},
            "deviceDesc": device_desc,
        },
        "created_at": now,
        "updated_at": now,
    }
    try:
        conn.execute(insert(_D), row)
    except IntegrityError:
        # Another writer took the key between the check and the insert.
        raise VendorError(ConnectError.DEVICE_KEY_EXISTS) from None
    return row


def _generate_key(conn: Connection, ctx: Ctx, product_key: str) -> str:
    for _ in range(_KEY_ATTEMPTS):
        key = ctx.ids.enos_device_key()
        if not _key_taken(conn, ctx, product_key, key):
            return key
    raise VendorError(ConnectError.DEVICE_KEY_GENERATION_FAILED)


def _select_device(
    conn: Connection, ctx: Ctx, org_id: str, asset_id: str | None, product_key: str | None,
    device_key: str | None,
) -> Any:  # fmt: skip
    where = [_D.c.namespace == ctx.namespace, _D.c.vendor == VENDOR, _D.c.org_id == org_id]
    if asset_id:
        where.append(_D.c.asset_id == asset_id)
    elif product_key and device_key:
        where += [_D.c.product_key == product_key, _D.c.device_key == device_key]
    else:
        raise invalid("assetId", "assetId or productKey + deviceKey is required")
    row = conn.execute(select(_D).where(*where)).first()
    if row is None:
        raise VendorError(ConnectError.DEVICE_NOT_FOUND)
    return row


def device_status(row: Any) -> str:
    if row.first_online_at is None and not row.online:
        return "inactive"
    return "online" if row.online else "offline"


def get_device(
    ctx: Ctx, *, org_id: str | None, asset_id: str | None, product_key: str | None,
    device_key: str | None,
) -> dict[str, Any]:  # fmt: skip
    """Get Device: the Device struct."""
    with ctx.read() as conn:
        org_id = require_org(conn, ctx, org_id)
        row = _select_device(conn, ctx, org_id, asset_id, product_key, device_key)
        product = conn.execute(
            select(_P.c.name).where(
                _P.c.namespace == ctx.namespace, _P.c.vendor == VENDOR,
                _P.c.product_key == row.product_key,
            )
        ).first()  # fmt: skip
    attrs = row.attrs or {}
    return {
        "orgId": row.org_id,
        "assetId": row.asset_id,
        "productKey": row.product_key,
        "productName": {"defaultValue": product.name if product else "", "i18nValue": {}},
        "deviceKey": row.device_key,
        "deviceName": attrs.get("deviceName") or {"defaultValue": row.name, "i18nValue": {}},
        "deviceSecret": row.secret,
        "deviceDesc": attrs.get("deviceDesc"),
        "timezone": attrs.get("timezone", "+08:00"),
        "deviceAttributes": attrs.get("deviceAttributes", {}),
        "deviceTags": attrs.get("deviceTags", {}),
        "createTime": row.created_at,
        "status": device_status(row),
    }


def delete_device(
    ctx: Ctx, *, org_id: str | None, asset_id: str | None, product_key: str | None,
    device_key: str | None,
) -> None:  # fmt: skip
    """Delete Device: ``data`` is null."""
    with ctx.begin() as conn:
        org_id = require_org(conn, ctx, org_id)
        row = _select_device(conn, ctx, org_id, asset_id, product_key, device_key)
        conn.execute(delete(_D).where(_D.c.id == row.id))
