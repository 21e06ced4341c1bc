"""EnOS API authentication in the three modes of DESIGN.md (REAL-CLIENTS.md §1.2-1.3).

- ``off``: nothing is checked.
- ``lenient``: ``apim-accesstoken`` must be present and well formed. This admits the official
  Python client (poseidon), whose token is an RSA blob only the real gateway can decrypt.
- ``strict``: the token must be issued by the emulator's token service and unexpired on the
  emulator clock, and ``apim-signature`` must match
  ``sha256(accessToken + sorted query k+v + raw body + apim-timestamp + secretKey)``.
"""

from __future__ import annotations

import re

from fastapi import Request

from emulator.core.auth import AuthPolicy
from emulator.core.errors import VendorError
from emulator.core.routing import request_context
from emulator.vendors.enos.token import service as tokens
from emulator.vendors.enos.token.errors import TokenError

TOKEN_HEADER = "apim-accesstoken"
SIGNATURE_HEADER = "apim-signature"
TIMESTAMP_HEADER = "apim-timestamp"

# Emulator tokens are alphanumeric; poseidon's are base64 (344 characters).
_WELL_FORMED = re.compile(r"^[A-Za-z0-9+/=._\-]{8,4096}$")


async def _verify(request: Request, token: str) -> None:
    """Strict: the signature headers are present, the token is one the namespace issued, and
    the signature over the query, the raw body and the timestamp is the token owner's."""
    sign = request.headers.get(SIGNATURE_HEADER, "").strip()
    timestamp = request.headers.get(TIMESTAMP_HEADER, "").strip()
    if not sign or not timestamp:
        missing = SIGNATURE_HEADER if not sign else TIMESTAMP_HEADER
        raise VendorError(TokenError.PARAMETER_EMPTY, f"Parameter is empty: {missing}")
    owner = tokens.verify_token(await request_context(request), token)
    body = await request.body()
    expected = tokens.signature(
        token, list(request.query_params.multi_items()), body, timestamp, owner.secret_key
    )
    if sign.lower() != expected:
        raise VendorError(TokenError.ENCRYPTION_INVALID, "The signature is not valid")


# The credential check of every EnOS business route (``VendorRoute.auth``).
enos_auth: AuthPolicy[None] = AuthPolicy(
    header=TOKEN_HEADER,
    missing=TokenError.PARAMETER_EMPTY,
    missing_message=f"Parameter is empty: {TOKEN_HEADER}",
    well_formed=lambda token: _WELL_FORMED.match(token) is not None,
    malformed=TokenError.INVALID_PARAMETER,
    malformed_message=f"Invalid parameter: {TOKEN_HEADER}",
    verify=_verify,
    anonymous=None,
)
