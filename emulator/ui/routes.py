"""The dashboard at ``/_emulator/ui``, and the two reads it needs that the control plane lacked.

- ``GET /_emulator/ui``: the page (plain HTML, CSS and ES modules shipped in ``static/``; no
  CDN, no build step). The page calls the JSON control plane under ``/ns/{name}/_emulator``
  for the namespace chosen in it, and polls it for live updates.
- ``GET /_emulator/ui/static/{file}``: its assets.
- ``GET /_emulator/devices/{vendor}/{productKey}/{deviceKey}``: one device, as the device list
  shows it (404 when absent).
- ``GET /_emulator/products[?vendor=]``: every product of the namespace with its device and
  online counts (the device filters' choices).

A vendor adds its own views beside these (``Vendor.control_routers``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import FileResponse
from sqlalchemy import case, func, select

from emulator.control.errors import ControlError
from emulator.control.schemas import DeviceView
from emulator.core import registry
from emulator.core.context import Ctx
from emulator.core.routing import LockWaitingRoute, request_context
from emulator.core.vendor import VendorName

STATIC = Path(__file__).resolve().parent / "static"
# ES modules only run when served as JavaScript.
_MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}
# The page is a development tool: always revalidate, so an upgrade is seen at once.
_NO_CACHE = {"Cache-Control": "no-cache"}

router = APIRouter(prefix="/_emulator", tags=["dashboard"], route_class=LockWaitingRoute)

CtxDep = Annotated[Ctx, Depends(request_context)]


def _asset(name: str) -> FileResponse:
    path = STATIC / name
    media_type = _MEDIA_TYPES.get(path.suffix)
    # Only the flat directory's own files: no traversal, no hidden or unknown kinds.
    if media_type is None or "/" in name or name.startswith(".") or not path.is_file():
        raise ControlError(404, f"no dashboard asset {name!r}")
    return FileResponse(path, media_type=media_type, headers=_NO_CACHE)


@router.get("/ui", include_in_schema=False)
@router.get("/ui/", include_in_schema=False)
async def page() -> FileResponse:
    return _asset("index.html")


@router.get("/ui/static/{name}", include_in_schema=False)
async def asset(name: str) -> FileResponse:
    return _asset(name)


Vendor = VendorName


@router.get("/devices/{vendor}/{product_key}/{device_key}", operation_id="control.get_device")
async def get_device(ctx: CtxDep, vendor: Vendor, product_key: str, device_key: str) -> DeviceView:
    """One device of the namespace and the state of its simulated twin."""
    t = registry.devices
    with ctx.read() as conn:
        row = (
            conn.execute(
                select(*(t.c[name] for name in DeviceView.model_fields)).where(
                    t.c.namespace == ctx.namespace,
                    t.c.vendor == vendor,
                    t.c.product_key == product_key,
                    t.c.device_key == device_key,
                )  # fmt: skip
            )
            .mappings()
            .first()
        )
    if row is None:
        raise ControlError(404, f"no {vendor} device {product_key}/{device_key}")
    return DeviceView.model_validate(dict(row))


@router.get("/products", operation_id="control.list_products")
async def list_products(ctx: CtxDep, vendor: Vendor | None = None) -> dict[str, Any]:
    """Every product of the namespace with how many devices it holds and how many are online."""
    p, d = registry.products, registry.devices
    counts = (
        select(
            d.c.vendor,
            d.c.product_key,
            func.count().label("devices"),
            func.sum(case((d.c.online, 1), else_=0)).label("online"),
        )
        .where(d.c.namespace == ctx.namespace)
        .group_by(d.c.vendor, d.c.product_key)
    )
    where = [p.c.namespace == ctx.namespace]
    if vendor is not None:
        where.append(p.c.vendor == vendor)
        counts = counts.where(d.c.vendor == vendor)
    with ctx.read() as conn:
        tally = {(r.vendor, r.product_key): (r.devices, r.online) for r in conn.execute(counts)}
        rows = conn.execute(
            select(p.c.vendor, p.c.product_key, p.c.name, p.c.org_id)
            .where(*where)
            .order_by(p.c.vendor, p.c.product_key)
        ).all()
    products = []
    for row in rows:
        devices, online = tally.pop((row.vendor, row.product_key), (0, 0))
        products.append(
            {
                "vendor": row.vendor,
                "productKey": row.product_key,
                "name": row.name,
                "orgId": row.org_id,
                "devices": int(devices),
                "online": int(online or 0),
            }
        )
    # Devices whose product row is missing (a fixture may list devices only) still count.
    for (vendor_name, product_key), (devices, online) in sorted(tally.items()):
        products.append(
            {
                "vendor": vendor_name,
                "productKey": product_key,
                "name": "",
                "orgId": None,
                "devices": int(devices),
                "online": int(online or 0),
            }
        )
    return {"namespace": ctx.namespace, "products": products}
