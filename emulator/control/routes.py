"""Routes of the ``/_emulator`` control plane."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request

from emulator.control import service
from emulator.control.schemas import DeviceList, DeviceView, Health, ResetResult
from emulator.core.context import Ctx
from emulator.core.routing import emulator_of, namespace_of, request_context

router = APIRouter(prefix="/_emulator", tags=["control plane"])

CtxDep = Annotated[Ctx, Depends(request_context)]


@router.get("/health", operation_id="control.health")
async def health(request: Request) -> Health:
    """Liveness and readiness: answers once the state is loaded."""
    return service.health(emulator_of(request))


@router.post("/reset", operation_id="control.reset")
async def reset(request: Request) -> ResetResult:
    """Back to the baseline the fixtures define (this namespace only)."""
    namespace = namespace_of(request)
    emulator_of(request).namespaces.reset(namespace)
    return ResetResult(namespace=namespace)


@router.get("/devices", operation_id="control.list_devices")
async def list_devices(
    ctx: CtxDep,
    vendor: Literal["quectel", "enos", "mcs"] | None = None,
    product_key: Annotated[str | None, Query(alias="productKey")] = None,
    online: bool | None = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> DeviceList:
    """Every device of the namespace, filtered by vendor, product and online state."""
    return service.list_devices(
        ctx, vendor=vendor, product_key=product_key, online=online, limit=limit, offset=offset
    )


Vendor = Literal["quectel", "enos", "mcs"]


@router.post(
    "/devices/{vendor}/{product_key}/{device_key}/online", operation_id="control.device_online"
)
async def device_online(
    ctx: CtxDep, vendor: Vendor, product_key: str, device_key: str
) -> DeviceView:
    """The simulated device connects: cached commands are delivered, DPS connect status follows."""
    return service.set_online(
        ctx, vendor=vendor, product_key=product_key, device_key=device_key, online=True
    )


@router.post(
    "/devices/{vendor}/{product_key}/{device_key}/offline", operation_id="control.device_offline"
)
async def device_offline(
    ctx: CtxDep, vendor: Vendor, product_key: str, device_key: str
) -> DeviceView:
    """The simulated device disconnects."""
    return service.set_online(
        ctx, vendor=vendor, product_key=product_key, device_key=device_key, online=False
    )
