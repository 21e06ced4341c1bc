"""``VendorRoute``: every error of a vendor path rendered in that vendor's own envelope.

The router that owns a path owns its error shape (FastAPI's custom ``APIRoute`` hook), so
three envelopes share one app with no path checks in a global handler. Validation errors map
to vendor codes through a table keyed by (wire field, pydantic error type).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Coroutine, Mapping, Sequence
from typing import Any, ClassVar, Protocol, TypeVar

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import BaseModel, ValidationError

from emulator.core import namespaces
from emulator.core.context import Ctx, Emulator
from emulator.core.errors import ErrorCode, ValidationMap, VendorError

logger = logging.getLogger(__name__)

M = TypeVar("M", bound=BaseModel)


class ErrorRenderer(Protocol):
    def __call__(self, request: Request, error: VendorError) -> Response: ...


def _field_of(loc: Sequence[Any]) -> str:
    """The wire name of the innermost named field (list indexes are skipped)."""
    for part in reversed(loc):
        if isinstance(part, str) and part != "body":
            return part
    return ""


def first_vendor_error(
    errors: Sequence[Mapping[str, Any]],
    table: ValidationMap,
    fallback: ErrorCode,
    describe: Callable[[ErrorCode, str, str], str | None],
) -> VendorError:
    """Map the first pydantic error that the table knows to the vendor code documented for it.

    Pydantic reports errors in field-declaration order, so schemas declare their fields in the
    order the vendor checks them, and the first mapped error wins.
    """
    for err in errors:
        field = _field_of(err.get("loc", ()))
        code = table.get((field, str(err.get("type")))) or table.get((field, "*"))
        if code is not None:
            return VendorError(code, describe(code, field, _detail(field, err)))
    first = errors[0] if errors else {}
    field = _field_of(first.get("loc", ()))
    return VendorError(fallback, describe(fallback, field, _detail(field, first)))


def _detail(field: str, err: Mapping[str, Any]) -> str:
    if err.get("type") == "missing":
        return f"{field} is missing"
    return str(err.get("msg", "invalid value"))


def emulator_of(request: Request) -> Emulator:
    emulator: Emulator = request.app.state.emulator
    return emulator


def namespace_of(request: Request) -> str:
    """Set by the namespace middleware from ``/ns/{name}`` or the namespace header."""
    name: str = request.scope.get("state", {}).get("namespace", namespaces.DEFAULT)
    return name


def request_context(request: Request) -> Ctx:
    """FastAPI dependency: the service context of this request's namespace."""
    return emulator_of(request).context(namespace_of(request))


class VendorRoute(APIRoute):
    """Base route of a vendor API surface; subclasses set the renderer and the tables."""

    render: ClassVar[ErrorRenderer]
    validation_map: ClassVar[ValidationMap] = {}
    validation_fallback: ClassVar[ErrorCode]
    internal_error: ClassVar[ErrorCode]

    @classmethod
    def describe(cls, code: ErrorCode, field: str, detail: str) -> str | None:
        """The message for a validation error; ``None`` keeps the table's message."""
        return None

    @classmethod
    def validation_error(cls, errors: Sequence[Mapping[str, Any]]) -> VendorError:
        return first_vendor_error(errors, cls.validation_map, cls.validation_fallback, cls.describe)

    @classmethod
    async def parse_body(cls, request: Request, model: type[M]) -> M:
        """Read and validate a JSON body by hand, for paths that dispatch on ``?action=``.

        An empty body validates as ``{}`` so that missing fields get their documented codes.
        """
        raw = await request.body()
        limit = emulator_of(request).settings.max_body_bytes
        if len(raw) > limit:
            raise VendorError(
                cls.validation_fallback,
                cls.describe(cls.validation_fallback, "body", f"request body over {limit} bytes"),
            )
        try:
            data = json.loads(raw) if raw.strip() else {}
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise VendorError(
                cls.validation_fallback,
                cls.describe(cls.validation_fallback, "body", f"malformed JSON: {exc}"),
            ) from None
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            raise cls.validation_error(exc.errors()) from None

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        route = type(self)

        async def vendor_route_handler(request: Request) -> Response:
            limit = emulator_of(request).settings.max_body_bytes
            length = request.headers.get("content-length", "")
            if length.isdigit() and int(length) > limit:
                too_large = VendorError(
                    route.validation_fallback,
                    route.describe(
                        route.validation_fallback, "body", f"request body over {limit} bytes"
                    ),
                )
                return route.render(request, too_large)
            try:
                return await handler(request)
            except RequestValidationError as exc:
                return route.render(request, route.validation_error(exc.errors()))
            except VendorError as exc:
                return route.render(request, exc)
            except Exception:
                # A bug of ours must still reach the client in the vendor's envelope.
                logger.exception("unhandled error on %s %s", request.method, request.url.path)
                return route.render(request, VendorError(route.internal_error))

        return vendor_route_handler
