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

from emulator.core.errors import VendorError
from emulator.core.routing import emulator_of, namespace_of
from emulator.vendors.quectel.devicemgr import token as saas_tokens
from emulator.vendors.quectel.devicemgr.errors import SaasAuthError

SAAS_TOKEN_HEADER = "authorization"


async def saas_auth(request: Request) -> None:
    """The credential check of every Quectel SaaS business route (``VendorRoute.auth``)."""
    emulator = emulator_of(request)
    mode = emulator.settings.auth
    if mode == "off":
        return
    token = request.headers.get(SAAS_TOKEN_HEADER, "").strip()
    if not token:
        raise VendorError(SaasAuthError.TOKEN_MISSING)
    if not saas_tokens.well_formed(token):
        raise VendorError(SaasAuthError.TOKEN_INCORRECT)
    if mode == "strict":
        saas_tokens.verify(emulator.context(namespace_of(request)), token)
