"""Quectel end-user routes: ``/v2/enduser/enduserapi/emailPwdLogin`` and ``/refreshToken``
(token service), ``/v2/binding/enduserapi/batchControlDevice`` and ``/userDeviceList``."""

from __future__ import annotations

import json
from typing import Annotated, Any, ClassVar
from urllib.parse import parse_qsl

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from emulator.core.bodies import MalformedJson, read_json
from emulator.core.context import Ctx
from emulator.core.errors import VendorError
from emulator.core.limits import INT32_MAX
from emulator.core.operations import Operation, register
from emulator.core.routing import emulator_of, hot, request_context
from emulator.vendors.quectel.enduser import service
from emulator.vendors.quectel.enduser import token as tokens
from emulator.vendors.quectel.enduser.auth import enduser_auth
from emulator.vendors.quectel.enduser.errors import (
    BatchControlError,
    DeviceListError,
    GenericError,
    LoginError,
    TokenError,
)
from emulator.vendors.quectel.enduser.schemas import (
    BatchControlDevice,
    LoginToken,
    PkdkResult,
    parse_batch_control,
)
from emulator.vendors.quectel.enduser.token import EndUser, LoginRequest
from emulator.vendors.quectel.envelope import QuectelResponse, QuectelRoute

EMAIL_PWD_LOGIN = "quectel.enduser.email_pwd_login"
REFRESH_TOKEN = "quectel.enduser.refresh_token"
BATCH_CONTROL_DEVICE = service.BATCH_CONTROL_DEVICE
USER_DEVICE_LIST = "quectel.enduser.user_device_list"


class EnduserRoute(QuectelRoute):
    # The end-user envelope carries extMsg (the docs' samples; null or "" on the platform).
    extra: ClassVar[dict[str, Any]] = {"extMsg": ""}
    validation_fallback = GenericError.PARAM_CHECK_ERROR
    internal_error = GenericError.SERVICE_EXCEPTION


class EnduserApiRoute(EnduserRoute):
    """The business routes: the caller (an :class:`EndUser`, or None when the token is not one
    the emulator issued) is ``request.state.auth``."""

    auth = enduser_auth


register(
    Operation(
        BATCH_CONTROL_DEVICE, "quectel", (BatchControlError, TokenError, GenericError),
        fault_only=frozenset({BatchControlError.BATCH_CONTROL_FAILED.code}),
    ),
    Operation(
        EMAIL_PWD_LOGIN, "quectel", (LoginError, GenericError),
        fault_only=frozenset({
            LoginError.USER_DOMAIN_DISABLED.code, LoginError.NETWORK_BLOCKED.code,
            LoginError.MCC_OTHER_DATA_CENTER.code, LoginError.MCC_QUERY_FAILED.code,
        }),
    ),
    Operation(REFRESH_TOKEN, "quectel", (TokenError, GenericError)),
    Operation(
        USER_DEVICE_LIST, "quectel", (DeviceListError, TokenError, GenericError),
        fault_only=frozenset({DeviceListError.USER_MISMATCH.code}),
    ),
)  # fmt: skip

token_router = APIRouter(
    prefix="/v2/enduser/enduserapi", route_class=EnduserRoute, tags=["quectel end-user"]
)
router = APIRouter(
    prefix="/v2/binding/enduserapi", route_class=EnduserApiRoute, tags=["quectel end-user"]
)

CtxDep = Annotated[Ctx, Depends(request_context)]


def _param_error(detail: str) -> VendorError:
    return VendorError(
        GenericError.PARAM_CHECK_ERROR, f"{GenericError.PARAM_CHECK_ERROR.message}: {detail}"
    )


async def _json_body(request: Request) -> Any:
    try:
        return await read_json(request)
    except MalformedJson as exc:
        raise _param_error(str(exc)) from None


