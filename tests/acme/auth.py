"""Acme's auth policy: the three modes from core's skeleton, by declaring the pieces.

Acme callers send ``X-Acme-Token``. Acme has no token service of its own: a token is issued by
writing it to the namespace's ``tokens`` table (:func:`issue`, what a token endpoint would do).
"""

from __future__ import annotations

import re

from fastapi import Request
from sqlalchemy import insert, select

from emulator.core import registry
from emulator.core.auth import AuthPolicy
from emulator.core.context import Ctx
from emulator.core.errors import VendorError
from emulator.core.routing import request_context
from tests.acme.errors import AcmeError

NAME = "acme"
HEADER = "x-acme-token"
KIND = "access"

_WELL_FORMED = re.compile(r"^acme-[A-Za-z0-9]{8,64}$")


def issue(ctx: Ctx, subject: str, token: str, lifetime_s: int = 3600) -> None:
    """Record ``token`` as issued to ``subject`` in the namespace, valid ``lifetime_s``."""
    now = ctx.now_ms()
    with ctx.begin() as conn:
        conn.execute(
            insert(registry.tokens),
            {"namespace": ctx.namespace, "vendor": NAME, "kind": KIND, "token": token,
             "subject": subject, "issued_at": now, "expires_at": now + lifetime_s * 1000},
        )  # fmt: skip


async def _verify(request: Request, token: str) -> str:
    """Strict: the subject of a token issued in this namespace and unexpired."""
    ctx = await request_context(request)
    t = registry.tokens
    with ctx.read() as conn:
        row = conn.execute(
            select(t.c.subject, t.c.expires_at).where(
                t.c.namespace == ctx.namespace, t.c.vendor == NAME, t.c.kind == KIND,
                t.c.token == token,
            )
        ).first()  # fmt: skip
    if row is None or row.expires_at <= ctx.now_ms():
        raise VendorError(AcmeError.TOKEN_INVALID)
    subject: str = row.subject
    return subject


# The caller is the token's subject in strict mode, None (anonymous) otherwise.
ACME_AUTH: AuthPolicy[str | None] = AuthPolicy(
    header=HEADER,
    missing=AcmeError.TOKEN_MISSING,
    well_formed=lambda token: _WELL_FORMED.match(token) is not None,
    malformed=AcmeError.TOKEN_INVALID,
    malformed_message="Token invalid: not an Acme token",
    verify=_verify,
    anonymous=None,
)
