"""Quectel end-user behaviour: batchControlDevice (enduser-batchControlDevice.md) on the
command engine (:mod:`emulator.core.commands`), and userDeviceList (REAL-CLIENTS.md §4).

A device that cannot take the command goes to ``failureList`` with a ``msg``: unknown device,
unknown or offline gateway, offline device with the cache disabled, or a fault armed for it.
Every other device gets a ticket in ``successList``; what happens to the command next is the
engine's (delivered, cached, expired, superseded, acknowledged), visible on the control plane.

Deviations from the real platform:
- the list limit behind 5312 is undocumented: ``settings.batch_control_limit`` (default 100);
- the failure messages are the emulator's own (the doc gives none);
- 5041 answers the whole request when any listed device is not bound to the token's user, and
  only in strict auth mode (other modes do not know the caller reliably);
- a sub-device is reached through the gateway the request names, else the one it is
  registered behind; its own online flag does not matter;
- tickets are 32 hex characters (the real format is undocumented);
- userDeviceList answers the bound devices that exist, with the fields a client reads; with a
  token the emulator did not issue (lenient or off mode) the list is empty.
"""

from __future__ import annotations

import json
import math
from typing import Any

from sqlalchemy import and_, func, select

from emulator.core import commands, registry
from emulator.core.context import Ctx
from emulator.core.errors import VendorError
from emulator.core.faults import device_fault
from emulator.vendors.quectel.enduser.errors import BatchControlError, DeviceListError
from emulator.vendors.quectel.enduser.schemas import BatchControl, DeviceRef
from emulator.vendors.quectel.enduser.token import EndUser

VENDOR = "quectel"
BATCH_CONTROL_DEVICE = "quectel.enduser.batch_control_device"
MAX_DEVICE_NAME = 64

FAILURES = {
    commands.Undeliverable.NO_DEVICE: "device does not exist",
    commands.Undeliverable.NO_GATEWAY: "gateway device does not exist",
    commands.Undeliverable.OFFLINE: "device is offline",
    commands.Undeliverable.GATEWAY_OFFLINE: "gateway device is offline",
}

_B = registry.bindings
_D = registry.devices
_P = registry.products


def _unbound(conn: Any, ctx: Ctx, user: EndUser, devices: list[DeviceRef]) -> list[DeviceRef]:
    bound = {
        (row.product_key, row.device_key)
        for row in conn.execute(
            select(_B.c.product_key, _B.c.device_key).where(
                _B.c.namespace == ctx.namespace, _B.c.vendor == VENDOR, _B.c.user == user.email
            )
        )
    }
    return [
        d
        for d in devices
        if d.product_key and d.device_key and (d.product_key, d.device_key) not in bound
    ]


def batch_control_device(ctx: Ctx, user: EndUser | None, request: BatchControl) -> dict[str, Any]:
    """Batch control devices: ``{"successList": [...], "failureList": [...]}``."""
    payload = {"type": request.type, "dataFormat": request.data_format, "data": request.data}
    identity = json.dumps([request.type, request.data])
    success: list[dict[str, Any]] = []
    failure: list[dict[str, Any]] = []
    with ctx.begin() as conn:
        if ctx.settings.auth == "strict" and user is not None:
            unbound = _unbound(conn, ctx, user, request.devices)
            if unbound:
                names = ", ".join(f"{d.product_key}/{d.device_key}" for d in unbound)
                raise VendorError(
                    BatchControlError.NO_PERMISSION,
                    f"{BatchControlError.NO_PERMISSION.message}: {names} not bound to the user",
                )
        # Each entry's outcome, in request order: a failure message or a ticket to send.
        outcomes: list[str | commands.Outgoing] = []
        devices = request.devices
        candidates = [i for i, d in enumerate(devices) if d.product_key and d.device_key]
        refs = [
            (devices[i].product_key, devices[i].device_key, devices[i].gateway) for i in candidates
        ]
        routed = dict(zip(candidates, commands.routes(conn, ctx, VENDOR, refs), strict=True))
        for index, device in enumerate(devices):
            target = routed.get(index)
            fault = None
            if target is not None:
                fault = device_fault(ctx, BATCH_CONTROL_DEVICE, device.device_key)
            if target is None:
                outcomes.append("productKey and deviceKey required")
            elif fault is not None:
                outcomes.append(fault.message)
            elif isinstance(target, commands.Undeliverable):
                outcomes.append(FAILURES[target.reason])
            else:
                outcomes.append(
                    commands.Outgoing(
                        target=target,
                        ticket=ctx.ids.hex(32),
                        operation=BATCH_CONTROL_DEVICE,
                        payload=payload,
                        identity=identity,
                        qos=request.qos,
                        cache_s=request.cache_time,
                        cover=request.cover,
                    )
                )
        sent = iter(
            commands.send_many(conn, ctx, [o for o in outcomes if isinstance(o, commands.Outgoing)])
        )
        for device, outcome in zip(request.devices, outcomes, strict=True):
            if isinstance(outcome, str):
                failure.append({"data": device.wire, "msg": outcome})
                continue
            result = next(sent)
            if isinstance(result, commands.Undeliverable):
                failure.append({"data": device.wire, "msg": FAILURES[result.reason]})
            else:
                success.append({"data": device.wire, "ticket": result["ticket"]})
    return {"successList": success, "failureList": failure}


