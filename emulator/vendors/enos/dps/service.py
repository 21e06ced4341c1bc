"""EnOS DPS behaviour: the SN inventory and its provisioning lifecycle (enos-dps-allocate.md,
REAL-CLIENTS.md §1.6-1.7).

An SN lives in a registration group of an org. ``allocate`` provisions it for real: the
group's product gets a device in the connection-service registry (the same rows the
connection service's ``get`` reads), and ``deviceData.assetId`` names it. The device's first
connection after the allocation (the control plane's ``online``, through the emulator's
``device came online`` hook, vendor.py) moves the SN to ``connected``; ``connectStatus``
then follows the device's online state.

Deviations from the real platform:
- status values: ``currentStatus`` is ``init`` -> ``allocated`` -> ``connected``,
  ``allocateStatus`` ``init`` | ``allocated``, ``connectStatus`` ``init`` | ``connected`` |
  ``disconnected`` (the docs do not list the values; ``finishedTime`` and ``discardedTime``
  stay null, ``allocateErrorMsg``, ``createBy`` and ``updateBy`` too);
- an unknown orgId answers 35400 ("The orgId is blank or invalid"); the doc names no other;
- ``deviceData`` keys with no master-data definition are accepted as they are (the platform's
  built-in master data are not enumerated); ``Date`` values are ISO-8601 strings;
- the provisioned device gets a generated deviceKey, the ``deviceData`` ``deviceName`` and
  ``timezone`` when they are given (else the SN and ``+08:00``); an allocation that the
  connection service refuses (11739 "Exceed max device size") answers that code;
- ``delete`` leaves the provisioned connection-service device in place;
- ``search`` understands equality on sn, groupId, regionId, productKey, status, batchOrder
  and ``deviceData.<key>`` joined by ``and``, and a blank expression matching every SN;
  ``orgId`` is optional there (the English docs omit it);
- 35603 "Unauthorized to access the resource" (no DPS role) is reachable only by a fault.
"""

from __future__ import annotations

import re
import string
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Select,
    and_,
    delete,
    false,
    func,
    insert,
    null,
    select,
    true,
    update,
)

from emulator.control.schemas import DeviceView
from emulator.core import faults, registry
from emulator.core.context import Ctx
from emulator.core.errors import VendorError
from emulator.core.sql import HotSql, const, dumps, param
from emulator.vendors.enos import tables
from emulator.vendors.enos.connect import service as connect
from emulator.vendors.enos.dps.errors import DpsError
from emulator.vendors.enos.dps.master_data import check_device_data, invalid
from emulator.vendors.enos.dps.schemas import (
    PvsDeviceAllocateRequest,
    PvsDeviceCreateInfo,
    PvsDeviceDeleteRequest,
    PvsDeviceResetRequest,
    PvsDeviceSearchRequest,
    PvsDeviceUpdateRequest,
)

VENDOR = "enos"
_S = tables.dps_devices
_G = tables.dps_groups
_D = registry.devices

