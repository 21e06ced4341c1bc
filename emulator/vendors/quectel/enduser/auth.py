"""End-user API authentication in the three modes of DESIGN.md (REAL-CLIENTS.md §4).

The ``Authorization`` header carries the token as issued (``Bearer eyJ...``); clients that
strip or add ``Bearer `` are accepted both ways.

- ``off``: nothing is checked; an emulator-issued token still identifies its user.
- ``lenient``: the header must be present (5106) and hold a JWT-shaped token (5032).
- ``strict``: the token must be an access token issued by emailPwdLogin / refreshToken and
  unexpired on the emulator clock (5032); batchControlDevice then also checks that every
  device is bound to the token's user (5041).
"""

from __future__ import annotations

from fastapi import Request

from emulator.core.errors import VendorError
from emulator.core.routing import emulator_of, namespace_of
from emulator.vendors.quectel.enduser import token as tokens
from emulator.vendors.quectel.enduser.errors import TokenError
from emulator.vendors.quectel.enduser.token import EndUser

HEADER = "authorization"


async def enduser_auth(request: Request) -> EndUser | None:
    """The credential check of every end-user business route (``VendorRoute.auth``): the
    caller, when known."""
    emulator = emulator_of(request)
    mode = emulator.settings.auth
    value = request.headers.get(HEADER, "").strip()
    ctx = emulator.context(namespace_of(request))
    if mode == "off":
        return tokens.lookup(ctx, value, live_only=False) if value else None
    if not value or not tokens.bare(value):
        raise VendorError(TokenError.TOKEN_MISSING)
    if not tokens.well_formed(value):
        raise VendorError(TokenError.TOKEN_VERIFICATION_FAILED)
    user = tokens.lookup(ctx, value, live_only=mode == "strict")
    if mode == "strict" and user is None:
        raise VendorError(TokenError.TOKEN_VERIFICATION_FAILED)
    return user