def _online_status(row: Any) -> int:
    return 1 if row.online else 0


def _access_type(row: Any, gateways: set[tuple[str, str]]) -> str:
    # userDeviceList: 0 direct connection, 1 gateway, 2 gateway sub-device.
    if row.gateway_product_key and row.gateway_device_key:
        return "2"
    return "1" if (row.product_key, row.device_key) in gateways else "0"


def user_device_list(
    ctx: Ctx,
    user: EndUser | None,
    *,
    page: int,
    page_size: int,
    pk_list: list[str],
    dk: str | None,
    device_name: str | None,
) -> dict[str, Any]:
    """Query User's Device List: a PageInfo of the user's bound devices."""
    if device_name is not None and len(device_name) > MAX_DEVICE_NAME:
        raise VendorError(DeviceListError.DEVICE_NAME_TOO_LONG)
    rows: list[Any] = []
    gateways: set[tuple[str, str]] = set()
    total = 0
    if user is not None:
        joined = _B.join(
            _D,
            and_(
                _D.c.namespace == _B.c.namespace, _D.c.vendor == _B.c.vendor,
                _D.c.product_key == _B.c.product_key, _D.c.device_key == _B.c.device_key,
            ),
        ).outerjoin(
            _P,
            and_(
                _P.c.namespace == _D.c.namespace, _P.c.vendor == _D.c.vendor,
                _P.c.product_key == _D.c.product_key,
            ),
        )  # fmt: skip
        where = [_B.c.namespace == ctx.namespace, _B.c.vendor == VENDOR, _B.c.user == user.email]
        if pk_list:
            where.append(_D.c.product_key.in_(pk_list))
        if dk:
            where.append(_D.c.device_key == dk)
        if device_name:
            where.append(_D.c.name.contains(device_name, autoescape=True))
        with ctx.read() as conn:
            total = int(
                conn.execute(select(func.count()).select_from(joined).where(*where)).scalar_one()
            )
            rows = list(
                conn.execute(
                    select(_D, _P.c.name.label("product_name"))
                    .select_from(joined)
                    .where(*where)
                    .order_by(_D.c.id)
                    .limit(page_size)
                    .offset((page - 1) * page_size)
                ).all()
            )
            gateways = {
                (r.gateway_product_key, r.gateway_device_key)
                for r in conn.execute(
                    select(_D.c.gateway_product_key, _D.c.gateway_device_key).where(
                        _D.c.namespace == ctx.namespace, _D.c.vendor == VENDOR,
                        _D.c.gateway_device_key.is_not(None),
                    )
                )
            }  # fmt: skip
    items = [
        {
            "productKey": row.product_key,
            "deviceKey": row.device_key,
            "deviceName": row.name or row.device_key,
            "productName": row.product_name or "",
            "onlineStatus": _online_status(row),
            "accessType": _access_type(row, gateways),
            "deviceType": 1,
            "uid": user.uid if user else "",
            "sn": (row.attrs or {}).get("sn"),
            "authKey": None,
            "status": 1,
            "bindStatus": 1,
            "deviceCreateTimeTs": row.created_at,
            "lastConnTimeTs": row.last_online_at,
            "lastOfflineTimeTs": row.last_offline_at,
        }
        for row in rows
    ]
    pages = math.ceil(total / page_size) if total else 0
    start = (page - 1) * page_size + 1 if items else 0
    return {
        "total": total,
        "list": items,
        "pageNum": page,
        "pageSize": page_size,
        "size": len(items),
        "startRow": start,
        "endRow": start + len(items) - 1 if items else 0,
        "pages": pages,
        "prePage": page - 1 if page > 1 else 0,
        "nextPage": page + 1 if page < pages else 0,
        "isFirstPage": page == 1,
        "isLastPage": page >= pages,
        "hasPreviousPage": page > 1,
        "hasNextPage": page < pages,
        "navigatePages": 8,
        "navigatepageNums": list(range(1, pages + 1))[:8],
        "navigateFirstPage": 1 if pages else 0,
        "navigateLastPage": min(pages, 8),
    }
