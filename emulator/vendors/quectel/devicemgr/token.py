"""Quectel SaaS accessKey tokens: login, refresh and verification (REAL-CLIENTS.md §3).

The end-user API has its own token service (``Bearer`` tokens); this one serves the SaaS
OpenAPI only: ``QJWT <jwt>`` tokens signed HS256 with the AccessSecret.

Deviations from the real platform:
- a wrong password or a stale timestamp answers 50005 (the docs name no code for either);
- tokens live 7,200 s ("The token is valid for 2 hours"), and ``expires_in`` says so, where
  the doc's example shows 86400;
- ``scope`` is echoed, never enforced;
- the password is checked in ``lenient`` and ``strict`` auth, the 10-minute timestamp window
  only in ``strict`` (tests freeze the emulator clock); ``off`` checks only the AccessKey.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, insert, select, update

from emulator.core import registry
from emulator.core.context import Ctx
from emulator.core.errors import VendorError
from emulator.vendors.quectel.devicemgr.errors import SaasAuthError, SaasTokenError

VENDOR = "quectel"
KIND = "saas"  # tokens of the SaaS API; the end-user API stores its own kind
PREFIX = "QJWT "
TOKEN_LIFETIME_S = 7200
# "If the token has been refreshed within the last 30 minutes or was created within the last
# 30 minutes, the original token is returned" (refreshToken doc).
REFRESH_REUSE_MS = 30 * 60 * 1000
# "The timestamp must be within 10 minutes of the server time" (zh OpenAPI guide).
TIMESTAMP_WINDOW_MS = 10 * 60 * 1000
USERNAME_FIXED = {"ver": "1", "auth_mode": "accessKey", "sign_method": "sha256"}

_C = registry.credentials
_T = registry.tokens
_JWT = r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*"
# What lenient auth accepts: the token as issued ("QJWT <jwt>"), a bare JWT, or "QJWT <opaque>",
# each optionally after "Bearer " (REAL-CLIENTS.md §3: accept an optional Bearer too).
_WELL_FORMED = re.compile(rf"^(?:Bearer\s+)?(?:QJWT\s+\S{{1,4096}}|{_JWT})$")


@dataclass(frozen=True)
class IssuedToken:
    token: str
    expires_in: int
    scope: str


def _param_error(detail: str) -> VendorError:
    return VendorError(SaasTokenError.PARAM_CHECK_ERROR, f"param check error: {detail}")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def make_jwt(payload: dict[str, Any], secret: str) -> str:
    """An HS256 JWT, the format of the real ``access_token`` after its ``QJWT`` prefix."""
    header = _b64(json.dumps({"alg": "HS256"}, separators=(",", ":")).encode())
    body = _b64(json.dumps(payload, separators=(",", ":")).encode())
    signing_input = f"{header}.{body}".encode("ascii")
    sig = hmac.new(secret.encode("utf-8"), signing_input, hashlib.sha256).digest()
    return f"{header}.{body}.{_b64(sig)}"


def password_of(username: str, access_secret: str) -> str:
    """``sha256("${username}${AccessSecret}")`` over the decoded username, in hex."""
    return hashlib.sha256((username + access_secret).encode("utf-8")).hexdigest()


def parse_username(username: str) -> dict[str, str]:
    """``ver=1&auth_mode=accessKey&sign_method=sha256&access_key=..&timestamp=..``, any order."""
    fields: dict[str, str] = {}
    for part in username.split("&"):
        key, sep, value = part.partition("=")
        if not sep or not key:
            raise _param_error(f"username field {part!r} is not key=value")
        fields[key] = value
    for key, expected in USERNAME_FIXED.items():
        if fields.get(key) != expected:
            raise _param_error(f"username {key} must be {expected}")
    if not fields.get("access_key"):
        raise _param_error("username access_key is missing")
    if not fields.get("timestamp", "").isdigit():
        raise _param_error("username timestamp must be a millisecond timestamp")
    return fields


def _secret_of(conn: Connection, ctx: Ctx, access_key: str) -> str | None:
    row = conn.execute(
        select(_C.c.secret).where(
            _C.c.namespace == ctx.namespace, _C.c.vendor == VENDOR,
            _C.c.kind == "accessKey", _C.c.key == access_key,
        )
    ).first()  # fmt: skip
    return None if row is None else str(row[0])


def _issue(conn: Connection, ctx: Ctx, access_key: str, secret: str, scope: str) -> IssuedToken:
    now = ctx.now_ms()
    exp_ms = now + TOKEN_LIFETIME_S * 1000
    payload = {
        "sub": access_key, "iat": now // 1000, "jti": ctx.ids.uuid(), "uty": "per",
        "exp": exp_ms // 1000, "am": "AccessKey", "sp": scope,
    }  # fmt: skip
    token = PREFIX + make_jwt(payload, secret)
    conn.execute(
        insert(_T),
        {
            "namespace": ctx.namespace, "vendor": VENDOR, "kind": KIND, "token": token,
            "subject": access_key, "issued_at": now, "expires_at": exp_ms,
            "attrs": {"scope": scope, "refreshedAt": now},
        },
    )  # fmt: skip
    return IssuedToken(token=token, expires_in=TOKEN_LIFETIME_S, scope=scope)


def login(
    ctx: Ctx, *, grant_type: str | None, username: str | None, password: str | None,
    scope: str | None,
) -> IssuedToken:  # fmt: skip
    """accessKeyLogin: a new token for a known AccessKey with a valid password."""
    if grant_type != "password":
        raise _param_error("grant_type must be password")
    if not username:
        raise _param_error("username is missing")
    if not password:
        raise _param_error("password is missing")
    fields = parse_username(username)
    mode = ctx.settings.auth
    with ctx.begin() as conn:
        secret = _secret_of(conn, ctx, fields["access_key"])
        if secret is None:
            raise VendorError(SaasTokenError.ACCESS_KEY_NOT_FOUND)
        if mode != "off" and password.lower() != password_of(username, secret):
            raise _param_error("password verification failed")
        if mode == "strict" and abs(ctx.now_ms() - int(fields["timestamp"])) > TIMESTAMP_WINDOW_MS:
            raise _param_error("timestamp is more than 10 minutes away from server time")
        return _issue(conn, ctx, fields["access_key"], secret, scope or "")


def normalize(token: str) -> str:
    """The token as issued: ``Bearer`` dropped, ``QJWT `` added when a client stripped it."""
    token = token.strip()
    if token[:7].lower() == "bearer ":
        token = token[7:].lstrip()
    if not token.startswith(PREFIX):
        token = PREFIX + token.removeprefix("QJWT").lstrip()
    return token


def well_formed(token: str) -> bool:
    return _WELL_FORMED.match(token.strip()) is not None


def refresh(
    ctx: Ctx, *, grant_type: str | None, refresh_token: str | None, scope: str | None
) -> IssuedToken:
    """refreshToken: the same token within 30 minutes of its creation or last refresh, a new
    one after; an unknown or expired token is incorrect (91004)."""
    if grant_type != "refresh_token":
        raise _param_error("grant_type must be refresh_token")
    if not refresh_token:
        raise _param_error("refresh_token is missing")
    token = normalize(refresh_token)
    now = ctx.now_ms()
    with ctx.begin() as conn:
        row = conn.execute(
            select(_T.c.id, _T.c.subject, _T.c.expires_at, _T.c.attrs).where(
                _T.c.namespace == ctx.namespace, _T.c.vendor == VENDOR, _T.c.kind == KIND,
                _T.c.token == token,
            )
        ).first()  # fmt: skip
        if row is None or row.expires_at <= now:
            raise VendorError(SaasAuthError.TOKEN_INCORRECT)
        attrs = dict(row.attrs or {})
        if now - int(attrs.get("refreshedAt", 0)) < REFRESH_REUSE_MS:
            return IssuedToken(token, (row.expires_at - now) // 1000, attrs.get("scope", ""))
        secret = _secret_of(conn, ctx, row.subject)
        if secret is None:
            # The AccessKey was removed: "the refresh will fail and the original token will
            # be disabled".
            conn.execute(update(_T).where(_T.c.id == row.id).values(expires_at=now))
            raise VendorError(SaasAuthError.TOKEN_INCORRECT)
        conn.execute(
            update(_T).where(_T.c.id == row.id).values(attrs={**attrs, "refreshedAt": now})
        )
        new_scope = scope if scope is not None else str(attrs.get("scope", ""))
        return _issue(conn, ctx, row.subject, secret, new_scope)


def verify(ctx: Ctx, token: str) -> str:
    """The AccessKey behind an emulator-issued token unexpired on the emulator clock."""
    with ctx.read() as conn:
        row = conn.execute(
            select(_T.c.subject, _T.c.expires_at).where(
                _T.c.namespace == ctx.namespace, _T.c.vendor == VENDOR, _T.c.kind == KIND,
                _T.c.token == normalize(token),
            )
        ).first()  # fmt: skip
    if row is None:
        raise VendorError(SaasAuthError.TOKEN_INCORRECT)
    if row.expires_at <= ctx.now_ms():
        raise VendorError(SaasAuthError.TOKEN_INCORRECT, "Token incorrect: the token has expired")
    return str(row.subject)
