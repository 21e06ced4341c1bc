"""EnOS DPS routes: one path, dispatched on ``?action=`` (REAL-CLIENTS.md §1.1, §1.7).

Every action is accepted on GET and POST, as on the connection service: the official Python
client sends a request with no body as GET. The deprecated v4.0 path serves allocation only,
as ``action=activate`` (its page) or ``action=allocate`` (its overview table).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse

from emulator.core.conformance import request_body
from emulator.core.context import Ctx
from emulator.core.errors import VendorError
from emulator.core.operations import Operation, register
from emulator.core.routing import get_and_post, hot, request_context
from emulator.vendors.enos import envelope
from emulator.vendors.enos.auth import enos_auth
from emulator.vendors.enos.dps import service
from emulator.vendors.enos.dps.errors import VALIDATION, DpsError
from emulator.vendors.enos.dps.schemas import (
    PvsDevice,
    PvsDeviceAllocateRequest,
    PvsDeviceCreateInfo,
    PvsDeviceDeleteRequest,
    PvsDeviceResetRequest,
    PvsDeviceSearchRequest,
    PvsDeviceUpdateRequest,
)
from emulator.vendors.enos.envelope import EnosResponse, EnosRoute
from emulator.vendors.enos.token.errors import ON_API_FAULT_ONLY, TokenError


class DpsRoute(EnosRoute):
    validation_map = VALIDATION
    validation_fallback = DpsError.INVALID_ARGUMENT
    internal_error = DpsError.EMULATOR_INTERNAL_ERROR
    auth = enos_auth

    @classmethod
    def operation_of(cls, request: Request) -> str | None:
        # One path, several operations: the action decides (before the handler, for faults).
        action = request.query_params.get("action") or ""
        if request.url.path.endswith("/v4.0/pvs/device"):
            action = V4_ACTIONS.get(action, "")
        return OPERATIONS.get(action)


router = APIRouter(
    prefix="/dps-service", route_class=DpsRoute, tags=["enos"],
)  # fmt: skip

CtxDep = Annotated[Ctx, Depends(request_context)]
Action = Callable[[Request, Ctx], Awaitable[JSONResponse]]

# The operation id of each action, for the journal, faults and metrics.
OPERATIONS = {
    "allocate": "enos.dps.allocate",
    "create": "enos.dps.create",
    "get": "enos.dps.get",
    "search": "enos.dps.search",
    "update": "enos.dps.update",
    "delete": "enos.dps.delete",
    "resetAllocationStatus": "enos.dps.reset_allocation_status",
}


def _org(request: Request) -> str | None:
    return request.query_params.get("orgId")


async def _allocate(request: Request, ctx: Ctx) -> JSONResponse:
    body = await DpsRoute.parse_body(request, PvsDeviceAllocateRequest)
    return envelope.ok(request, service.allocate(ctx, org_id=_org(request), request=body))


async def _create(request: Request, ctx: Ctx) -> JSONResponse:
    body = await DpsRoute.parse_body(request, PvsDeviceCreateInfo)
    return envelope.ok(request, service.create(ctx, org_id=_org(request), request=body))


async def _get(request: Request, ctx: Ctx) -> JSONResponse:
    sn = request.query_params.get("sn")
    return envelope.ok(request, service.get(ctx, org_id=_org(request), sn=sn))


async def _search(request: Request, ctx: Ctx) -> JSONResponse:
    body = await DpsRoute.parse_body(request, PvsDeviceSearchRequest)
    devices, pagination = service.search(ctx, org_id=_org(request), request=body)
    # Paged EnOS answers carry ``pagination`` beside ``data`` (REAL-CLIENTS.md §1.5).
    return envelope.ok(request, devices, pagination=pagination)


async def _update(request: Request, ctx: Ctx) -> JSONResponse:
    body = await DpsRoute.parse_body(request, PvsDeviceUpdateRequest)
    return envelope.ok(request, service.update_device(ctx, org_id=_org(request), request=body))


async def _delete(request: Request, ctx: Ctx) -> JSONResponse:
    body = await DpsRoute.parse_body(request, PvsDeviceDeleteRequest)
    return envelope.ok(request, service.delete_devices(ctx, org_id=_org(request), request=body))


async def _reset(request: Request, ctx: Ctx) -> JSONResponse:
    body = await DpsRoute.parse_body(request, PvsDeviceResetRequest)
    return envelope.ok(
        request, service.reset_allocation_status(ctx, org_id=_org(request), request=body)
    )


ACTIONS: dict[str, Action] = {
    "allocate": _allocate,
    "create": _create,
    "get": _get,
    "search": _search,
    "update": _update,
    "delete": _delete,
    "resetAllocationStatus": _reset,
}
V4_ACTIONS = {"activate": "allocate", "allocate": "allocate"}

_ERRORS = (DpsError, TokenError)
# Only faults produce these: the token codes no API call triggers, and an emulator bug (99500).
_FAULT_ONLY = ON_API_FAULT_ONLY | {DpsError.EMULATOR_INTERNAL_ERROR.code}
register(
    Operation("enos.dps.allocate", "enos", _ERRORS, fault_only=_FAULT_ONLY),
    Operation("enos.dps.create", "enos", _ERRORS, fault_only=_FAULT_ONLY),
    Operation("enos.dps.get", "enos", _ERRORS, fault_only=_FAULT_ONLY),
    Operation("enos.dps.search", "enos", _ERRORS, fault_only=_FAULT_ONLY),
    Operation("enos.dps.update", "enos", _ERRORS, fault_only=_FAULT_ONLY),
    Operation("enos.dps.delete", "enos", _ERRORS, fault_only=_FAULT_ONLY),
    Operation(
        "enos.dps.reset_allocation_status", "enos", _ERRORS,
        fault_only=_FAULT_ONLY | {DpsError.UNAUTHORIZED.code},
    ),
)  # fmt: skip


_V25_ACTIONS = {name: name for name in ACTIONS}


def _dispatch(request: Request, action: str | None, table: dict[str, str]) -> Action:
    name = table.get(action or "")
    if name is None:
        raise VendorError(
            DpsError.INVALID_ARGUMENT, f"Invalid Argument action:unsupported action {action!r}"
        )
    request.state.operation = OPERATIONS[name]
    return ACTIONS[name]


@get_and_post(
    router,
    "/v2.5/pvs/device",
    response_model=EnosResponse[PvsDevice],
    name="enos.dps.allocate",
    operation_id="enos.dps.allocate",
    post={
        "summary": (
            "Allocate DPS Device (action=allocate; also create, get, search, update, delete)"
        ),
        "openapi_extra": {
            **request_body(PvsDeviceAllocateRequest),
            "parameters": [
                {
                    "name": "action",
                    "in": "query",
                    "required": True,
                    "schema": {"type": "string"},
                    "description": "allocate | create | get | search | update | delete | "
                    "resetAllocationStatus",
                },
                {"name": "orgId", "in": "query", "required": True, "schema": {"type": "string"}},
            ],
        },
    },
)
@hot
async def pvs_device(request: Request) -> JSONResponse:
    """Allocate DPS Device (enos-dps-allocate.md), and its companions."""
    # Parameters read by hand (documented above): the hot path skips FastAPI's solving.
    handler = _dispatch(request, request.query_params.get("action"), _V25_ACTIONS)
    return await handler(request, await request_context(request))


@get_and_post(
    router,
    "/v4.0/pvs/device",
    response_model=EnosResponse[PvsDevice],
    name="enos.dps.allocate",
    deprecated=True,
    # Distinct in OpenAPI only: the journal and faults see enos.dps.allocate.
    operation_id="enos.dps.allocate_v4",
)
async def pvs_device_v4(
    request: Request,
    ctx: CtxDep,
    action: Annotated[str | None, Query(description="activate | allocate")] = None,
    org_id: Annotated[str | None, Query(alias="orgId")] = None,
) -> JSONResponse:
    """V4.0 Allocate DPS Device (deprecated): the same allocation as v2.5."""
    handler = _dispatch(request, action, V4_ACTIONS)
    return await handler(request, ctx)
