"""The dashboard's view of the DPS inventory, on the control plane.

``GET /_emulator/dps/devices[?orgId=&groupId=&status=&limit=&offset=]``: the inventory with
each SN's allocation state (the PvsDevice struct ``action=get`` answers) and the
connection-service device it provisioned, plus the registration groups.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from sqlalchemy import and_, func, select

from emulator.core import registry
from emulator.core.context import Ctx
from emulator.core.limits import INT64_MAX
from emulator.core.routing import LockWaitingRoute, request_context
from emulator.vendors.enos import tables
from emulator.vendors.enos.dps.service import VENDOR, connect_status, current_status, pvs_device

router = APIRouter(prefix="/_emulator", tags=["dashboard"], route_class=LockWaitingRoute)

CtxDep = Annotated[Ctx, Depends(request_context)]


DpsStatus = Literal["init", "allocated", "connected"]


@router.get("/dps/devices", operation_id="control.list_dps_devices")
async def list_dps_devices(
    ctx: CtxDep,
    org_id: Annotated[str | None, Query(alias="orgId")] = None,
    group_id: Annotated[str | None, Query(alias="groupId")] = None,
    status: Annotated[DpsStatus | None, Query(description="currentStatus")] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
    offset: Annotated[int, Query(ge=0, le=INT64_MAX)] = 0,
) -> dict[str, Any]:
    """The DPS inventory (oldest first) with allocation state, and the registration groups."""
    s, g, d = tables.dps_devices, tables.dps_groups, registry.devices
    on_group = and_(
        g.c.namespace == s.c.namespace, g.c.org_id == s.c.org_id, g.c.group_id == s.c.group_id
    )
    on_device = and_(
        d.c.namespace == s.c.namespace, d.c.vendor == VENDOR,
        d.c.product_key == s.c.product_key, d.c.device_key == s.c.device_key,
    )  # fmt: skip
    where = [s.c.namespace == ctx.namespace]
    if org_id is not None:
        where.append(s.c.org_id == org_id)
    if group_id is not None:
        where.append(s.c.group_id == group_id)
    if status == "init":
        where.append(s.c.allocate_status != "allocated")
    elif status == "allocated":
        where.append(and_(s.c.allocate_status == "allocated", s.c.connected_at.is_(None)))
    elif status == "connected":
        where.append(and_(s.c.allocate_status == "allocated", s.c.connected_at.is_not(None)))
    query = (
        select(
            s,
            g.c.product_key.label("group_product_key"),
            g.c.region_id,
            d.c.online,
            d.c.asset_id,
        )
        .select_from(s.outerjoin(g, on_group).outerjoin(d, on_device))
        .where(*where)
    )
    group_where = [g.c.namespace == ctx.namespace]
    if org_id is not None:
        group_where.append(g.c.org_id == org_id)
    with ctx.read() as conn:
        total = conn.execute(select(func.count()).select_from(s).where(*where)).scalar_one()
        rows = conn.execute(
            query.order_by(s.c.created_at, s.c.org_id, s.c.sn).limit(limit).offset(offset)
        ).all()
        groups = conn.execute(
            select(g.c.org_id, g.c.group_id, g.c.product_key, g.c.region_id, g.c.master_data_group)
            .where(*group_where)
            .order_by(g.c.org_id, g.c.group_id)
        ).all()
    devices = []
    for row in rows:
        item = pvs_device(row)
        item["currentStatus"] = current_status(row)
        item["connectStatus"] = connect_status(row)
        item["provisioned"] = (
            None
            if row.device_key is None
            else {
                "productKey": row.product_key,
                "deviceKey": row.device_key,
                "assetId": row.asset_id,
                "online": bool(row.online),
                # The connection-service device may have been deleted since.
                "exists": row.online is not None,
            }
        )
        devices.append(item)
    return {
        "namespace": ctx.namespace,
        "total": int(total),
        "groups": [
            {
                "orgId": r.org_id,
                "groupId": r.group_id,
                "productKey": r.product_key,
                "regionId": r.region_id,
                "masterDataGroup": r.master_data_group,
            }
            for r in groups
        ],
        "devices": devices,
    }
