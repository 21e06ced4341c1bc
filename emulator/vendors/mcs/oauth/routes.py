"""MCS OAuth routes: ``POST /oauth/login/thirdpart[y]`` and ``.../refresh``.

The docs name ``/oauth/login/thirdparty``; real clients and the zh docs call
``/oauth/login/thirdpart``: both are served. The body is a form or JSON.
"""

from __future__ import annotations

from typing import Annotated, Any, TypeVar
from urllib.parse import parse_qsl

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError

from emulator.core.bodies import MalformedJson, json_of
from emulator.core.conformance import request_body
from emulator.core.context import Ctx
from emulator.core.errors import ErrorCode, VendorError
from emulator.core.operations import Operation, register
from emulator.core.responses import JsonResponse
from emulator.core.routing import VendorRoute, request_context
from emulator.vendors.mcs.oauth import service
from emulator.vendors.mcs.oauth.errors import VALIDATION, OAuthError
from emulator.vendors.mcs.oauth.schemas import (
    LoginRequest,
    LoginResponse,
    RefreshRequest,
    RefreshResponse,
)

M = TypeVar("M", bound=BaseModel)


def render_error(request: Request, error: VendorError) -> JSONResponse:
    status = error.error.http_status
    body = {
        "apiVersion": "0.0.1",
        "code": error.error.code,
        "message": error.message,
        "statusCode": status,
        "options": {},
    }
    return JsonResponse(body, status_code=status)


class OAuthRoute(VendorRoute):
    render = staticmethod(render_error)
    validation_map = VALIDATION
    validation_fallback = OAuthError.BAD_REQUEST
    internal_error = OAuthError.INTERNAL_ERROR

    @classmethod
    def describe(cls, code: ErrorCode, field: str, detail: str) -> str | None:
        return f"Invalid or missing {field} parameter" if field else detail


router = APIRouter(prefix="/oauth/login", route_class=OAuthRoute, tags=["mcs"])

CtxDep = Annotated[Ctx, Depends(request_context)]

register(
    Operation("mcs.oauth.login", "mcs", (OAuthError,), fault_only=frozenset({500})),
    Operation("mcs.oauth.refresh", "mcs", (OAuthError,), fault_only=frozenset({500})),
)


def _bad(detail: str) -> VendorError:
    return VendorError(OAuthError.BAD_REQUEST, detail)


async def _fields(request: Request, model: type[M]) -> M:
    """A JSON object or a urlencoded form (what the PHP/Python example clients post)."""
    raw = await request.body()
    data: Any
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise _bad("the body is not UTF-8") from None
    if not text.strip():
        data = {}
    elif text.lstrip().startswith(("{", "[")) or "json" in request.headers.get("content-type", ""):
        try:
            data = json_of(text)
        except MalformedJson as exc:
            raise _bad(str(exc)) from None
        if not isinstance(data, dict):
            raise _bad("the body must be a JSON object")
    else:
        data = dict(parse_qsl(text, keep_blank_values=True))
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise OAuthRoute.validation_error(exc.errors()) from None


@router.post(
    "/thirdparty",
    response_model=LoginResponse,
    name="mcs.oauth.login",
    operation_id="mcs.oauth.login",
    openapi_extra=request_body(LoginRequest),
)
@router.post(
    "/thirdpart", response_model=LoginResponse, name="mcs.oauth.login", include_in_schema=False
)
async def login(request: Request, ctx: CtxDep) -> JSONResponse:
    """Get User Token: HTTP Basic ``appKey:appSecret`` and the user's email and password."""
    body = await _fields(request, LoginRequest)
    authorization = request.headers.get("authorization")
    return JsonResponse(service.login(ctx, authorization, body.email, body.password))


@router.post(
    "/thirdparty/refresh",
    response_model=RefreshResponse,
    name="mcs.oauth.refresh",
    operation_id="mcs.oauth.refresh",
    openapi_extra=request_body(RefreshRequest),
)
@router.post(
    "/thirdpart/refresh",
    response_model=RefreshResponse,
    name="mcs.oauth.refresh",
    include_in_schema=False,
)
async def refresh(request: Request, ctx: CtxDep) -> JSONResponse:
    """Refresh User Access Token: the user token in the body, the app in HTTP Basic."""
    body = await _fields(request, RefreshRequest)
    authorization = request.headers.get("authorization")
    return JsonResponse(service.refresh(ctx, authorization, body.token))