# Allocation runs on every request of a load test: its statements run on the driver's cursor
# (core/sql.py). ``_FIND`` is an SN with its registration group and the connection-service
# device it provisioned.
_M = tables.dps_master_data
_FIND = HotSql(
    select(
        _S.c.sn, _S.c.org_id, _S.c.group_id, _S.c.allocate_status, _S.c.allocated_at,
        _S.c.connected_at, _S.c.reprovisioning, _S.c.product_key, _S.c.device_key, _S.c.attrs,
        _S.c.created_at, _S.c.updated_at, _G.c.product_key.label("group_product_key"),
        _G.c.region_id, _D.c.online,
    )
    .select_from(
        _S.outerjoin(_G, and_(
            _G.c.namespace == _S.c.namespace, _G.c.org_id == _S.c.org_id,
            _G.c.group_id == _S.c.group_id,
        ))
        .outerjoin(_D, and_(
            _D.c.namespace == _S.c.namespace, _D.c.vendor == const(VENDOR),
            _D.c.product_key == _S.c.product_key, _D.c.device_key == _S.c.device_key,
        ))
    )
    .where(_S.c.namespace == param("ns"), _S.c.org_id == param("org"), _S.c.sn == param("sn"))
)  # fmt: skip
_GROUP = HotSql(
    select(_G.c.group_id, _G.c.product_key, _G.c.region_id, _G.c.master_data_group, _G.c.attrs)
    .where(_G.c.namespace == param("ns"), _G.c.org_id == param("org"),
           _G.c.group_id == param("group"))
)  # fmt: skip
_ORG_DEFINITIONS = select(_M.c.key, _M.c.data_type, _M.c.attrs).where(
    _M.c.namespace == param("ns"), _M.c.org_id == param("org")
)
_DEFINITIONS = HotSql(_ORG_DEFINITIONS)
_GROUP_DEFINITIONS = HotSql(_ORG_DEFINITIONS.where(_M.c.master_data_group == param("mdg")))
_PROVISIONED = HotSql(
    select(_D.c.device_key, _D.c.asset_id).where(
        _D.c.namespace == param("ns"),
        _D.c.vendor == const(VENDOR),
        _D.c.product_key == param("pk"),
        _D.c.device_key == param("dk"),
    )
)
_ALLOCATED = HotSql(
    update(_S)
    .values(
        allocate_status=const("allocated"), allocated_at=param("now"), connected_at=null(),
        reprovisioning=param("again"), product_key=param("pk"), device_key=param("dk"),
        attrs=param("attrs"), updated_at=param("now"),
    )
    .where(_S.c.namespace == param("ns"), _S.c.org_id == param("org"), _S.c.sn == param("sn"))
)  # fmt: skip

MAX_COUNT = 1_000_000
_SN_ALPHABET = string.ascii_uppercase + string.digits
_SN_LENGTH = 16
_DEFAULT_TIMEZONE = "+08:00"


# --- lookups ------------------------------------------------------------------------------


def _require_org(conn: Connection, ctx: Ctx, org_id: str | None) -> str:
    # 35400: "The orgId is blank or invalid".
    org_id = (org_id or "").strip()
    if not org_id:
        raise VendorError(DpsError.ORG_OR_SN_REQUIRED)
    found = connect.ORG_EXISTS.first(conn, {"ns": ctx.namespace, "org": org_id})
    if found is None:
        raise VendorError(DpsError.ORG_OR_SN_REQUIRED)
    return org_id


def _require_sn(sn: str | None) -> str:
    sn = (sn or "").strip()
    if not sn:
        raise VendorError(DpsError.ORG_OR_SN_REQUIRED)
    return sn


def _require_group_id(group_id: str) -> str:
    group_id = group_id.strip()
    if not group_id:
        raise invalid("groupId", "groupId is missing")
    return group_id


def _group(conn: Connection, ctx: Ctx, org_id: str, group_id: str, message: str) -> Any:
    group = _GROUP.one(conn, {"ns": ctx.namespace, "org": org_id, "group": group_id})
    if group is None:
        raise VendorError(DpsError.GROUP_NOT_FOUND, message)
    return group


def _definitions(conn: Connection, ctx: Ctx, org_id: str, group: Any) -> dict[str, Any]:
    """The master-data definitions that check an SN's ``deviceData``, by key."""
    params = {"ns": ctx.namespace, "org": org_id, "mdg": group.master_data_group}
    if group.master_data_group is None:
        rows = {row.key: row for row in _DEFINITIONS.all(conn, params)}
    else:
        rows = {row.key: row for row in _GROUP_DEFINITIONS.all(conn, params)}
    if group.master_data_group is not None and not rows:
        # "Registration group or master data group does not exist."
        raise VendorError(DpsError.GROUP_NOT_FOUND, "Device group not found")
    return rows


