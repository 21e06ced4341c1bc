"""The EnOS v2 envelope: ``{"code", "msg", "requestId", "data"}``, business errors at HTTP 200.

REAL-CLIENTS.md §1.5: the official client (poseidon) returns ``None`` on any non-2xx status
while the official samples index ``response["data"]`` at once, so every EnOS answer is 200.
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from fastapi import Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

from emulator.core.errors import ErrorCode, VendorError
from emulator.core.responses import JsonResponse
from emulator.core.routing import VendorRoute, emulator_of, namespace_of

T = TypeVar("T")


class EnosModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


class EnosResponse(EnosModel, Generic[T]):
    """Documents the envelope in OpenAPI; routes build the body with :func:`ok` for speed."""

    code: int = 0
    msg: str = "OK"
    request_id: str
    data: T | None = None


def _request_id(request: Request) -> str:
    return emulator_of(request).ids(namespace_of(request)).uuid()


def ok(request: Request, data: Any, **fields: Any) -> JSONResponse:
    """A success; ``fields`` go beside ``data`` (a paged answer's ``pagination``)."""
    body = {"code": 0, "msg": "OK", "requestId": _request_id(request), "data": data, **fields}
    return JsonResponse(body)


def render_error(request: Request, error: VendorError) -> JSONResponse:
    body = {
        "code": error.error.code,
        "msg": error.message,
        "requestId": _request_id(request),
        "data": None,
    }
    return JsonResponse(body, status_code=error.error.http_status)


class EnosRoute(VendorRoute):
    render = staticmethod(render_error)

    @classmethod
    def describe(cls, code: ErrorCode, field: str, detail: str) -> str | None:
        # The EnOS generic code names the field: "Invalid Argument groupId:groupId is missing".
        if code.code == 99400:
            return f"Invalid Argument {field}:{detail}" if field else f"Invalid Argument {detail}"
        return None
