"""EnOS token-layer codes, from "Invoke API with the Access Token" (REAL-CLIENTS.md §1.3).

They answer both the token service and, in the EnOS envelope, an API call whose token or
signature is missing or wrong.
"""

from __future__ import annotations

import enum

from emulator.core.errors import ErrorCode, ValidationMap


@enum.unique
class TokenError(ErrorCode):
    REPEATED_REQUEST = 1001, "Repeated requests with duplicated encryption"
    APP_KEY_NOT_FOUND = 1002, "appKey does not exist"
    ENCRYPTION_INVALID = 1003, "The encryption is not valid"
    INVALID_PARAMETER = 1004, "Invalid parameter"
    INTERNAL_ERROR = 1005, "Internal service exception"
    PARAMETER_EMPTY = 1202, "Parameter is empty"
    TOKEN_EXPIRED = 1203, "Access token has expired"
    REFRESH_FAILED = 1204, "Failed to refresh access token"


# Token codes that no request to a business API (connect, DPS) triggers: the replay check is
# not emulated (1001), an issued token's key never disappears (1002), the service never fails
# (1005), and refreshing is the token service's own call (1204). Faults reach them.
ON_API_FAULT_ONLY = frozenset(
    {
        TokenError.REPEATED_REQUEST.code,
        TokenError.APP_KEY_NOT_FOUND.code,
        TokenError.INTERNAL_ERROR.code,
        TokenError.REFRESH_FAILED.code,
    }
)

VALIDATION: ValidationMap = {
    ("appKey", "missing"): TokenError.PARAMETER_EMPTY,
    ("encryption", "missing"): TokenError.PARAMETER_EMPTY,
    ("timestamp", "missing"): TokenError.PARAMETER_EMPTY,
    ("accessToken", "missing"): TokenError.PARAMETER_EMPTY,
    ("appKey", "string_too_short"): TokenError.PARAMETER_EMPTY,
    ("encryption", "string_too_short"): TokenError.PARAMETER_EMPTY,
    ("accessToken", "string_too_short"): TokenError.PARAMETER_EMPTY,
}
