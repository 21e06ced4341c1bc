"""The Quectel envelope: ``{"code": 200, "msg", "data", ...}``, business errors at HTTP 200.

DESIGN.md: success is ``200`` for both Quectel APIs (the ``0`` of the batchControlDevice
sample is a Swagger placeholder), and the codes of the docs' "Response Status" tables are body
codes under HTTP 200, which is what every real client checks (REAL-CLIENTS.md §3, §4).
The end-user API adds ``extMsg``; the SaaS API adds paging fields on lists.
"""

from __future__ import annotations

from typing import Any, ClassVar, Generic, TypeVar

from fastapi import Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

from emulator.core.errors import VendorError
from emulator.core.responses import JsonResponse
from emulator.core.routing import VendorRoute

T = TypeVar("T")

SUCCESS = 200


class QuectelModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


class QuectelResponse(QuectelModel, Generic[T]):
    """Documents the envelope in OpenAPI; routes build bodies with :meth:`QuectelRoute.ok`."""

    code: int = SUCCESS
    msg: str = ""
    data: T | None = None


class QuectelRoute(VendorRoute):
    """Base route of a Quectel surface; ``extra`` fields are added to every body."""

    extra: ClassVar[dict[str, Any]] = {}

    @classmethod
    def ok(cls, data: Any, msg: str = "", **fields: Any) -> JSONResponse:
        return JsonResponse({"code": SUCCESS, "msg": msg, "data": data, **cls.extra, **fields})

    @classmethod
    def render_error(cls, request: Request, error: VendorError) -> JSONResponse:
        body = {"code": error.error.code, "msg": error.message, "data": None, **cls.extra}
        return JsonResponse(body, status_code=error.error.http_status)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # Bind the renderer to the subclass, so its ``extra`` fields are used.
        cls.render = cls.render_error
