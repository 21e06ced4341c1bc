"""EnOS connection service behaviour (enos-connect-create-device.md, REAL-CLIENTS.md §1.6-1.7).

Deviations from the real platform:
- 11714 (key generation failed) happens only when a generated key collides with an existing
  one, which a 10-character random key practically never does: use fault injection to see it;
- an unknown org or product answers the generic 99400 (the doc names no code for them);
- ``get`` answers the fields a client reads (no model or mirror fields).
"""

from __future__ import annotations

import functools
from typing import Any

from sqlalchemy import (
    Connection,
    Numeric,
    and_,
    case,
    cast,
    delete,
    func,
    insert,
    select,
    update,
)  # fmt: skip
from sqlalchemy.exc import IntegrityError

from emulator.core import registry
from emulator.core.context import Ctx
from emulator.core.errors import VendorError
from emulator.core.ids import Drawn
from emulator.core.sql import HotSql, const, dumps, insert_of, loads, param
from emulator.vendors.enos import ids as enos_ids
from emulator.vendors.enos import tables
from emulator.vendors.enos.connect.errors import ConnectError
from emulator.vendors.enos.connect.schemas import DeviceCreateRequest
from emulator.vendors.enos.fixtures import DEFAULT_QUOTA

VENDOR = "enos"
_D = registry.devices
_P = registry.products

# The create path runs on every request of a load test: its statements run on the driver's
# cursor (core/sql.py).
_O = tables.orgs
ORG_EXISTS = HotSql(
    select(_O.c.org_id).where(_O.c.namespace == param("ns"), _O.c.org_id == param("org"))
)
_THE_PRODUCT = (
    _P.c.namespace == param("ns"), _P.c.vendor == const(VENDOR), _P.c.product_key == param("pk")
)  # fmt: skip
# Why a create inserted nothing: no org (no row), or no such product in it (NULLs).
_org, _product = _O.alias("o"), _P.alias("p")
_org_product = and_(
    _product.c.namespace == _org.c.namespace, _product.c.vendor == const(VENDOR),
    _product.c.product_key == param("pk"), _product.c.org_id == _org.c.org_id,
)  # fmt: skip
_ORG_AND_PRODUCT = HotSql(
    select(_org.c.org_id, _product.c.product_key, _product.c.attrs)
    .select_from(_org.outerjoin(_product, _org_product))
    .where(_org.c.namespace == param("ns"), _org.c.org_id == param("org"))
)
_GIVE_BACK_QUOTA = HotSql(
    update(_P).values(quota_used=_P.c.quota_used - const(1)).where(*_THE_PRODUCT)
)
# A create on PostgreSQL, in one statement (two round trips and two statements fewer): the
# device is inserted only where its org and the org's product exist (nothing inserted:
# _ORG_AND_PRODUCT says which is missing), then a place of the product's quota is taken and
# checked against the quota in its attrs by insert_device. The insert comes first: an
# existing deviceKey answers 11702 even in a full product.
_NEW_DEVICE = (
    "device_key", "asset_id", "name", "secret", "online", "attrs", "created_at", "updated_at",
)  # fmt: skip
_INSERTED = (
    insert(_D)
    .from_select(
        ["namespace", "vendor", "product_key", "org_id", *_NEW_DEVICE],
        select(
            _org.c.namespace, _product.c.vendor, _product.c.product_key, _org.c.org_id,
            *(param(name) for name in _NEW_DEVICE),
        )
        .select_from(_org.join(_product, _org_product))
        .where(_org.c.namespace == param("ns"), _org.c.org_id == param("org")),
    )
    .returning(_D.c.product_key)
    .cte("inserted")
)  # fmt: skip
_TAKE_QUOTA = update(_P).values(quota_used=_P.c.quota_used + const(1))
_CREATE = HotSql(
    _TAKE_QUOTA.where(
        _P.c.namespace == param("ns"), _P.c.vendor == const(VENDOR),
        _P.c.product_key == _INSERTED.c.product_key,
    )
    .returning(_P.c.quota_used, _P.c.attrs)
    .add_cte(_INSERTED)
)  # fmt: skip
# A create on PostgreSQL as one statement committed alone (Ctx.alone: one round trip, no
# BEGIN and COMMIT): a place of the quota is taken first, only where the org, its product
# and a free place exist, then the device is inserted in it. An existing deviceKey fails the
# statement (11702, nothing taken). Nothing taken: a missing org or product, or a full
# product, which the transaction of _CREATE then tells apart as before (create_device). The
# quota read as _quota does, for a number or no quota at all; any other value takes nothing.
_QUOTA_OF_ATTRS = _P.c.attrs.op("->")(const("deviceQuota"))
_QUOTA_IN_SQL = case(
    (_QUOTA_OF_ATTRS.is_(None), const(DEFAULT_QUOTA)),
    (
        func.json_typeof(_QUOTA_OF_ATTRS) == const("number"),
        func.trunc(cast(_P.c.attrs.op("->>")(const("deviceQuota")), Numeric)),
    ),
)
_PLACE_TAKEN = (
    _TAKE_QUOTA.where(
        *_THE_PRODUCT, _P.c.org_id == param("org"), _P.c.quota_used < _QUOTA_IN_SQL,
        select(_O.c.org_id).where(_O.c.namespace == param("ns"), _O.c.org_id == param("org"))
        .exists(),
    )
    .returning(_P.c.namespace, _P.c.vendor, _P.c.product_key, _P.c.org_id)
    .cte("taken")
)  # fmt: skip
_CREATE_ALONE = HotSql(
    insert(_D)
    .from_select(
        ["namespace", "vendor", "product_key", "org_id", *_NEW_DEVICE],
        select(
            _PLACE_TAKEN.c.namespace, _PLACE_TAKEN.c.vendor, _PLACE_TAKEN.c.product_key,
            _PLACE_TAKEN.c.org_id, *(param(name) for name in _NEW_DEVICE),
        ),
    )
    .returning(_D.c.product_key)
    .add_cte(_PLACE_TAKEN)
)  # fmt: skip
# On SQLite (no insert in a WITH; a statement there costs microseconds, and the two of the
# statement above cost more than these three): the checks, the insert, then a place of the
# quota taken atomically (no row updated: the quota is full).
_INSERT_DEVICE = HotSql(
    insert_of(_D, ("namespace", "vendor", "product_key", "org_id", *_NEW_DEVICE))
)
_TAKE_A_PLACE = HotSql(_TAKE_QUOTA.where(*_THE_PRODUCT, _P.c.quota_used < param("quota")))