async def _params(request: Request) -> dict[str, str]:
    """Query parameters, overridden by a form or JSON body: the doc says query, real clients
    send a form, some send JSON (REAL-CLIENTS.md §4)."""
    params = dict(request.query_params)
    raw = await request.body()
    if not raw.strip():
        return params
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype == "application/x-www-form-urlencoded":
        try:
            params.update(parse_qsl(raw.decode("utf-8"), keep_blank_values=True))
        except UnicodeDecodeError:
            raise _param_error("the form is not UTF-8") from None
        return params
    if ctype.endswith("json") or raw.lstrip()[:1] == b"{":
        body = await _json_body(request)
        if not isinstance(body, dict):
            raise _param_error("the body must be a JSON object")
        for key, value in body.items():
            if value is not None and not isinstance(value, dict | list):
                params[key] = value if isinstance(value, str) else json.dumps(value)
    return params


@token_router.post(
    "/emailPwdLogin",
    response_model=QuectelResponse[LoginToken],
    name=EMAIL_PWD_LOGIN,
    operation_id=EMAIL_PWD_LOGIN,
)
async def email_pwd_login(request: Request, ctx: CtxDep) -> JSONResponse:
    """Email Password Login: an access token (2 h) and a refresh token."""
    p = await _params(request)
    login = LoginRequest(
        email=p.get("email"), pwd=p.get("pwd"), signature=p.get("signature"),
        user_domain=p.get("userDomain"), random=p.get("random"),
    )  # fmt: skip
    return EnduserRoute.ok(tokens.login(ctx, login))


@token_router.put(
    "/refreshToken",
    response_model=QuectelResponse[LoginToken],
    name=REFRESH_TOKEN,
    operation_id=REFRESH_TOKEN,
)
async def refresh_token(request: Request, ctx: CtxDep) -> JSONResponse:
    """Refresh Token: a new access token; one client sends the token in Authorization only."""
    p = await _params(request)
    given = p.get("refreshToken") or request.headers.get("authorization")
    return EnduserRoute.ok(tokens.refresh(ctx, given))


@router.post(
    "/batchControlDevice",
    response_model=QuectelResponse[PkdkResult],
    name=BATCH_CONTROL_DEVICE,
    operation_id=BATCH_CONTROL_DEVICE,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": BatchControlDevice.model_json_schema()}},
        }
    },
)
@hot
async def batch_control_device(request: Request) -> JSONResponse:
    """Batch Control Devices (enduser-batchControlDevice.md)."""
    limit = emulator_of(request).settings.batch_control_limit
    command = parse_batch_control(await _json_body(request), limit)
    ctx, user = await request_context(request), _caller(request)
    return EnduserRoute.ok(service.batch_control_device(ctx, user, command))


def _caller(request: Request) -> EndUser | None:
    user: EndUser | None = request.state.auth
    return user


def _int_param(request: Request, *names: str, default: int) -> int:
    for name in names:
        value = request.query_params.get(name)
        if value is not None and value.strip():
            try:
                number = int(value)
            except ValueError:
                raise _param_error(f"{name} must be an integer") from None
            # A Java int on the vendor's side (and a page past it overflows the offset).
            if abs(number) > INT32_MAX:
                raise _param_error(f"{name} must be at most {INT32_MAX}")
            return number
    return default


@router.get(
    "/userDeviceList",
    response_model=QuectelResponse[dict[str, Any]],
    name=USER_DEVICE_LIST,
    operation_id=USER_DEVICE_LIST,
)
async def user_device_list(request: Request, ctx: CtxDep) -> JSONResponse:
    """Query User's Device List (including shared devices), paged."""
    q = request.query_params
    page = max(1, _int_param(request, "page", "pageNumber", default=1))
    page_size = _int_param(request, "pageSize", default=10)
    page_size = 10 if page_size < 1 else min(page_size, 1000)
    pk_list = [pk.strip() for pk in (q.get("pkList") or "").split(",") if pk.strip()]
    data = service.user_device_list(
        ctx, _caller(request), page=page, page_size=page_size, pk_list=pk_list,
        dk=q.get("dk") or None, device_name=q.get("deviceName") or None,
    )  # fmt: skip
    return EnduserRoute.ok(data)
