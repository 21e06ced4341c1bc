"""EnOS command routes: ``/connect-service/v2.1/commands?action=invokeService|setMeasurepoint``.

An instant command (``pendingTtl`` 0) answers once the device replied, with its
``outputData``, or after ``timeout`` seconds with the timeout code. The wait is transport
time (wall clock), not emulated time: the device is a real program on a real socket.
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import Field

from emulator.core.conformance import request_body
from emulator.core.context import Ctx
from emulator.core.errors import VendorError
from emulator.core.operations import Operation, register
from emulator.core.routing import request_context
from emulator.vendors.enos import envelope
from emulator.vendors.enos.auth import enos_auth
from emulator.vendors.enos.commands import service
from emulator.vendors.enos.commands.errors import VALIDATION, CommandError
from emulator.vendors.enos.envelope import EnosModel, EnosRoute
from emulator.vendors.enos.mqtt.listener import MqttListener, listener_name
from emulator.vendors.enos.token.errors import ON_API_FAULT_ONLY, TokenError

OPERATIONS = {
    "invokeService": service.INVOKE_SERVICE,
    "setMeasurepoint": service.SET_MEASUREPOINT,
}
# How often a process that does not hold the device's connection reads the ticket's state.
_POLL_S = 0.05


class CommandsRoute(EnosRoute):
    validation_map = VALIDATION
    validation_fallback = CommandError.INVALID_ARGUMENT
    internal_error = CommandError.EMULATOR_INTERNAL_ERROR
    auth = enos_auth

    @classmethod
    def operation_of(cls, request: Request) -> str | None:
        return OPERATIONS.get(request.query_params.get("action") or "")


class InvokeServiceRequest(EnosModel):
    input_data: dict[str, Any] = Field(default_factory=dict)


class SetMeasurepointRequest(EnosModel):
    measurepoints: dict[str, Any] = Field(default_factory=dict)
    # Older revisions: ``?measurepointId=`` with the value in the body.
    value: Any = None


router = APIRouter(prefix="/connect-service/v2.1", route_class=CommandsRoute, tags=["enos"])

_FAULT_ONLY = ON_API_FAULT_ONLY | {CommandError.EMULATOR_INTERNAL_ERROR.code}
register(
    Operation(service.INVOKE_SERVICE, "enos", (CommandError, TokenError), fault_only=_FAULT_ONLY),
    Operation(
        service.SET_MEASUREPOINT, "enos", (CommandError, TokenError), fault_only=_FAULT_ONLY
    ),
)  # fmt: skip


def _target(request: Request) -> service.Target:
    q = request.query_params
    return service.Target(q.get("orgId"), q.get("assetId"), q.get("productKey"), q.get("deviceKey"))


async def _await_reply(ctx: Ctx, ticket: dict[str, Any], timeout_s: int) -> dict[str, Any]:
    """The device's reply to an instant command, through this process's listener when it holds
    the connection, else from the ticket's state in the database."""
    listener = ctx.emulator.listeners.get(listener_name(ctx.namespace))
    name = ticket["ticket"]
    if isinstance(listener, MqttListener):
        waiter = listener.expect(name)
        if listener.send(ticket):
            try:
                return await asyncio.wait_for(asyncio.shield(waiter), timeout_s)
            except TimeoutError:
                service.timed_out(ctx, name, timeout_s)
                raise VendorError(CommandError.COMMAND_TIMEOUT) from None
            finally:
                listener.forget(name)
        listener.forget(name)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while loop.time() < deadline:
        state = service.ticket_state(ctx, name)
        if state["state"] != "sent":
            return _reply_of(state)
        await asyncio.sleep(_POLL_S)
    service.timed_out(ctx, name, timeout_s)
    raise VendorError(CommandError.COMMAND_TIMEOUT)


def _reply_of(ticket: dict[str, Any]) -> dict[str, Any]:
    """A ticket's answer as a device reply: what the listener recorded, or a simulated
    device's ack through the control plane (its payload is the ``outputData``)."""
    result = ticket["result"]
    if isinstance(result, dict) and "code" in result:
        return result
    code = 200 if ticket["state"] == "succeeded" else None
    return {"code": code, "data": result, "message": ""}


def _output(reply: dict[str, Any]) -> Any:
    if reply.get("code") != 200:
        detail = f"device code {reply.get('code')}: {reply.get('message') or ''}".strip()
        raise VendorError(CommandError.DEVICE_REPLIED_ERROR, detail)
    return reply.get("data") or {}


async def _run(request: Request, ctx: Ctx, ticket: dict[str, Any], ttl_s: int) -> dict[str, Any]:
    timeout_s = service.timeout(request.query_params.get("timeout"))
    listener = ctx.emulator.listeners.get(listener_name(ctx.namespace))
    if ttl_s > 0:
        if ticket["state"] == "sent" and isinstance(listener, MqttListener):
            listener.send(ticket)  # online now: delivered at once, answered whenever
        return {"commandId": ticket["ticket"]}
    reply = await _await_reply(ctx, ticket, timeout_s)
    return {"commandId": ticket["ticket"], "outputData": _output(reply)}


async def _invoke_service(request: Request, ctx: Ctx) -> dict[str, Any]:
    body = await CommandsRoute.parse_body(request, InvokeServiceRequest)
    q = request.query_params
    ttl_s = service.pending_ttl(q.get("pendingTtl"))
    ticket = service.invoke_service(ctx, _target(request), q.get("serviceId"), body.input_data,
                                    ttl_s)  # fmt: skip
    return await _run(request, ctx, ticket, ttl_s)


async def _set_measurepoint(request: Request, ctx: Ctx) -> dict[str, Any]:
    body = await CommandsRoute.parse_body(request, SetMeasurepointRequest)
    q = request.query_params
    points = dict(body.measurepoints)
    if q.get("measurepointId") and body.value is not None:
        points[q["measurepointId"]] = body.value
    ttl_s = service.pending_ttl(q.get("pendingTtl"))
    ticket = service.set_measurepoint(ctx, _target(request), points, ttl_s)
    answer = await _run(request, ctx, ticket, ttl_s)
    return answer


ACTIONS = {"invokeService": _invoke_service, "setMeasurepoint": _set_measurepoint}


@router.post(
    "/commands",
    name="enos.connect.commands",
    operation_id=service.INVOKE_SERVICE,
    summary="Invoke Service (action=invokeService; also setMeasurepoint)",
    openapi_extra={
        **request_body(InvokeServiceRequest),
        "parameters": [
            {"name": "action", "in": "query", "required": True, "schema": {"type": "string"}},
            {"name": "orgId", "in": "query", "required": True, "schema": {"type": "string"}},
        ],
    },
)
async def commands(request: Request) -> JSONResponse:
    """Invoke Service and Set Measurement Point (ENOS-DEVICES.md §4)."""
    action = request.query_params.get("action") or ""
    ctx = await request_context(request)
    handler = ACTIONS.get(action)
    if handler is None:
        raise VendorError(
            CommandError.INVALID_ARGUMENT, f"Invalid Argument action:unsupported action {action!r}"
        )
    request.state.operation = OPERATIONS[action]
    return envelope.ok(request, await handler(request, ctx))