def _joined() -> Select[Any]:
    """An SN with its registration group and the connection-service device it provisioned."""
    on_group = and_(
        _G.c.namespace == _S.c.namespace, _G.c.org_id == _S.c.org_id,
        _G.c.group_id == _S.c.group_id,
    )  # fmt: skip
    on_device = and_(
        _D.c.namespace == _S.c.namespace, _D.c.vendor == VENDOR,
        _D.c.product_key == _S.c.product_key, _D.c.device_key == _S.c.device_key,
    )  # fmt: skip
    return select(
        _S,
        _G.c.product_key.label("group_product_key"),
        _G.c.region_id,
        _D.c.online,
    ).select_from(_S.outerjoin(_G, on_group).outerjoin(_D, on_device))


def _find(conn: Connection, ctx: Ctx, org_id: str, sn: str) -> Any:
    row = _FIND.one(conn, {"ns": ctx.namespace, "org": org_id, "sn": sn})
    if row is None:
        raise VendorError(DpsError.SN_NOT_FOUND)
    return row


# --- the PvsDevice struct -----------------------------------------------------------------


def current_status(row: Any) -> str:
    if row.allocate_status != "allocated":
        return "init"
    return "connected" if row.connected_at is not None else "allocated"


def connect_status(row: Any) -> str:
    if row.allocate_status != "allocated" or row.connected_at is None:
        return "init"
    return "connected" if row.online else "disconnected"


def pvs_device(row: Any) -> dict[str, Any]:
    attrs = row.attrs or {}
    return {
        "sn": row.sn,
        "groupId": row.group_id,
        "regionId": row.region_id,
        "orgId": row.org_id,
        "productKey": row.group_product_key or row.product_key,
        "batchOrder": attrs.get("batchOrder"),
        "batchTag": attrs.get("batchTag"),
        "deviceData": attrs.get("deviceData") or {},
        "desc": attrs.get("desc"),
        "status": {
            "currentStatus": current_status(row),
            "connectedTime": row.connected_at if row.allocate_status == "allocated" else None,
            "allocatedTime": row.allocated_at if row.allocate_status == "allocated" else None,
            "finishedTime": None,
            "discardedTime": None,
        },
        "reprovisioning": bool(row.reprovisioning),
        "allocateErrorMsg": None,
        "createBy": None,
        "createTime": row.created_at,
        "updateBy": None,
        "updateTime": row.updated_at,
        "manufacturerOrgId": attrs.get("manufacturerOrgId", row.org_id),
        "connectStatus": connect_status(row),
        "allocateStatus": "allocated" if row.allocate_status == "allocated" else "init",
    }


# --- allocate -----------------------------------------------------------------------------


def _device_name(data: dict[str, Any], sn: str) -> dict[str, Any]:
    name = data.get("deviceName")
    if (
        isinstance(name, dict)
        and isinstance(name.get("defaultValue"), str)
        and name["defaultValue"]
    ):
        i18n = name.get("i18nValue")
        return {
            "defaultValue": name["defaultValue"],
            "i18nValue": i18n if isinstance(i18n, dict) else {},
        }
    return {"defaultValue": sn, "i18nValue": {}}


def _provisioned(conn: Connection, ctx: Ctx, row: Any, product_key: str) -> Any:
    """The connection-service device an earlier allocation made, if it is still there."""
    if row.device_key is None or row.product_key != product_key:
        return None
    return _PROVISIONED.one(conn, {"ns": ctx.namespace, "pk": product_key, "dk": row.device_key})


