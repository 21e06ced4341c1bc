"""Acme's error table (one per API surface, like every vendor's ``errors.py``)."""

from __future__ import annotations

import enum

from emulator.core.errors import ErrorCode


@enum.unique
class AcmeError(ErrorCode):
    INVALID_ARGUMENT = 4001, "Invalid argument"
    PRODUCT_NOT_FOUND = 4004, "Product not found"
    DEVICE_EXISTS = 4009, "Device already exists"
    TOKEN_MISSING = 4010, "Token missing", 401
    TOKEN_INVALID = 4011, "Token invalid", 401
    # No input reaches it: only a fault injects it.
    INTERNAL_ERROR = 5000, "Internal error", 500
