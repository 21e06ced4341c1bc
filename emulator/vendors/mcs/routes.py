"""MCS v2 device routes: registerDevice (mcs-registerDevice.md), retrieve and deregister.

``POST /mcs/v2/devices`` takes both shapes of the doc's history (DESIGN.md): the first
revision's ``{"devices": [...]}``, answered with ``{"credentials": [...]}``, and the later
single object, answered with ``{deviceId, deviceKey, chipName}``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import RootModel, ValidationError

from emulator.core.conformance import request_body
from emulator.core.context import Ctx
from emulator.core.operations import Operation, register
from emulator.core.responses import JsonResponse
from emulator.core.routing import hot, request_context
from emulator.vendors.mcs import service
from emulator.vendors.mcs.auth import Caller, mcs_auth
from emulator.vendors.mcs.envelope import McsRoute
from emulator.vendors.mcs.errors import VALIDATION, AuthError, DeviceError
from emulator.vendors.mcs.schemas import (
    Deregistered,
    DeviceInfoList,
    RegisterDeviceRequest,
    RegisterDevicesRequest,
    RegisteredDevice,
    RegisteredDevices,
)


class DevicesRoute(McsRoute):
    """``/mcs/v2`` routes: the :class:`Caller` is ``request.state.auth``."""

    validation_map = VALIDATION
    auth = mcs_auth


def _caller(request: Request) -> Caller:
    caller: Caller = request.state.auth
    return caller


router = APIRouter(prefix="/mcs/v2", route_class=DevicesRoute, tags=["mcs"])

CtxDep = Annotated[Ctx, Depends(request_context)]
# A fault with 1002 answers the token error (401): AuthError is listed first.
_FAULT_ONLY = frozenset({DeviceError.INTERNAL_ERROR.code})

register(
    Operation("mcs.register_device", "mcs", (AuthError, DeviceError), fault_only=_FAULT_ONLY),
    Operation("mcs.get_device", "mcs", (AuthError, DeviceError), fault_only=_FAULT_ONLY),
    Operation("mcs.delete_device", "mcs", (AuthError, DeviceError), fault_only=_FAULT_ONLY),
)


class _JsonObject(RootModel[dict[str, Any]]):
    pass


@router.post(
    "/devices",
    response_model=RegisteredDevice | RegisteredDevices,
    name="mcs.register_device",
    operation_id="mcs.register_device",
    summary='registerDevice: one device, or several as {"devices": [...]}',
    openapi_extra=request_body(RegisterDeviceRequest, RegisterDevicesRequest),
)
@hot
async def register_device(request: Request) -> JSONResponse:
    """registerDevice: one device (flat object) or several (``{"devices": [...]}``)."""
    ctx, caller = await request_context(request), _caller(request)
    data = (await DevicesRoute.parse_body(request, _JsonObject)).root
    try:
        if "devices" in data:
            batch = RegisterDevicesRequest.model_validate(data)
            done = service.register_devices(ctx, caller, batch.devices)
            credentials = [{"deviceId": d.device_id, "deviceKey": d.device_key} for d in done]
            return JsonResponse({"credentials": credentials})
        single = RegisterDeviceRequest.model_validate(data)
    except ValidationError as exc:
        raise DevicesRoute.validation_error(exc.errors()) from None
    (one,) = service.register_devices(ctx, caller, [single])
    return JsonResponse(
        {"deviceId": one.device_id, "deviceKey": one.device_key, "chipName": one.chip_name}
    )


@router.get(
    "/devices/{device_id}",
    response_model=DeviceInfoList,
    name="mcs.get_device",
    operation_id="mcs.get_device",
)
async def get_device(request: Request, device_id: str, ctx: CtxDep) -> JSONResponse:
    """Retrieve device information; ``:deviceId`` may list several ids, comma-separated."""
    results = service.get_devices(ctx, _caller(request), service.split_ids(device_id))
    return JsonResponse({"results": results})


@router.delete(
    "/devices/{device_id}",
    response_model=Deregistered,
    name="mcs.delete_device",
    operation_id="mcs.delete_device",
)
async def delete_device(request: Request, device_id: str, ctx: CtxDep) -> JSONResponse:
    """deregisterDevice (``?removeData=`` is accepted and ignored: no data is kept)."""
    return JsonResponse(service.deregister_device(ctx, _caller(request), device_id))