def invalid(field: str, detail: str) -> VendorError:
    return VendorError(ConnectError.INVALID_ARGUMENT, f"Invalid Argument {field}:{detail}")


def _require_org_id(org_id: str | None) -> str:
    if not org_id:
        raise invalid("orgId", "orgId is missing")
    return org_id


def _no_org(org_id: str) -> VendorError:
    return invalid("orgId", f"organization {org_id} does not exist")


def require_org(conn: Connection, ctx: Ctx, org_id: str | None) -> str:
    org_id = _require_org_id(org_id)
    if ORG_EXISTS.first(conn, {"ns": ctx.namespace, "org": org_id}) is None:
        raise _no_org(org_id)
    return org_id


def create_device(ctx: Ctx, *, org_id: str | None, request: DeviceCreateRequest) -> dict[str, Any]:
    """Create Device: the DeviceCreateResult of the doc."""
    org_id = _require_org_id(org_id)
    device: dict[str, Any] = {
        "org_id": org_id, "product_key": request.product_key,
        "device_key": request.device_key, "timezone": request.timezone,
        "device_name": request.device_name.model_dump(by_alias=True),
        "device_attributes": request.device_attributes, "device_tags": request.device_tags,
        "device_desc": request.device_desc,
    }  # fmt: skip
    row = _created_alone(ctx, device) if ctx.on_postgresql else None
    if row is None:
        with ctx.begin() as conn:
            row = insert_device(conn, ctx, **device)
    return {
        "productKey": row["product_key"],
        "deviceKey": row["device_key"],
        "deviceSecret": row["secret"],
        "assetId": row["asset_id"],
        "deviceSecrete": row["secret"],
    }


def _created_alone(ctx: Ctx, device: dict[str, Any]) -> dict[str, Any] | None:
    """On PostgreSQL, the device created by one statement (_CREATE_ALONE), or None when it
    took no place of a quota (its ids given back): the caller's transaction says why."""
    params, row, drawn = _new_device(ctx, **device)
    try:
        with ctx.alone() as conn:
            created = _CREATE_ALONE.first(conn, params)
    except IntegrityError:
        raise _key_taken(device["device_key"]) from None
    if created is None:
        ctx.ids.give_back(drawn)
        return None
    return row


