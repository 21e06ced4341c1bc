"""MCS OAuth codes. The docs show one error, HTTP 500 with
``{"apiVersion": "0.0.1", "code": 500, "message": "Invalid or missing client_id parameter",
"statusCode": 500, "options": {}}``; the emulator never answers an input with a 500, so the
same message comes with 401 (docs/vendors/mcs.md, deviations). As in that body, the code is the
HTTP status.
"""

from __future__ import annotations

import enum

from emulator.core.errors import ErrorCode, ValidationMap


@enum.unique
class OAuthError(ErrorCode):
    # Missing or unreadable email, password or token.
    BAD_REQUEST = 400, "Invalid or missing parameter", 400
    # The documented message; also answers a wrong email/password or an unknown user token,
    # with a message naming which.
    UNAUTHORIZED = 401, "Invalid or missing client_id parameter", 401
    # The documented status of the doc's error example; only a fault produces it here.
    INTERNAL_ERROR = 500, "Internal Server Error", 500


VALIDATION: ValidationMap = {}
