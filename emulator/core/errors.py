"""The error-table base shared by every vendor surface.

Each vendor API has one ``errors.py`` holding an :class:`ErrorCode` table transcribed row for
row from its document, in the style of :class:`http.HTTPStatus`: the member value is the
vendor's own code, and the message and HTTP status travel with it.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping


class ErrorCode(enum.Enum):
    """Base for a vendor's error table: ``MEMBER = code, message[, http_status]``."""

    http_status: int
    message: str

    def __new__(cls, code: int, message: str, http_status: int = 200) -> ErrorCode:
        member = object.__new__(cls)
        member._value_ = code
        member.message = message
        member.http_status = http_status
        return member

    @property
    def code(self) -> int:
        return int(self.value)


class VendorError(Exception):
    """Raised by services; the vendor's route class renders it in the vendor's envelope."""

    def __init__(self, error: ErrorCode, message: str | None = None) -> None:
        self.error = error
        self.message = message or error.message
        super().__init__(f"{error.code}: {self.message}")


# (wire field name, pydantic error type) -> vendor error; "*" matches any type on that field.
ValidationMap = Mapping[tuple[str, str], ErrorCode]
