"""EnOS token service routes: ``/apim-token-service/v2.0/token/get`` and ``/refresh``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from emulator.core.conformance import request_body
from emulator.core.context import Ctx
from emulator.core.errors import VendorError
from emulator.core.operations import Operation, register
from emulator.core.responses import JsonResponse
from emulator.core.routing import VendorRoute, request_context
from emulator.vendors.enos.token import service
from emulator.vendors.enos.token.errors import VALIDATION, TokenError
from emulator.vendors.enos.token.schemas import TokenGetRequest, TokenRefreshRequest, TokenResponse


def render_error(request: Request, error: VendorError) -> JSONResponse:
    body = {
        "status": error.error.code,
        "msg": error.message,
        "business": "apim-token-service",
        "data": None,
    }
    return JsonResponse(body, status_code=error.error.http_status)


class TokenRoute(VendorRoute):
    render = staticmethod(render_error)
    validation_map = VALIDATION
    validation_fallback = TokenError.INVALID_PARAMETER
    internal_error = TokenError.INTERNAL_ERROR


_T = TokenError
# The token service's own operations (REAL-CLIENTS.md §1.3), for the journal, faults and the
# conformance report. Nothing raises 1001 (the emulator keeps no replay window), and 1203
# answers an API call's expired token, never the token service itself.
register(
    Operation(
        "enos.token.get", "enos", (TokenError,),
        fault_only=frozenset(
            {_T.REPEATED_REQUEST.code, _T.INTERNAL_ERROR.code, _T.TOKEN_EXPIRED.code,
             _T.REFRESH_FAILED.code}
        ),
    ),
    Operation(
        "enos.token.refresh", "enos", (TokenError,),
        fault_only=frozenset(
            {_T.REPEATED_REQUEST.code, _T.INTERNAL_ERROR.code, _T.TOKEN_EXPIRED.code}
        ),
    ),
)  # fmt: skip

router = APIRouter(prefix="/apim-token-service/v2.0/token", route_class=TokenRoute, tags=["enos"])

CtxDep = Annotated[Ctx, Depends(request_context)]


def _answer(issued: service.IssuedToken) -> JSONResponse:
    data = {"accessToken": issued.token, "expire": issued.expire}
    return JsonResponse(
        {"status": 0, "msg": "SUCCESS", "business": "apim-token-service", "data": data}
    )


@router.post(
    "/get",
    response_model=TokenResponse,
    name="enos.token.get",
    operation_id="enos.token.get",
    openapi_extra=request_body(TokenGetRequest),
)
async def get_token(request: Request, ctx: CtxDep) -> JSONResponse:
    """Get Access Token (EnOS APIM)."""
    body = await TokenRoute.parse_body(request, TokenGetRequest)
    return _answer(service.get_token(ctx, body))


@router.post(
    "/refresh",
    response_model=TokenResponse,
    name="enos.token.refresh",
    operation_id="enos.token.refresh",
    openapi_extra=request_body(TokenRefreshRequest),
)
async def refresh_token(request: Request, ctx: CtxDep) -> JSONResponse:
    """Refresh Access Token (EnOS APIM)."""
    body = await TokenRoute.parse_body(request, TokenRefreshRequest)
    return _answer(service.refresh_token(ctx, body))
