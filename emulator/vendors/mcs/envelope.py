"""The MCS v2 error envelope: ``{"results": {"code", "url", "description"}}`` on the row's
HTTP status (mcs-registerDevice.md, "Error Response")."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

from emulator.core.errors import ErrorCode, VendorError
from emulator.core.responses import JsonResponse
from emulator.core.routing import VendorRoute
from emulator.vendors.mcs.errors import DeviceError

ERROR_URL = "http://mcs.mediatek.com/api_errorcode?code={code}"


class McsModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


def error_body(code: int, description: str) -> dict[str, Any]:
    return {
        "results": {"code": code, "url": ERROR_URL.format(code=code), "description": description}
    }


def _wire_path(loc: Sequence[Any]) -> str:
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif part != "body":
            path += f".{part}" if path else str(part)
    return path


def render_error(request: Request, error: VendorError) -> JSONResponse:
    return JsonResponse(
        error_body(error.error.code, error.message), status_code=error.error.http_status
    )


class McsRoute(VendorRoute):
    render = staticmethod(render_error)
    validation_fallback = DeviceError.BAD_REQUEST
    internal_error = DeviceError.INTERNAL_ERROR

    @classmethod
    def describe(cls, code: ErrorCode, field: str, detail: str) -> str | None:
        if not field or detail.startswith(field):
            return detail
        return f"{field}: {detail}"

    @classmethod
    def validation_error(cls, errors: Sequence[Mapping[str, Any]]) -> VendorError:
        """Every field error is a 400; the description names the field by its path in the
        body (``devices[1].name is missing``), so a batch says which device is wrong."""
        error = super().validation_error(errors)
        first = errors[0] if errors else {}
        where = _wire_path(first.get("loc", ()))
        if not where:
            return error
        if first.get("type") == "missing":
            return VendorError(error.error, f"{where} is missing")
        return VendorError(error.error, f"{where}: {first.get('msg', 'invalid value')}")


class McsUnknownRoute(McsRoute):
    """Answers a path or method under ``/mcs/`` that is no operation: 404, in the envelope."""

    validation_fallback = DeviceError.NOT_FOUND
