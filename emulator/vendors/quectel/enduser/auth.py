"""End-user API authentication in the three modes of DESIGN.md (REAL-CLIENTS.md §4).

The ``Authorization`` header carries the token as issued (``Bearer eyJ...``); clients that
strip or add ``Bearer `` are accepted both ways.

- ``off``: nothing is checked; an emulator-issued token still identifies its user.
- ``lenient``: the header must hold a token (5106; ``Bearer`` alone holds none) and the token
  must be JWT-shaped (5032).
- ``strict``: the token must be an access token issued by emailPwdLogin / refreshToken and
  unexpired on the emulator clock (5032); batchControlDevice then also checks that every
  device is bound to the token's user (5041).
"""

from __future__ import annotations

from fastapi import Request

from emulator.core.auth import AuthPolicy
from emulator.core.errors import VendorError
from emulator.core.routing import emulator_of, namespace_of, request_context
from emulator.vendors.quectel.enduser import token as tokens
from emulator.vendors.quectel.enduser.errors import TokenError
from emulator.vendors.quectel.enduser.token import EndUser

HEADER = "authorization"


def _identify(request: Request, value: str) -> EndUser | None:
    """Off and lenient: the user of a token the emulator issued, expired or not."""
    ctx = emulator_of(request).context(namespace_of(request))
    return tokens.lookup(ctx, value, live_only=False)


async def _verify(request: Request, value: str) -> EndUser:
    user = tokens.lookup(await request_context(request), value, live_only=True)
    if user is None:
        raise VendorError(TokenError.TOKEN_VERIFICATION_FAILED)
    return user


# The credential check of every end-user business route (``VendorRoute.auth``): the caller,
# when known.
enduser_auth: AuthPolicy[EndUser | None] = AuthPolicy(
    header=HEADER,
    missing=TokenError.TOKEN_MISSING,
    well_formed=tokens.well_formed,
    malformed=TokenError.TOKEN_VERIFICATION_FAILED,
    verify=_verify,
    anonymous=None,
    identify=_identify,
    # ``Bearer`` alone carries no token: 5106, as an absent header.
    token=tokens.bare,
)