def allocate(ctx: Ctx, *, org_id: str | None, request: PvsDeviceAllocateRequest) -> dict[str, Any]:
    """Allocate DPS Device: provision the SN's device and answer the PvsDevice struct."""
    with ctx.begin() as conn:
        org_id = _require_org(conn, ctx, org_id)
        sn = _require_sn(request.sn)
        row = _find(conn, ctx, org_id, sn)
        group = _group(conn, ctx, org_id, row.group_id, "Group not found")
        definitions = _definitions(conn, ctx, org_id, group)
        given = check_device_data(request.device_data or {}, definitions)
        attrs = dict(row.attrs or {})
        data = {**(attrs.get("deviceData") or {}), **given}
        device = _provisioned(conn, ctx, row, group.product_key)
        if device is None:
            timezone = data.get("timezone")
            created = connect.insert_device(
                conn, ctx, org_id=org_id, product_key=group.product_key, device_key=None,
                timezone=timezone if isinstance(timezone, str) and timezone else _DEFAULT_TIMEZONE,
                device_name=_device_name(data, sn), device_desc=attrs.get("desc"),
            )  # fmt: skip
            device_key, asset_id = created["device_key"], created["asset_id"]
        else:
            device_key, asset_id = device.device_key, device.asset_id
        # The doc's sample answers the provisioned asset in deviceData.
        data["assetId"] = asset_id
        now = ctx.now_ms()
        _ALLOCATED.execute(
            conn,
            {
                "ns": ctx.namespace, "org": org_id, "sn": sn, "now": now,
                # An SN that was provisioned before is re-provisioned onto the same device.
                "again": row.device_key is not None,
                "pk": group.product_key, "dk": device_key,
                "attrs": dumps({**attrs, "deviceData": data}),
            },
        )  # fmt: skip
        return pvs_device(_find(conn, ctx, org_id, sn))


def on_device_online(conn: Connection, ctx: Ctx, device: DeviceView) -> None:
    """Device-online hook: the first connection after an allocation marks the SN connected."""
    if device.vendor != VENDOR:
        return
    conn.execute(
        update(_S)
        .where(
            _S.c.namespace == ctx.namespace, _S.c.product_key == device.product_key,
            _S.c.device_key == device.device_key, _S.c.allocate_status == "allocated",
            _S.c.connected_at.is_(None),
        )
        .values(connected_at=device.last_online_at or ctx.now_ms())
    )  # fmt: skip


# --- companions ---------------------------------------------------------------------------


def get(ctx: Ctx, *, org_id: str | None, sn: str | None) -> dict[str, Any]:
    """Get DPS Device (``sn`` in the query)."""
    with ctx.read() as conn:
        org_id = _require_org(conn, ctx, org_id)
        return pvs_device(_find(conn, ctx, org_id, _require_sn(sn)))


def _new_sns(conn: Connection, ctx: Ctx, count: int) -> list[str]:
    """``count`` SNs unique in the namespace ("unique in this environment")."""
    fresh: list[str] = []
    wanted = count
    while wanted:
        batch = {ctx.ids.chars(_SN_ALPHABET, _SN_LENGTH) for _ in range(wanted)} - set(fresh)
        taken: set[str] = set()
        candidates = sorted(batch)
        for i in range(0, len(candidates), 500):
            chunk = candidates[i : i + 500]
            taken |= set(
                conn.execute(
                    select(_S.c.sn).where(_S.c.namespace == ctx.namespace, _S.c.sn.in_(chunk))
                ).scalars()
            )
        fresh += [sn for sn in candidates if sn not in taken]
        wanted = count - len(fresh)
    return fresh


def create(ctx: Ctx, *, org_id: str | None, request: PvsDeviceCreateInfo) -> list[str]:
    """Create DPS Device: ``count`` new SNs in a registration group, one new batch."""
    with ctx.begin() as conn:
        org_id = _require_org(conn, ctx, org_id)
        group_id = _require_group_id(request.group_id)
        if not 1 <= request.count <= MAX_COUNT:
            raise VendorError(
                DpsError.INVALID_ARGUMENT, "count of PvsDeviceCreateInfo must between 1 to 1000000"
            )
        group = _group(conn, ctx, org_id, group_id, "Group not found")
        data = check_device_data(request.device_data or {}, _definitions(conn, ctx, org_id, group))
        last = conn.execute(
            select(func.max(_S.c.attrs["batchOrder"].as_integer())).where(
                _S.c.namespace == ctx.namespace, _S.c.org_id == org_id
            )
        ).scalar()
        attrs = {
            "batchOrder": (last or 0) + 1,
            "batchTag": request.batch_tag.model_dump(by_alias=True) if request.batch_tag else None,
            "desc": request.desc,
            "deviceData": data,
            "manufacturerOrgId": org_id,
        }
        sns = _new_sns(conn, ctx, request.count)
        now = ctx.now_ms()
        conn.execute(
            insert(_S),
            [
                {
                    "namespace": ctx.namespace,
                    "org_id": org_id,
                    "sn": sn,
                    "group_id": group_id,
                    "attrs": attrs,
                    "created_at": now,
                    "updated_at": now,
                }  # fmt: skip
                for sn in sns
            ],
        )
    return sns


