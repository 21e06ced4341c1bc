"""EnOS access tokens: issue, refresh and verify (REAL-CLIENTS.md §1.3).

Deviations from the real platform:
- the replay check behind 1001 (a repeated ``encryption``) is not emulated;
- tokens live 7,200 s on the emulator clock; get returns the same token until it expires.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from sqlalchemy import Connection, delete, insert, select

from emulator.core import registry
from emulator.core.context import Ctx
from emulator.core.errors import VendorError
from emulator.vendors.enos.token.errors import TokenError
from emulator.vendors.enos.token.schemas import TokenGetRequest, TokenRefreshRequest

TOKEN_LIFETIME_S = 7200
_VENDOR = "enos"
_C = registry.credentials
_T = registry.tokens


@dataclass(frozen=True)
class IssuedToken:
    token: str
    expire: int


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def secret_of(conn: Connection, ctx: Ctx, access_key: str) -> str | None:
    row = conn.execute(
        select(_C.c.secret).where(
            _C.c.namespace == ctx.namespace, _C.c.vendor == _VENDOR,
            _C.c.kind == "accessKey", _C.c.key == access_key,
        )
    ).first()  # fmt: skip
    return None if row is None else str(row[0])


def _check_encryption(conn: Connection, ctx: Ctx, request: TokenGetRequest) -> None:
    secret = secret_of(conn, ctx, request.app_key)
    if secret is None:
        raise VendorError(TokenError.APP_KEY_NOT_FOUND)
    expected = sha256_hex(request.app_key + request.timestamp + secret)
    if request.encryption.lower() != expected:
        raise VendorError(TokenError.ENCRYPTION_INVALID)


def _issue(conn: Connection, ctx: Ctx, access_key: str) -> IssuedToken:
    now = ctx.now_ms()
    token = ctx.ids.token(32)
    conn.execute(
        insert(_T),
        {
            "namespace": ctx.namespace, "vendor": _VENDOR, "kind": "access", "token": token,
            "subject": access_key, "issued_at": now, "expires_at": now + TOKEN_LIFETIME_S * 1000,
            "attrs": {},
        },
    )  # fmt: skip
    return IssuedToken(token=token, expire=TOKEN_LIFETIME_S)


def get_token(ctx: Ctx, request: TokenGetRequest) -> IssuedToken:
    """Get Access Token: the same token again while it is valid."""
    with ctx.begin() as conn:
        _check_encryption(conn, ctx, request)
        now = ctx.now_ms()
        live = conn.execute(
            select(_T.c.token, _T.c.expires_at)
            .where(
                _T.c.namespace == ctx.namespace, _T.c.vendor == _VENDOR,
                _T.c.subject == request.app_key, _T.c.expires_at > now,
            )
            .order_by(_T.c.expires_at.desc())
        ).first()  # fmt: skip
        if live is not None:
            return IssuedToken(token=live.token, expire=(live.expires_at - now) // 1000)
        return _issue(conn, ctx, request.app_key)


def refresh_token(ctx: Ctx, request: TokenRefreshRequest) -> IssuedToken:
    """Refresh Access Token: a new token replaces the given one."""
    with ctx.begin() as conn:
        _check_encryption(conn, ctx, request)
        where = (
            _T.c.namespace == ctx.namespace, _T.c.vendor == _VENDOR,
            _T.c.token == request.access_token, _T.c.subject == request.app_key,
        )  # fmt: skip
        if conn.execute(select(_T.c.id).where(*where)).first() is None:
            raise VendorError(TokenError.REFRESH_FAILED)
        conn.execute(delete(_T).where(*where))
        return _issue(conn, ctx, request.app_key)


@dataclass(frozen=True)
class TokenOwner:
    access_key: str
    secret_key: str


def verify_token(ctx: Ctx, token: str) -> TokenOwner:
    """The access key behind an emulator-issued token that has not expired."""
    with ctx.read() as conn:
        row = conn.execute(
            select(_T.c.subject, _T.c.expires_at).where(
                _T.c.namespace == ctx.namespace, _T.c.vendor == _VENDOR, _T.c.token == token
            )
        ).first()
        if row is None or row.expires_at <= ctx.now_ms():
            raise VendorError(TokenError.TOKEN_EXPIRED)
        secret = secret_of(conn, ctx, row.subject)
    if secret is None:
        raise VendorError(TokenError.APP_KEY_NOT_FOUND)
    return TokenOwner(access_key=row.subject, secret_key=secret)


def signature(
    token: str, query: list[tuple[str, str]], body: bytes, timestamp: str, secret: str
) -> str:
    """``sha256(accessToken + paramsData + timestamp + appSecret)``, where paramsData is the
    query parameters sorted by key, each as key + value, followed by the raw body."""
    params = "".join(k + v for k, v in sorted(query, key=lambda kv: kv[0]))
    return sha256_hex(token + params + body.decode("utf-8", "replace") + timestamp + secret)
