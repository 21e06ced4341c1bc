"""Quectel SaaS OpenAPI authentication (device manager and products), in the three modes of
DESIGN.md. The end-user API authenticates on its own (``Bearer`` tokens, codes 5106/5032).

REAL-CLIENTS.md §3: clients send ``Authorization: <access_token>`` exactly as issued, already
prefixed ``QJWT``; an optional ``Bearer`` is accepted too.

- ``off``: nothing is checked.
- ``lenient``: the header must be present (else 91001) and well formed (else 91004): a JWT,
  or ``QJWT <token>``.
- ``strict``: the token must be issued by the emulator's accessKeyLogin/refreshToken and
  unexpired on the emulator clock (else 91004).
"""

from __future__ import annotations

from fastapi import Request

from emulator.core.auth import AuthPolicy
from emulator.core.routing import request_context
from emulator.vendors.quectel.devicemgr import token as saas_tokens
from emulator.vendors.quectel.devicemgr.errors import SaasAuthError

SAAS_TOKEN_HEADER = "authorization"


async def _verify(request: Request, token: str) -> None:
    saas_tokens.verify(await request_context(request), token)


# The credential check of every Quectel SaaS business route (``VendorRoute.auth``).
saas_auth: AuthPolicy[None] = AuthPolicy(
    header=SAAS_TOKEN_HEADER,
    missing=SaasAuthError.TOKEN_MISSING,
    well_formed=saas_tokens.well_formed,
    malformed=SaasAuthError.TOKEN_INCORRECT,
    verify=_verify,
    anonymous=None,
)
