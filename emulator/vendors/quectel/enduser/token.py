"""Quectel end-user tokens: emailPwdLogin, refreshToken, and the verification behind every
end-user API (REAL-CLIENTS.md §4; the emailPwdLogin and refreshToken pages).

``pwd`` is ``base64(AES-128-CBC/PKCS5(password))`` with ``key = upper(md5hex(random))[8:24]``
and ``iv = key[8:16] + key[0:8]``; ``signature = sha256hex(email + pwd + random +
userDomainSecret)`` over ``pwd`` exactly as sent (Android clients append ``\\n``). Tokens are
JWT-shaped and handed out as ``Bearer eyJ...``, the way the platform issues them.

Deviations from the real platform:
- tokens are HS256 with the user domain secret (the platform signs RS256 with its own key);
- without ``random`` the password is taken as sent, in clear (the doc marks it optional);
- five wrong passwords freeze the account for 20 minutes on the emulator clock (5586, 5585,
  5584, 5583, then 5147); the real counting window is undocumented;
- 5104, 5325, 6084 and 6085 have no emulated trigger (fault injection only);
- refreshToken returns a new access token and the same refresh token.
"""

from __future__ import annotations

import base64
import binascii
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
from emulator.core.sql import HotSql, param
from emulator.vendors.quectel.enduser.errors import LoginError, TokenError

VENDOR = "quectel"
ACCESS = "enduserAccess"
REFRESH = "enduserRefresh"
# refreshToken page: "the token's validity period is reset to 2 hours"; the integration
# guide's sample refresh token lives 30 days.
ACCESS_LIFETIME_S = 7200
REFRESH_LIFETIME_S = 30 * 24 * 3600
MAX_FAILED_LOGINS = 5
FREEZE_S = 20 * 60
BEARER = "Bearer "

_C = registry.credentials
_T = registry.tokens
_USER_DOMAIN = re.compile(r"^[A-Z]\.[A-Z]{2}\.\d+(\.\d+)?$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_JWT = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$")
_WRONG_PASSWORD = {
    1: LoginError.WRONG_PASSWORD_4_LEFT,
    2: LoginError.WRONG_PASSWORD_3_LEFT,
    3: LoginError.WRONG_PASSWORD_2_LEFT,
    4: LoginError.WRONG_PASSWORD_1_LEFT,
}


@dataclass(frozen=True)
class EndUser:
    email: str
    uid: str
    user_domain: str


@dataclass(frozen=True)
class LoginRequest:
    email: str | None
    pwd: str | None
    signature: str | None
    user_domain: str | None
    random: str | None


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def aes_key_iv(random: str) -> tuple[bytes, bytes]:
    key = hashlib.md5(random.encode("utf-8")).hexdigest().upper()[8:24]
    return key.encode("ascii"), (key[8:16] + key[0:8]).encode("ascii")


def decrypt_pwd(pwd: str, random: str) -> str | None:
    """The clear password, or None when ``pwd`` is not a valid encryption under ``random``."""
    # Loaded by the first login that sends an encrypted password, not with the app:
    # pycryptodome sets up its C bindings (through cffi when installed) as it loads.
    from Crypto.Cipher import AES
    from Crypto.Util.Padding import unpad

    key, iv = aes_key_iv(random)
    try:
        raw = base64.b64decode(pwd)
        if not raw or len(raw) % 16:
            return None
        clear = unpad(AES.new(key, AES.MODE_CBC, iv).decrypt(raw), 16)
        return clear.decode("utf-8")
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return None


def signature(email: str, pwd: str, random: str, user_domain_secret: str) -> str:
    return sha256_hex(email + pwd + random + user_domain_secret)


def bare(token: str) -> str:
    """The JWT of an ``Authorization`` value, sent with or without ``Bearer ``; "" for
    ``Bearer`` alone (no token: the value reaches us stripped, so ``Bearer `` arrives so)."""
    token = token.strip()
    if token[:7].lower() == BEARER.lower():
        token = token[7:].strip()
    elif token.lower() == BEARER.strip().lower():
        token = ""
    return token


