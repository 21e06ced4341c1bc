"""Acme's one operation: ``POST /acme/v1/devices`` creates a device of a known product.

Answers ``{"code": 0, "message": "OK", "data": {...}}``; errors carry the code of
:class:`AcmeError` in the same envelope.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from emulator.core import registry
from emulator.core.conformance import request_body
from emulator.core.errors import VendorError
from emulator.core.operations import Operation
from emulator.core.responses import JsonResponse
from emulator.core.routing import VendorRoute, hot, request_context
from tests.acme.auth import ACME_AUTH
from tests.acme.errors import AcmeError

NAME = "acme"
CREATE_DEVICE = "acme.devices.create"


def render_error(request: Request, error: VendorError) -> JSONResponse:
    body = {"code": error.error.code, "message": error.message, "data": None}
    return JsonResponse(body, status_code=error.error.http_status)


class AcmeRoute(VendorRoute):
    render = staticmethod(render_error)
    validation_fallback = AcmeError.INVALID_ARGUMENT
    internal_error = AcmeError.INTERNAL_ERROR
    # The caller (the token's subject in strict mode, else None) is ``request.state.auth``.
    auth = ACME_AUTH


class CreateDevice(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")

    product_key: str = Field(min_length=1)
    device_key: str = Field(min_length=1, max_length=32)


router = APIRouter(prefix="/acme/v1", route_class=AcmeRoute, tags=["acme"])

# Registered with the vendor (Vendor.operations), so only while Acme is.
OPERATIONS = (
    Operation(
        CREATE_DEVICE, NAME, (AcmeError,), fault_only=frozenset({AcmeError.INTERNAL_ERROR.code})
    ),
)


@router.post(
    "/devices",
    name=CREATE_DEVICE,
    operation_id=CREATE_DEVICE,
    openapi_extra=request_body(CreateDevice),
)
@hot
async def create_device(request: Request) -> JSONResponse:
    ctx = await request_context(request)
    body = await AcmeRoute.parse_body(request, CreateDevice)
    p, d = registry.products, registry.devices
    with ctx.begin() as conn:
        product = conn.execute(
            select(p.c.product_key).where(
                p.c.namespace == ctx.namespace, p.c.vendor == NAME,
                p.c.product_key == body.product_key,
            )
        ).first()  # fmt: skip
        if product is None:
            raise VendorError(AcmeError.PRODUCT_NOT_FOUND)
        row = registry.device_row(
            NAME, body.product_key, body.device_key, now=ctx.now_ms(),
            secret=ctx.ids.device_secret(), namespace=ctx.namespace,
        )  # fmt: skip
        try:
            conn.execute(insert(d), row)
        except IntegrityError:
            raise VendorError(AcmeError.DEVICE_EXISTS) from None
    # The device's secret goes by a plain name only Acme's docs give away (vendor.py masks it).
    data: dict[str, Any] = {
        "productKey": row["product_key"], "deviceKey": row["device_key"],
        "pairingCode": row["secret"], "createdBy": request.state.auth,
    }  # fmt: skip
    return JsonResponse({"code": 0, "message": "OK", "data": data})
