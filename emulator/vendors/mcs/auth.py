"""MCS API authentication, ``Authorization: Bearer <access_token>``, in the modes of DESIGN.md.

- ``off``: nothing is checked; the caller owns every product.
- ``lenient``: the header must hold a well-formed bearer token; any such token is accepted and
  the caller owns every product (no user can be read from a token the emulator did not issue).
- ``strict``: the token must be an access token issued by ``/oauth/login/thirdpart[y]`` and
  unexpired on the emulator clock; the caller is that token's user, so another developer's
  product answers 1002 with 403.

A missing, malformed, unknown or expired token answers 1002 with 401.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from fastapi import Request

from emulator.core.auth import AuthPolicy
from emulator.core.routing import request_context
from emulator.vendors.mcs.errors import AuthError
from emulator.vendors.mcs.oauth import service as oauth

_BEARER = re.compile(r"^Bearer\s+(\S.*)$", re.IGNORECASE)
_WELL_FORMED = re.compile(r"^[A-Za-z0-9._~+/=\-]{1,4096}$")


@dataclass(frozen=True)
class Caller:
    """Who calls: ``user_id`` is ``None`` when the caller acts as owner of every product."""

    user_id: str | None = None

    def owns(self, owner: str | None) -> bool:
        return self.user_id is None or self.user_id == owner


def bearer_token(authorization: str) -> str:
    """The token of a ``Bearer`` value; "" when the value has another scheme."""
    match = _BEARER.match(authorization.strip())
    if match is None:
        return ""
    token = match.group(1).strip()
    # The doc writes ``Bearer '{token}'``: quotes are notation, but a quoted token passes.
    if len(token) >= 2 and token[0] == token[-1] and token[0] in "'\"":
        token = token[1:-1]
    return token


async def _verify(request: Request, authorization: str) -> Caller:
    token = bearer_token(authorization)
    return Caller(user_id=oauth.verify_access_token(await request_context(request), token))


# The credential check of every ``/mcs/v2`` route (``VendorRoute.auth``): an absent and a
# malformed token answer the same code.
mcs_auth: AuthPolicy[Caller] = AuthPolicy(
    header="authorization",
    missing=AuthError.NO_ACCESS_RIGHT,
    well_formed=lambda value: _WELL_FORMED.match(bearer_token(value)) is not None,
    malformed=AuthError.NO_ACCESS_RIGHT,
    verify=_verify,
    anonymous=Caller(),
)