def update_device(ctx: Ctx, *, org_id: str | None, request: PvsDeviceUpdateRequest) -> str:
    """Update DPS Device: desc, batchTag, and deviceData merged into the stored master data."""
    with ctx.begin() as conn:
        org_id = _require_org(conn, ctx, org_id)
        sn = _require_sn(request.sn)
        row = _find(conn, ctx, org_id, sn)
        attrs = dict(row.attrs or {})
        if request.device_data is not None:
            group = _group(conn, ctx, org_id, row.group_id, "Group not found")
            given = check_device_data(request.device_data, _definitions(conn, ctx, org_id, group))
            attrs["deviceData"] = {**(attrs.get("deviceData") or {}), **given}
        if request.desc is not None:
            attrs["desc"] = request.desc
        if request.batch_tag is not None:
            attrs["batchTag"] = request.batch_tag.model_dump(by_alias=True)
        conn.execute(
            update(_S)
            .where(_S.c.namespace == ctx.namespace, _S.c.org_id == org_id, _S.c.sn == sn)
            .values(attrs=attrs, updated_at=ctx.now_ms())
        )
    return sn


def _group_sns(conn: Connection, ctx: Ctx, org_id: str, group_id: str, sns: list[str]) -> set[str]:
    found: set[str] = set()
    for i in range(0, len(sns), 500):
        found |= set(
            conn.execute(
                select(_S.c.sn).where(
                    _S.c.namespace == ctx.namespace, _S.c.org_id == org_id,
                    _S.c.group_id == group_id, _S.c.sn.in_(sns[i : i + 500]),
                )
            ).scalars()
        )  # fmt: skip
    return found


def delete_devices(ctx: Ctx, *, org_id: str | None, request: PvsDeviceDeleteRequest) -> list[str]:
    """Delete DPS Device: ``data`` lists the SNs now absent (deleted, or not existing)."""
    operation = "enos.dps.delete"
    with ctx.begin() as conn:
        org_id = _require_org(conn, ctx, org_id)
        group_id = _require_group_id(request.group_id)
        _group(conn, ctx, org_id, group_id, "Group not found")
        sns = list(dict.fromkeys(request.sn_list))
        failed = {sn for sn in sns if faults.device_fault(ctx, operation, sn) is not None}
        in_group = _group_sns(conn, ctx, org_id, group_id, sns)
        doomed = sorted(in_group - failed)
        for i in range(0, len(doomed), 500):
            conn.execute(
                delete(_S).where(
                    _S.c.namespace == ctx.namespace, _S.c.org_id == org_id,
                    _S.c.group_id == group_id, _S.c.sn.in_(doomed[i : i + 500]),
                )
            )  # fmt: skip
        # An SN of another group of the org is neither deleted nor reported.
        elsewhere = set(
            conn.execute(
                select(_S.c.sn).where(
                    _S.c.namespace == ctx.namespace, _S.c.org_id == org_id,
                    _S.c.sn.in_([sn for sn in sns if sn not in in_group]),
                )
            ).scalars()
        )  # fmt: skip
    return [sn for sn in sns if sn not in failed and sn not in elsewhere]


