"""Routes of the ``/_emulator`` control plane."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import yaml
from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response

from emulator.control import service
from emulator.control.errors import ControlError, error_body
from emulator.control.schemas import (
    ClockUpdate,
    DeviceList,
    DeviceView,
    FaultSpec,
    Health,
    ResetResult,
    SeedRequest,
    VerifyRequest,
)
from emulator.core import conformance, coverage
from emulator.core.context import Ctx
from emulator.core.limits import INT64_MAX
from emulator.core.namespaces import NAME_PATTERN
from emulator.core.responses import JsonResponse
from emulator.core.routing import LockWaitingRoute, emulator_of, namespace_of, request_context
from emulator.core.vendor import VendorFilter, VendorName

router = APIRouter(prefix="/_emulator", tags=["control plane"], route_class=LockWaitingRoute)

CtxDep = Annotated[Ctx, Depends(request_context)]


@router.get("/health", operation_id="control.health")
async def health(request: Request) -> Health:
    """Liveness and readiness: answers once the state is loaded."""
    return service.health(emulator_of(request))


@router.post("/reset", operation_id="control.reset")
async def reset(request: Request) -> ResetResult:
    """Back to the baseline the fixtures define (this namespace only); its faults and journal
    are cleared and its ids start over from its seed."""
    namespace = namespace_of(request)
    service.reset(emulator_of(request), namespace)
    return ResetResult(namespace=namespace)


@router.get("/devices", operation_id="control.list_devices")
async def list_devices(
    ctx: CtxDep,
    vendor: VendorFilter = None,
    product_key: Annotated[str | None, Query(alias="productKey")] = None,
    online: bool | None = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
    offset: Annotated[int, Query(ge=0, le=INT64_MAX)] = 0,
) -> DeviceList:
    """Every device of the namespace, filtered by vendor, product and online state."""
    return service.list_devices(
        ctx, vendor=vendor, product_key=product_key, online=online, limit=limit, offset=offset
    )


Vendor = VendorName


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


# --- journal ------------------------------------------------------------------------------

NamespaceFilter = Annotated[
    str | None, Query(description="default: this request's namespace; * for every namespace")
]


def _journal_namespace(request: Request, namespace: str | None) -> str | None:
    name = namespace or namespace_of(request)
    return None if name == service.ALL_NAMESPACES else name


@router.get("/requests", operation_id="control.list_requests")
async def list_requests(
    request: Request,
    operation: str | None = None,
    namespace: NamespaceFilter = None,
    limit: Annotated[int, Query(ge=1, le=100_000)] = 100,
) -> dict[str, Any]:
    """The journal, newest first: every vendor request with its answer (credentials masked)."""
    return service.list_requests(
        emulator_of(request),
        namespace=_journal_namespace(request, namespace),
        operation=operation,
        limit=limit,
    )


@router.delete("/requests", operation_id="control.clear_requests")
async def clear_requests(request: Request, namespace: NamespaceFilter = None) -> dict[str, Any]:
    cleared = emulator_of(request).journal.clear(_journal_namespace(request, namespace))
    return {"cleared": cleared}


@router.post("/requests/verify", operation_id="control.verify_requests", response_model=None)
async def verify_requests(request: Request, spec: VerifyRequest) -> Any:
    """200 with the match count, or 409 with the count and the nearest misses."""
    ok, report = service.verify(emulator_of(request), namespace_of(request), spec)
    if ok:
        return report
    message = report.pop("message")
    return JsonResponse(error_body(409, message, **report), status_code=409)


# --- faults -------------------------------------------------------------------------------


@router.get("/operations", operation_id="control.list_operations")
async def list_operations() -> dict[str, Any]:
    """Every vendor operation id with the codes a fault may inject (and the fault-only ones)."""
    return service.operations()


@router.post("/faults", operation_id="control.arm_fault", status_code=201)
async def arm_fault(ctx: CtxDep, spec: FaultSpec) -> dict[str, Any]:
    """Arm a rule: the operation (or one device of a batch) answers a documented code."""
    return service.arm_fault(ctx, spec)


@router.get("/faults", operation_id="control.list_faults")
async def list_faults(ctx: CtxDep) -> dict[str, Any]:
    return service.list_faults(ctx)


@router.delete("/faults", operation_id="control.clear_faults")
async def clear_faults(request: Request) -> dict[str, Any]:
    return {"cleared": emulator_of(request).faults.clear(namespace_of(request))}


@router.delete("/faults/{fault_id}", operation_id="control.delete_fault")
async def delete_fault(request: Request, fault_id: str) -> dict[str, Any]:
    if not emulator_of(request).faults.remove(namespace_of(request), fault_id):
        raise ControlError(404, f"no fault {fault_id!r} in this namespace")
    return {"deleted": fault_id}


# --- clock and seed -----------------------------------------------------------------------


@router.get("/clock", operation_id="control.get_clock")
async def get_clock(request: Request) -> dict[str, Any]:
    """The emulator clock (one for the whole emulator, every namespace)."""
    return service.clock_view(emulator_of(request))


@router.post("/clock", operation_id="control.set_clock")
async def set_clock(request: Request, update: ClockUpdate) -> dict[str, Any]:
    return service.set_clock(emulator_of(request), update)


@router.delete("/clock", operation_id="control.release_clock")
async def release_clock(request: Request) -> dict[str, Any]:
    """Back to real time."""
    emulator = emulator_of(request)
    emulator.clock.release()
    return service.clock_view(emulator)


@router.post("/seed", operation_id="control.seed")
async def seed(ctx: CtxDep, body: SeedRequest) -> dict[str, Any]:
    """Seed this namespace's ids, keys and secrets: the same seed and requests, the same ids."""
    return service.reseed(ctx, body.seed)