def well_formed(token: str) -> bool:
    return bool(_JWT.match(bare(token)))


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _jwt(claims: dict[str, Any], secret: str) -> str:
    header = _b64url(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    body = _b64url(json.dumps(claims, separators=(",", ":")).encode())
    sig = hmac.new(secret.encode(), f"{header}.{body}".encode(), hashlib.sha256).digest()
    return f"{header}.{body}.{_b64url(sig)}"


def _credential(conn: Connection, ctx: Ctx, kind: str, key: str) -> Any:
    return conn.execute(
        select(_C.c.id, _C.c.secret, _C.c.attrs).where(
            _C.c.namespace == ctx.namespace, _C.c.vendor == VENDOR,
            _C.c.kind == kind, _C.c.key == key,
        )
    ).first()  # fmt: skip


def _uid(email: str, attrs: dict[str, Any]) -> str:
    """The user id in tokens ("C131362" in the guide): from the email, so it survives a state
    export and import (fixtures may set ``uid`` in the user's attrs)."""
    return str(attrs.get("uid") or f"C{int(sha256_hex(email)[:8], 16) % 1_000_000}")


def _issue_pair(
    conn: Connection, ctx: Ctx, user: EndUser, secret: str, refresh: str | None = None
) -> dict[str, Any]:
    now_s = ctx.clock.now_s()
    pair: dict[str, Any] = {}
    kinds = [(ACCESS, "AccessToken", ACCESS_LIFETIME_S)]
    if refresh is None:
        kinds.append((REFRESH, "RefreshToken", REFRESH_LIFETIME_S))
    for kind, claim_type, lifetime in kinds:
        exp = now_s + lifetime
        claims = {
            "iss": "enduser", "aud": "Audience", "exp": exp, "jti": ctx.ids.alnum(22),
            "iat": now_s, "nbf": now_s - 120, "sub": "subject", "uid": user.uid,
            "type": claim_type,
        }  # fmt: skip
        jwt = _jwt(claims, secret)
        conn.execute(
            insert(_T),
            {
                "namespace": ctx.namespace, "vendor": VENDOR, "kind": kind, "token": jwt,
                "subject": user.email, "issued_at": now_s * 1000, "expires_at": exp * 1000,
                "attrs": {"uid": user.uid, "userDomain": user.user_domain},
            },
        )  # fmt: skip
        name = "accessToken" if kind == ACCESS else "refreshToken"
        pair[name] = {"token": BEARER + jwt, "expirationTime": exp}
    if refresh is not None:
        row = _token_row(conn, ctx, refresh, REFRESH)
        pair["refreshToken"] = {"token": BEARER + refresh, "expirationTime": row.expires_at // 1000}
    return {"accessToken": pair["accessToken"], "refreshToken": pair["refreshToken"]}


def login(ctx: Ctx, request: LoginRequest) -> dict[str, Any]:
    """emailPwdLogin, checked in the order of the doc's parameters and table."""
    if not request.user_domain:
        raise VendorError(LoginError.USER_DOMAIN_MISSING)
    if not _USER_DOMAIN.match(request.user_domain):
        raise VendorError(LoginError.USER_DOMAIN_FORMAT)
    if not request.email:
        raise VendorError(LoginError.EMAIL_MISSING)
    if not _EMAIL.match(request.email):
        raise VendorError(LoginError.EMAIL_FORMAT)
    if not request.pwd:
        raise VendorError(LoginError.PASSWORD_MISSING)
    if not request.signature:
        raise VendorError(LoginError.SIGNATURE_MISSING)
    with ctx.begin() as conn:
        domain = _credential(conn, ctx, "userDomain", request.user_domain)
        if domain is None:
            raise VendorError(LoginError.USER_DOMAIN_NOT_FOUND)
        random = request.random or ""
        expected = signature(request.email, request.pwd, random, domain.secret)
        if request.signature.strip().lower() != expected:
            raise VendorError(LoginError.SIGNATURE_INVALID)
        user = _credential(conn, ctx, "user", request.email)
        attrs = dict(user.attrs or {}) if user is not None else {}
        if user is None or attrs.get("userDomain") != request.user_domain:
            raise VendorError(LoginError.EMAIL_NOT_REGISTERED)
        now = ctx.now_ms()
        if int(attrs.get("frozenUntil") or 0) > now:
            raise VendorError(LoginError.ACCOUNT_FROZEN)
        clear = decrypt_pwd(request.pwd, random) if random else request.pwd
        if clear is None or not 6 <= len(clear) <= 20:
            raise VendorError(LoginError.PASSWORD_FORMAT)
        if not hmac.compare_digest(clear.encode(), str(user.secret).encode()):
            failed = int(attrs.get("failedLogins") or 0) + 1
            if failed >= MAX_FAILED_LOGINS:
                attrs |= {"failedLogins": 0, "frozenUntil": now + FREEZE_S * 1000}
                error = LoginError.ACCOUNT_FROZEN
            else:
                attrs |= {"failedLogins": failed}
                error = _WRONG_PASSWORD[failed]
            conn.execute(update(_C).where(_C.c.id == user.id).values(attrs=attrs))
        else:
            if attrs.get("failedLogins") or attrs.get("frozenUntil"):
                attrs |= {"failedLogins": 0, "frozenUntil": None}
                conn.execute(update(_C).where(_C.c.id == user.id).values(attrs=attrs))
            end_user = EndUser(request.email, _uid(request.email, attrs), request.user_domain)
            return _issue_pair(conn, ctx, end_user, str(domain.secret))
    # Raised once the transaction is committed: the failed-attempt counter must persist.
    raise VendorError(error)


_TOKEN_ROW = HotSql(
    select(_T.c.subject, _T.c.expires_at, _T.c.attrs).where(
        _T.c.namespace == param("ns"),
        _T.c.vendor == param("vendor"),
        _T.c.kind == param("kind"),
        _T.c.token == param("token"),
    )
)


def _token_row(conn: Connection, ctx: Ctx, token: str, kind: str) -> Any:
    # Every batchControlDevice looks its token up: on the driver's cursor (core/sql.py).
    params = {"ns": ctx.namespace, "vendor": VENDOR, "kind": kind, "token": token}
    return _TOKEN_ROW.one(conn, params)


def _user_of(row: Any) -> EndUser:
    attrs = row.attrs or {}
    return EndUser(str(row.subject), str(attrs.get("uid", "")), str(attrs.get("userDomain", "")))


def refresh(ctx: Ctx, refresh_token: str | None) -> dict[str, Any]:
    """refreshToken: a new 2-hour access token for an unexpired refresh token."""
    if not refresh_token or not bare(refresh_token):
        raise VendorError(TokenError.TOKEN_MISSING)
    token = bare(refresh_token)
    with ctx.begin() as conn:
        row = _token_row(conn, ctx, token, REFRESH)
        if row is None or row.expires_at <= ctx.now_ms():
            raise VendorError(TokenError.TOKEN_VERIFICATION_FAILED)
        user = _user_of(row)
        domain = _credential(conn, ctx, "userDomain", user.user_domain)
        secret = str(domain.secret) if domain is not None else ""
        return _issue_pair(conn, ctx, user, secret, refresh=token)


def lookup(ctx: Ctx, authorization: str, *, live_only: bool) -> EndUser | None:
    """The user behind an access token the emulator issued (None: not one of ours)."""
    with ctx.read() as conn:
        row = _token_row(conn, ctx, bare(authorization), ACCESS)
    if row is None or (live_only and row.expires_at <= ctx.now_ms()):
        return None
    return _user_of(row)