def reset_allocation_status(
    ctx: Ctx, *, org_id: str | None, request: PvsDeviceResetRequest
) -> list[str]:
    """Reset Device Allocation Status: the SNs go back to the inventory (``init``); the
    provisioned device stays, and the next allocation re-provisions it."""
    operation = "enos.dps.reset_allocation_status"
    with ctx.begin() as conn:
        org_id = _require_org(conn, ctx, org_id)
        group_id = _require_group_id(request.group_id)
        _group(conn, ctx, org_id, group_id, "Group/sn not found")
        sns = list(dict.fromkeys(request.sns))
        # "All SNs for batch operations must belong to the same registration group."
        if _group_sns(conn, ctx, org_id, group_id, sns) != set(sns):
            raise VendorError(DpsError.GROUP_NOT_FOUND, "Group/sn not found")
        done = [sn for sn in sns if faults.device_fault(ctx, operation, sn) is None]
        now = ctx.now_ms()
        for i in range(0, len(done), 500):
            conn.execute(
                update(_S)
                .where(
                    _S.c.namespace == ctx.namespace, _S.c.org_id == org_id,
                    _S.c.sn.in_(done[i : i + 500]),
                )
                .values(
                    allocate_status="init", allocated_at=None, connected_at=None, updated_at=now,
                )
            )  # fmt: skip
    return done


# --- search -------------------------------------------------------------------------------

_CLAUSE = re.compile(
    r"\s*(?P<field>[A-Za-z_][\w.]*)\s*==?\s*"
    r"(?:'(?P<sq>[^']*)'|\"(?P<dq>[^\"]*)\"|(?P<num>-?\d+)(?![\w.]))\s*"
)
_AND = re.compile(r"and\b", re.IGNORECASE)


def _condition(field: str, text: str | None, number: int | None) -> ColumnElement[bool]:
    value = text if text is not None else str(number)
    columns = {"sn": _S.c.sn, "groupId": _S.c.group_id, "regionId": _G.c.region_id}
    if field in columns:
        return columns[field] == value
    if field == "productKey":
        return _G.c.product_key == value
    if field == "status":
        allocated = _S.c.allocate_status == "allocated"
        return {
            "init": _S.c.allocate_status != "allocated",
            "allocated": and_(allocated, _S.c.connected_at.is_(None)),
            "connected": and_(allocated, _S.c.connected_at.is_not(None)),
        }.get(value, false())
    if field == "batchOrder":
        if number is None:
            raise invalid("expression", "batchOrder takes an integer")
        batch: ColumnElement[bool] = _S.c.attrs["batchOrder"].as_integer() == number
        return batch
    if field.startswith("deviceData.") and len(field) > len("deviceData."):
        path = _S.c.attrs[("deviceData", field[len("deviceData.") :])]
        match: ColumnElement[bool] = (
            path.as_string() == value if number is None else path.as_integer() == number
        )
        return match
    raise invalid("expression", f"unsupported field {field}")


def parse_expression(expression: str) -> ColumnElement[bool]:
    """The subset of the FQL this emulator understands: ``field = value [and ...]``."""
    if not expression.strip():
        return true()
    conditions: list[ColumnElement[bool]] = []
    pos = 0
    while True:
        clause = _CLAUSE.match(expression, pos)
        if clause is None:
            raise invalid("expression", f"cannot parse {expression[pos:]!r}")
        text = clause["sq"] if clause["sq"] is not None else clause["dq"]
        number = int(clause["num"]) if clause["num"] is not None else None
        conditions.append(_condition(clause["field"], text, number))
        pos = clause.end()
        if pos == len(expression):
            return and_(*conditions)
        joiner = _AND.match(expression, pos)
        if joiner is None:
            raise invalid("expression", f"expected 'and' at {expression[pos:]!r}")
        pos = joiner.end()


def search(
    ctx: Ctx, *, org_id: str | None, request: PvsDeviceSearchRequest
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """Search DPS Device: one page of PvsDevice structs, and the page's pagination."""
    where = [_S.c.namespace == ctx.namespace, parse_expression(request.expression)]
    if org_id:
        where.append(_S.c.org_id == org_id)
    page = request.pagination
    query = _joined().where(*where)
    with ctx.read() as conn:
        total = conn.execute(select(func.count()).select_from(query.subquery())).scalar_one()
        rows = conn.execute(
            query.order_by(_S.c.created_at, _S.c.sn)
            .limit(page.page_size)
            .offset((page.page_no - 1) * page.page_size)
        ).all()
    devices = [pvs_device(row) for row in rows]
    return devices, {"pageNo": page.page_no, "pageSize": page.page_size, "totalSize": total}
