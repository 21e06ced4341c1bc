"""The control plane's side of the MQTT listeners (control-plane JSON, not the EnOS envelope).

- ``POST   /_emulator/mqtt``: this namespace's device endpoint, opened on demand on an
  ephemeral port of ``--host``; answers ``{"url": "tcp://host:port", ...}``. Under
  ``/ns/{name}/...`` it is that namespace's own listener: a device logs in there only with
  that namespace's devices, so parallel test workers never see each other's devices, and the
  device code changes nothing but the URL it is given.
- ``GET    /_emulator/mqtt``: the same, 404 when not open.
- ``DELETE /_emulator/mqtt``: close it (its devices go offline).

A listener runs on the event loop of the server that opened it: these need a running server
(``iot-emulator serve``, the pytest plugin's), not an in-process test client whose loop ends
with each request. They stay out of the OpenAPI document for that reason (the conformance
fuzzing drives every published operation in process).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends

from emulator.control.errors import ControlError
from emulator.core.context import Ctx
from emulator.core.routing import LockWaitingRoute, request_context
from emulator.vendors.enos.mqtt.listener import MqttListener, close_for, listener_name, open_for

router = APIRouter(prefix="/_emulator/mqtt", tags=["control plane"], route_class=LockWaitingRoute)

CtxDep = Annotated[Ctx, Depends(request_context)]


@router.post("", operation_id="control.enos_mqtt_open", include_in_schema=False)
async def open_listener(ctx: CtxDep) -> dict[str, Any]:
    """This namespace's MQTT endpoint for EnOS devices, opened if needed."""
    return (await open_for(ctx.emulator, ctx.namespace)).describe()


@router.get("", operation_id="control.enos_mqtt_get", include_in_schema=False)
async def get_listener(ctx: CtxDep) -> dict[str, Any]:
    found = ctx.emulator.listeners.get(listener_name(ctx.namespace))
    if not isinstance(found, MqttListener):
        raise ControlError(404, f"no MQTT listener for namespace {ctx.namespace}")
    return found.describe()


@router.delete("", operation_id="control.enos_mqtt_close", include_in_schema=False)
async def close_listener(ctx: CtxDep) -> dict[str, Any]:
    if not await close_for(ctx.emulator, ctx.namespace):
        raise ControlError(404, f"no MQTT listener for namespace {ctx.namespace}")
    return {"namespace": ctx.namespace, "closed": True}