# --- state, fixtures, namespaces ----------------------------------------------------------


@router.get("/state", operation_id="control.export_state", response_model=None)
async def export_state(
    ctx: CtxDep, format: Literal["json", "yaml"] = "json"
) -> dict[str, Any] | Response:
    """The namespace's state in the fixture format (``PUT /state`` takes it back)."""
    document = service.export_state(ctx)
    if format == "yaml":
        text = yaml.safe_dump(document, sort_keys=False, allow_unicode=True)
        return Response(text, media_type="application/yaml")
    return document


@router.put("/state", operation_id="control.import_state")
async def import_state(request: Request, ctx: CtxDep) -> dict[str, Any]:
    """Replace the namespace's state by a fixture document (JSON or YAML)."""
    data = service.parse_fixture_text(
        await request.body(), request.headers.get("content-type", ""), "PUT /state"
    )
    return service.import_state(ctx, data)


@router.post("/fixtures", operation_id="control.merge_fixtures")
async def merge_fixtures(request: Request, ctx: CtxDep) -> dict[str, Any]:
    """Merge a fixture document (JSON or YAML) into the namespace's state."""
    data = service.parse_fixture_text(
        await request.body(), request.headers.get("content-type", ""), "POST /fixtures"
    )
    return service.merge_fixtures(ctx, data)


@router.get("/namespaces", operation_id="control.list_namespaces")
async def list_namespaces(request: Request) -> dict[str, Any]:
    return service.list_namespaces(emulator_of(request))


@router.delete("/namespaces/{name}", operation_id="control.delete_namespace")
async def delete_namespace(
    request: Request, name: Annotated[str, Path(pattern=NAME_PATTERN.pattern)]
) -> dict[str, Any]:
    """Drop a namespace's state, faults, journal and seed (it starts from the baseline again
    on its next request)."""
    return service.delete_namespace(emulator_of(request), name)


# --- conformance and coverage -------------------------------------------------------------


@router.get("/conformance", operation_id="control.conformance", response_model=None)
async def conformance_report(
    request: Request, format: Literal["json", "text"] = "json"
) -> dict[str, Any] | Response:
    """Every documented operation: its fields and limits, and each error code with how the
    emulator covers it (real input, fault only, not emulated), generated from the error tables
    and the request schemas."""
    data = conformance.report(request.app)
    if format == "text":
        return Response(conformance.render_table(data), media_type="text/plain")
    return data


@router.get("/coverage", operation_id="control.coverage")
async def coverage_report(
    request: Request,
    namespace: NamespaceFilter = None,
    vendor: VendorFilter = None,
) -> dict[str, Any]:
    """From the journal: which documented codes of each operation this namespace's requests
    produced, and which they never did."""
    name = _journal_namespace(request, namespace)
    entries = emulator_of(request).journal.query(namespace=name)
    return coverage.report(entries, namespace=name or service.ALL_NAMESPACES, vendor=vendor)
