"""Quectel SaaS OpenAPI routes: the device manager (devicemgr-createBatch.md and companions),
the products, and the accessKey token service (REAL-CLIENTS.md §3).

Routes parse and dispatch; behaviour lives in ``service.py`` and ``token.py``.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from emulator.core.bodies import MalformedJson, json_of
from emulator.core.context import Ctx
from emulator.core.errors import ErrorCode, VendorError
from emulator.core.operations import Operation, register
from emulator.core.responses import JsonResponse
from emulator.core.routing import get_and_post, hot, request_context
from emulator.vendors.quectel.auth import saas_auth
from emulator.vendors.quectel.devicemgr import service
from emulator.vendors.quectel.devicemgr import token as saas_tokens
from emulator.vendors.quectel.devicemgr.errors import (
    VALIDATION,
    SaasAuthError,
    SaasError,
    SaasTokenError,
)
from emulator.vendors.quectel.devicemgr.schemas import (
    AccessTokenResponse,
    BatchResult,
    DeviceCreateBatchDto,
    DeviceCreateSingleR3Dto,
    DeviceCredentials,
    DeviceDeleteR3Dto,
    DeviceDetails,
    DeviceOverviewPage,
    ProductDetails,
    ProductPage,
)
from emulator.vendors.quectel.envelope import QuectelResponse, QuectelRoute


class DeviceMgrRoute(QuectelRoute):
    """The SaaS OpenAPI envelope ``{"code":200,"msg":"","data":...}``, errors at HTTP 200."""

    validation_map = VALIDATION
    validation_fallback = SaasError.PARAM_CHECK_ERROR
    internal_error = SaasError.SERVICE_EXCEPTION
    auth = saas_auth

    @classmethod
    def describe(cls, code: ErrorCode, field: str, detail: str) -> str | None:
        if code is SaasError.PARAM_CHECK_ERROR:
            return f"param check error: {field}: {detail}" if field else "param check error"
        return None


class SaasTokenRoute(QuectelRoute):
    """The token service answers at the top level: failure ``{"code","msg","error"}``
    (the accessKeyLogin doc's failure example)."""

    validation_fallback = SaasTokenError.PARAM_CHECK_ERROR
    internal_error = SaasTokenError.SERVICE_EXCEPTION

    @classmethod
    def render_error(cls, request: Request, error: VendorError) -> JSONResponse:
        body = {"code": error.error.code, "msg": error.message, "error": error.message}
        return JsonResponse(body, status_code=error.error.http_status)


router = APIRouter(
    prefix="/v2/devicemgr/r3/openapi", route_class=DeviceMgrRoute, tags=["quectel"],
)  # fmt: skip
products_router = APIRouter(
    prefix="/v2/quecproductmgr/r3/openapi", route_class=DeviceMgrRoute, tags=["quectel"],
)  # fmt: skip
token_router = APIRouter(
    prefix="/v2/quecauth/accessKeyAuthrize", route_class=SaasTokenRoute, tags=["quectel"]
)

CtxDep = Annotated[Ctx, Depends(request_context)]
ProductKeyQuery = Annotated[str, Query(alias="productKey", min_length=1)]
DeviceKeyQuery = Annotated[str, Query(alias="deviceKey", min_length=1)]
PageNum = Annotated[int, Query(alias="pageNum")]
PageSize = Annotated[int, Query(alias="pageSize")]


# --- operations ---------------------------------------------------------------------------

_API_TABLES: tuple[type[ErrorCode], ...] = (SaasError, SaasAuthError)
_AUTH_CODES = {SaasAuthError.TOKEN_MISSING, SaasAuthError.TOKEN_INCORRECT}


def _operation(
    op_id: str, reachable: set[ErrorCode], tables: tuple[type[ErrorCode], ...] = _API_TABLES
) -> Operation:
    """An operation whose codes other than ``reachable`` only a fault can produce."""
    every = {member.code for table in tables for member in table}
    return Operation(
        op_id, "quectel", tables,
        fault_only=frozenset(every - {member.code for member in reachable}),
    )  # fmt: skip


E = SaasError
OPERATIONS = [
    _operation(
        "quectel.devicemgr.create_batch",
        {E.PARAM_CHECK_ERROR, E.PRODUCT_KEY_EMPTY, E.PRODUCT_NOT_FOUND, *_AUTH_CODES},
    ),
    _operation(
        "quectel.devicemgr.create_device",
        {
            E.PARAM_CHECK_ERROR,
            E.PRODUCT_KEY_EMPTY,
            E.DEVICE_KEY_EMPTY,
            E.PRODUCT_NOT_FOUND,
            *_AUTH_CODES,
        },
    ),  # fmt: skip
    _operation(
        "quectel.devicemgr.device_detail",
        {E.PRODUCT_KEY_EMPTY, E.DEVICE_KEY_EMPTY, E.DEVICE_NOT_FOUND, *_AUTH_CODES},
    ),
    _operation(
        "quectel.devicemgr.device_overview",
        {E.PARAM_CHECK_ERROR, E.PRODUCT_KEY_EMPTY, E.PRODUCT_NOT_FOUND, *_AUTH_CODES},
    ),
    _operation(
        "quectel.devicemgr.delete_device",
        {
            E.PARAM_CHECK_ERROR,
            E.PRODUCT_KEY_EMPTY,
            E.DEVICE_KEY_EMPTY,
            E.DEVICE_NOT_FOUND,
            *_AUTH_CODES,
        },
    ),  # fmt: skip
    _operation("quectel.devicemgr.product_list", {E.PARAM_CHECK_ERROR, *_AUTH_CODES}),
    _operation(
        "quectel.devicemgr.product_detail",
        {E.PRODUCT_KEY_EMPTY, E.PRODUCT_NOT_FOUND, *_AUTH_CODES},
    ),
    _operation(
        "quectel.auth.access_key_login",
        {SaasTokenError.PARAM_CHECK_ERROR, SaasTokenError.ACCESS_KEY_NOT_FOUND},
        (SaasTokenError,),
    ),
    _operation(
        "quectel.auth.refresh_token",
        {SaasTokenError.PARAM_CHECK_ERROR, SaasAuthError.TOKEN_INCORRECT},
        (SaasTokenError, SaasAuthError),
    ),
]
register(*OPERATIONS)


def _body_schema(model: type[BaseModel]) -> dict[str, Any]:
    """OpenAPI for a body read by hand (``parse_body``), so bad JSON gets a vendor code."""
    schema = model.model_json_schema(by_alias=True)
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


# --- device manager -----------------------------------------------------------------------


@router.post(
    "/device/createBatch",
    response_model=QuectelResponse[BatchResult],
    name="quectel.devicemgr.create_batch",
    operation_id="quectel.devicemgr.create_batch",
    openapi_extra=_body_schema(DeviceCreateBatchDto),
)
@hot
async def create_batch(request: Request) -> JSONResponse:
    """Add Devices (Batch) (devicemgr-createBatch.md)."""
    body = await DeviceMgrRoute.parse_body(request, DeviceCreateBatchDto)
    return DeviceMgrRoute.ok(service.create_batch(await request_context(request), body))


@router.post(
    "/device/create",
    response_model=QuectelResponse[DeviceCredentials],
    name="quectel.devicemgr.create_device",
    operation_id="quectel.devicemgr.create_device",
    openapi_extra=_body_schema(DeviceCreateSingleR3Dto),
)
async def create_device(request: Request, ctx: CtxDep) -> JSONResponse:
    """Add Device (Single)."""
    body = await DeviceMgrRoute.parse_body(request, DeviceCreateSingleR3Dto)
    return DeviceMgrRoute.ok(service.create_device(ctx, body))


@router.get(
    "/device/detail",
    response_model=QuectelResponse[DeviceDetails],
    name="quectel.devicemgr.device_detail",
    operation_id="quectel.devicemgr.device_detail",
)
async def device_detail(
    ctx: CtxDep, product_key: ProductKeyQuery, device_key: DeviceKeyQuery
) -> JSONResponse:
    """Query Device Details."""
    return DeviceMgrRoute.ok(
        service.device_detail(ctx, product_key=product_key, device_key=device_key)
    )


@router.get(
    "/product/device/overview",
    response_model=DeviceOverviewPage,
    name="quectel.devicemgr.device_overview",
    operation_id="quectel.devicemgr.device_overview",
)
async def device_overview(
    ctx: CtxDep,
    product_key: ProductKeyQuery,
    page_num: PageNum = 1,
    page_size: PageSize = 10,
    device_key: Annotated[str | None, Query(alias="deviceKey")] = None,
    device_status: Annotated[int | None, Query(alias="deviceStatus")] = None,
    active_status: Annotated[int | None, Query(alias="activeStatus")] = None,
) -> JSONResponse:
    """Query Device List Under Product: the array in ``data``, paging at the top level."""
    data, paging = service.device_overview(
        ctx, product_key=product_key, page_num=page_num, page_size=page_size,
        device_key=device_key, device_status=device_status, active_status=active_status,
    )  # fmt: skip
    return DeviceMgrRoute.ok(data, "", **paging)


@router.post(
    "/device/delete",
    response_model=QuectelResponse[None],
    name="quectel.devicemgr.delete_device",
    operation_id="quectel.devicemgr.delete_device",
    openapi_extra=_body_schema(DeviceDeleteR3Dto),
)
async def delete_device(request: Request, ctx: CtxDep) -> JSONResponse:
    """Delete Device."""
    body = await DeviceMgrRoute.parse_body(request, DeviceDeleteR3Dto)
    service.delete_device(ctx, body)
    return DeviceMgrRoute.ok(None)


# --- products -----------------------------------------------------------------------------


@products_router.get(
    "/products",
    response_model=ProductPage,
    name="quectel.devicemgr.product_list",
    operation_id="quectel.devicemgr.product_list",
)
async def product_list(
    ctx: CtxDep,
    page_num: PageNum = 1,
    page_size: PageSize = 10,
    product_key: Annotated[str | None, Query(alias="productKey")] = None,
) -> JSONResponse:
    """Query Product List."""
    data, paging = service.product_list(
        ctx, page_num=page_num, page_size=page_size, product_key=product_key
    )
    return DeviceMgrRoute.ok(data, "", **paging)


@products_router.get(
    "/product/detail",
    response_model=QuectelResponse[ProductDetails],
    name="quectel.devicemgr.product_detail",
    operation_id="quectel.devicemgr.product_detail",
)
async def product_detail(ctx: CtxDep, product_key: ProductKeyQuery) -> JSONResponse:
    """Query Product Details."""
    return DeviceMgrRoute.ok(service.product_detail(ctx, product_key=product_key))


# --- token service ------------------------------------------------------------------------


async def _token_params(request: Request) -> dict[str, str]:
    """Query parameters (the doc), and for POST also a form or JSON body (doc: POST allowed)."""
    params = dict(request.query_params)
    if request.method != "POST":
        return params
    raw = await request.body()
    if not raw.strip():
        return params
    content_type = request.headers.get("content-type", "")
    if "json" in content_type:
        try:
            data = json_of(raw)
        except MalformedJson:
            raise VendorError(
                SaasTokenError.PARAM_CHECK_ERROR, "param check error: malformed JSON body"
            ) from None
        if not isinstance(data, dict):
            raise VendorError(
                SaasTokenError.PARAM_CHECK_ERROR, "param check error: body must be an object"
            )
        body = {str(k): v for k, v in data.items() if isinstance(v, str | int)}
        return {**{k: str(v) for k, v in body.items()}, **params}
    try:
        form = parse_qsl(raw.decode("utf-8"), keep_blank_values=True)
    except UnicodeDecodeError:
        raise VendorError(
            SaasTokenError.PARAM_CHECK_ERROR, "param check error: body is not UTF-8"
        ) from None
    return {**dict(form), **params}


def _token_answer(issued: saas_tokens.IssuedToken) -> JSONResponse:
    token = {
        "access_token": issued.token,
        "token_type": "jwt",
        "expires_in": issued.expires_in,
        "scope": issued.scope,
    }
    return JsonResponse({"code": 200, "msg": "OK", **token, "data": token})


@get_and_post(
    token_router,
    "/accessKeyLogin",
    response_model=AccessTokenResponse,
    name="quectel.auth.access_key_login",
    operation_id="quectel.auth.access_key_login",
)
async def access_key_login(request: Request, ctx: CtxDep) -> JSONResponse:
    """Get an access token with AccessKey/AccessSecret (OpenAPI Integration Guide)."""
    p = await _token_params(request)
    issued = saas_tokens.login(
        ctx, grant_type=p.get("grant_type"), username=p.get("username"),
        password=p.get("password"), scope=p.get("scope"),
    )  # fmt: skip
    return _token_answer(issued)


@get_and_post(
    token_router,
    "/refreshToken",
    response_model=AccessTokenResponse,
    name="quectel.auth.refresh_token",
    operation_id="quectel.auth.refresh_token",
)
async def refresh_token(request: Request, ctx: CtxDep) -> JSONResponse:
    """Refresh Token. A generated doc names the parameter ``refreshToken``: both are read."""
    p = await _token_params(request)
    issued = saas_tokens.refresh(
        ctx, grant_type=p.get("grant_type"),
        refresh_token=p.get("refresh_token") or p.get("refreshToken"), scope=p.get("scope"),
    )  # fmt: skip
    return _token_answer(issued)