def _new_device(
    ctx: Ctx, *, org_id: str, product_key: str, device_key: str | None, timezone: str,
    device_name: dict[str, Any], device_attributes: dict[str, Any] | None = None,
    device_tags: dict[str, str] | None = None, device_desc: str | None = None,
) -> tuple[dict[str, Any], dict[str, Any], Drawn]:  # fmt: skip
    """A device's statement parameters, its row, and the ids drawn for it."""
    params: dict[str, Any] = {"ns": ctx.namespace, "org": org_id, "pk": product_key}
    ids, now = ctx.ids, ctx.now_ms()
    with ids.drawing() as drawn:
        key = device_key if device_key is not None else enos_ids.device_key(ids)
        asset_id = enos_ids.asset_id(ids)
        secret = ids.device_secret()
    row = {
        "namespace": ctx.namespace,
        "vendor": VENDOR,
        "product_key": product_key,
        "device_key": key,
        "org_id": org_id,
        "asset_id": asset_id,
        "name": str(device_name.get("defaultValue", "")),
        "secret": secret,
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
    params.update(row, attrs=dumps(row["attrs"]))
    return params, row, drawn


def insert_device(
    conn: Connection, ctx: Ctx, *, org_id: str, product_key: str, device_key: str | None,
    timezone: str, device_name: dict[str, Any], device_attributes: dict[str, Any] | None = None,
    device_tags: dict[str, str] | None = None, device_desc: str | None = None,
) -> dict[str, Any]:  # fmt: skip
    """Insert one device row of an org's product: also how DPS allocation provisions a device.

    The org and product checks, the insert and the quota are one statement on PostgreSQL
    (_CREATE), three on SQLite. The unique key of the registry is the duplicate check
    (11702). A generated key that collides (never seen with a 10-character key) is the
    platform's own 11714, "Generate deviceKey failed". An unknown org or product (99400)
    draws no ids (on PostgreSQL those drawn for the statement are given back).
    """
    on_postgresql = conn.dialect.name == "postgresql"
    product_attrs = None
    if not on_postgresql:
        checks = {"ns": ctx.namespace, "org": org_id, "pk": product_key}
        found = _ORG_AND_PRODUCT.first(conn, checks)
        if found is None or found[1] is None:
            raise _missing(found, org_id, product_key)
        product_attrs = found[2]
    params, row, drawn = _new_device(
        ctx, org_id=org_id, product_key=product_key, device_key=device_key, timezone=timezone,
        device_name=device_name, device_attributes=device_attributes, device_tags=device_tags,
        device_desc=device_desc,
    )  # fmt: skip
    ids = ctx.ids
    try:
        if on_postgresql:
            taken = _CREATE.first(conn, params)
        else:
            _INSERT_DEVICE.execute(conn, params)
    except IntegrityError:
        raise _key_taken(device_key) from None
    # After the insert, so an existing deviceKey answers 11702 even in a full product; the
    # caller's transaction rolls the insert back when the quota is full.
    if not on_postgresql:
        params["quota"] = _quota(product_attrs)
        full = _TAKE_A_PLACE.rowcount(conn, params) == 0
    elif taken is None:
        ids.give_back(drawn)
        raise _missing(_ORG_AND_PRODUCT.first(conn, params), org_id, product_key)
    else:  # the place is taken whatever the quota
        full = taken[0] > _quota(taken[1])
    if full:
        raise VendorError(ConnectError.DEVICE_QUOTA_EXCEEDED)
    return row


def _key_taken(device_key: str | None) -> VendorError:
    """The registry's unique key refused the insert: 11702 for a deviceKey the caller gave,
    the platform's 11714 for a generated one that collided."""
    if device_key is None:
        return VendorError(ConnectError.DEVICE_KEY_GENERATION_FAILED)
    return VendorError(ConnectError.DEVICE_KEY_EXISTS)


def _missing(found: tuple[Any, ...] | None, org_id: str, product_key: str) -> VendorError:
    """99400 for a create whose org (``found`` None) or product is missing."""
    if found is None:
        return _no_org(org_id)
    return invalid("productKey", f"product {product_key} does not exist in organization {org_id}")


def _quota(attrs: Any) -> int:
    """The device quota in a product's attrs: text on SQLite, where every create reads its
    product's (the same few texts, each decoded once), already decoded on PostgreSQL."""
    return _quota_in_text(attrs) if isinstance(attrs, str) else _quota_of(attrs)


@functools.lru_cache(maxsize=256)
def _quota_in_text(attrs: str) -> int:
    return _quota_of(attrs)


def _quota_of(attrs: Any) -> int:
    return int((loads(attrs) or {}).get("deviceQuota", DEFAULT_QUOTA))


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
        _GIVE_BACK_QUOTA.execute(conn, {"ns": ctx.namespace, "pk": row.product_key})
