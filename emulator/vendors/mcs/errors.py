"""MCS error tables (mcs-registerDevice.md, "Error Response").

The doc documents one code, 1002 "You do not have access right to this API", in the body
``{"results": {"code", "url", "description"}}`` with a non-200 HTTP status. MCS is the only
emulated vendor whose errors travel on real HTTP statuses (DESIGN.md), so each row carries
its status. 1002 answers both a missing or invalid token (401) and another user's product
(403): one row per status, in two tables, since a table holds a code once.

The other codes are not documented for this envelope. The newer MCS envelope answers
``{"errors": [{"code": 404, "message": "404 Not Found"}], "statusCode": 404}`` (REAL-CLIENTS.md
§5, the device criterion docs): its code is the HTTP status, and so are ours.
"""

from __future__ import annotations

import enum

from emulator.core.errors import ErrorCode, ValidationMap

DOCUMENTED_MESSAGE = "You do not have access right to this API"


@enum.unique
class AuthError(ErrorCode):
    """The bearer-token check in front of every ``/mcs/v2`` call."""

    NO_ACCESS_RIGHT = 1002, DOCUMENTED_MESSAGE, 401


@enum.unique
class DeviceError(ErrorCode):
    """registerDevice and its companions (retrieve, deregister)."""

    # The caller's token is valid, but the product or device belongs to another developer.
    NO_ACCESS_RIGHT = 1002, DOCUMENTED_MESSAGE, 403
    BAD_REQUEST = 400, "Bad Request", 400
    NOT_FOUND = 404, "Not Found", 404
    # A documented MCS status ("500, 502 Server Error"); no input reaches it: fault injection.
    INTERNAL_ERROR = 500, "Internal Server Error", 500


# Every field error is a 400; the message names the field (see McsRoute.describe).
VALIDATION: ValidationMap = {}
