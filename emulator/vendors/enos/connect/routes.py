"""EnOS connection-service routes: one path, dispatched on ``?action=`` (REAL-CLIENTS.md §1.7).

Every action is accepted on GET and POST: the official Python samples send ``get`` and
``delete`` with no body, which their client sends as GET.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from emulator.core.conformance import request_body
from emulator.core.context import Ctx
from emulator.core.errors import VendorError
from emulator.core.operations import Operation, register
from emulator.core.routing import get_and_post, hot, request_context
from emulator.vendors.enos import envelope
from emulator.vendors.enos.auth import enos_auth
from emulator.vendors.enos.connect import service
from emulator.vendors.enos.connect.errors import VALIDATION, ConnectError
from emulator.vendors.enos.connect.schemas import DeviceCreateRequest, DeviceCreateResult
from emulator.vendors.enos.envelope import EnosResponse, EnosRoute
from emulator.vendors.enos.token.errors import ON_API_FAULT_ONLY, TokenError


class ConnectRoute(EnosRoute):
    validation_map = VALIDATION
    validation_fallback = ConnectError.INVALID_ARGUMENT
    internal_error = ConnectError.EMULATOR_INTERNAL_ERROR
    auth = enos_auth

    @classmethod
    def operation_of(cls, request: Request) -> str | None:
        # One path, several operations: the action decides (before the handler, for faults).
        return OPERATIONS.get(request.query_params.get("action") or "")


router = APIRouter(
    prefix="/connect-service/v2.1", route_class=ConnectRoute, tags=["enos"],
)  # fmt: skip

CtxDep = Annotated[Ctx, Depends(request_context)]
Action = Callable[[Request, Ctx], Awaitable[Any]]

# The operation id of each action, for the journal, faults and metrics.
OPERATIONS = {
    "create": "enos.connect.create_device",
    "get": "enos.connect.get_device",
    "delete": "enos.connect.delete_device",
}


def _selector(request: Request) -> dict[str, str | None]:
    q = request.query_params
    return {
        "org_id": q.get("orgId"),
        "asset_id": q.get("assetId"),
        "product_key": q.get("productKey"),
        "device_key": q.get("deviceKey"),
    }


async def _create(request: Request, ctx: Ctx) -> Any:
    body = await ConnectRoute.parse_body(request, DeviceCreateRequest)
    return service.create_device(ctx, org_id=request.query_params.get("orgId"), request=body)


async def _get(request: Request, ctx: Ctx) -> Any:
    return service.get_device(ctx, **_selector(request))


async def _delete(request: Request, ctx: Ctx) -> Any:
    service.delete_device(ctx, **_selector(request))
    return None


# An emulator bug (99500) is no documented answer: like the token codes no API call triggers,
# only a fault produces it.
_FAULT_ONLY = ON_API_FAULT_ONLY | {ConnectError.EMULATOR_INTERNAL_ERROR.code}
_ERRORS = (ConnectError, TokenError)
register(
    Operation(
        "enos.connect.create_device", "enos", _ERRORS,
        fault_only=_FAULT_ONLY | {ConnectError.DEVICE_KEY_GENERATION_FAILED.code},
    ),
    Operation("enos.connect.get_device", "enos", _ERRORS, fault_only=_FAULT_ONLY),
    Operation("enos.connect.delete_device", "enos", _ERRORS, fault_only=_FAULT_ONLY),
)  # fmt: skip

ACTIONS: dict[str, Action] = {"create": _create, "get": _get, "delete": _delete}


@get_and_post(
    router,
    "/devices",
    response_model=EnosResponse[DeviceCreateResult],
    name="enos.connect.devices",
    operation_id="enos.connect.create_device",
    post={
        "summary": "Create Device (action=create; also get, delete)",
        "openapi_extra": {
            **request_body(DeviceCreateRequest),
            "parameters": [
                {"name": "action", "in": "query", "required": True, "schema": {"type": "string"}},
                {"name": "orgId", "in": "query", "required": True, "schema": {"type": "string"}},
            ],
        },
    },
)
@hot
async def devices(request: Request) -> JSONResponse:
    """Create Device (enos-connect-create-device.md), and its companions get and delete."""
    action = request.query_params.get("action")
    ctx = await request_context(request)
    handler = ACTIONS.get(action or "")
    if handler is None:
        raise VendorError(
            ConnectError.INVALID_ARGUMENT, f"Invalid Argument action:unsupported action {action!r}"
        )
    request.state.operation = OPERATIONS[action or ""]
    return envelope.ok(request, await handler(request, ctx))
