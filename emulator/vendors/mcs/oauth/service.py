"""MCS user tokens: login with app credentials and email/password, refresh, verify.

Deviations from the real platform:
- the real service answers HTTP 500 "Invalid or missing client_id parameter" (the doc's only
  error example); the emulator sends that message with 401, and 400 for missing fields;
- a user token lives two weeks and an access token one hour on the emulator clock (the docs'
  lifetimes); every login issues a new pair and older tokens stay valid until they expire;
- the refresh answer's profile fields (timezone, language, plan...) are fixed demo values.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, insert, select

from emulator.core import registry
from emulator.core.context import Ctx
from emulator.core.errors import VendorError
from emulator.vendors.mcs.errors import AuthError
from emulator.vendors.mcs.oauth.errors import OAuthError

USER_TOKEN_LIFETIME_S = 14 * 24 * 3600
ACCESS_TOKEN_LIFETIME_S = 3600
VENDOR = "mcs"
USER_TOKEN = "user"
ACCESS_TOKEN = "access"
_C = registry.credentials
_T = registry.tokens


@dataclass(frozen=True)
class App:
    app_key: str


@dataclass(frozen=True)
class User:
    user_id: str
    email: str


def app_credentials(authorization: str | None) -> tuple[str, str]:
    """``appKey, appSecret`` from ``Basic base64(appKey:appSecret)``.

    The refresh doc's example sends the base64 value without the ``Basic`` prefix: accepted.
    """
    value = (authorization or "").strip()
    scheme, _, rest = value.partition(" ")
    if rest and scheme.lower() == "basic":
        value = rest.strip()
    try:
        decoded = base64.b64decode(value, validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        raise VendorError(OAuthError.UNAUTHORIZED) from None
    key, sep, secret = decoded.partition(":")
    if not value or not sep or not key:
        raise VendorError(OAuthError.UNAUTHORIZED)
    return key, secret


def _check_app(conn: Connection, ctx: Ctx, authorization: str | None) -> App:
    key, secret = app_credentials(authorization)
    row = conn.execute(
        select(_C.c.secret).where(
            _C.c.namespace == ctx.namespace, _C.c.vendor == VENDOR,
            _C.c.kind == "app", _C.c.key == key,
        )
    ).first()  # fmt: skip
    if row is None or row.secret != secret:
        raise VendorError(OAuthError.UNAUTHORIZED)
    return App(app_key=key)


def _issue(conn: Connection, ctx: Ctx, kind: str, user: User, app: App, lifetime_s: int) -> str:
    now = ctx.now_ms()
    token = ctx.ids.token(40)
    conn.execute(
        insert(_T),
        {
            "namespace": ctx.namespace, "vendor": VENDOR, "kind": kind, "token": token,
            "subject": user.user_id, "issued_at": now, "expires_at": now + lifetime_s * 1000,
            "attrs": {"appKey": app.app_key, "email": user.email},
        },
    )  # fmt: skip
    return token


def login(ctx: Ctx, authorization: str | None, email: str, password: str) -> dict[str, Any]:
    """Get User Token: ``token`` (the user token) and ``access_token`` (the bearer token)."""
    with ctx.begin() as conn:
        app = _check_app(conn, ctx, authorization)
        row = conn.execute(
            select(_C.c.secret, _C.c.attrs).where(
                _C.c.namespace == ctx.namespace, _C.c.vendor == VENDOR,
                _C.c.kind == "user", _C.c.key == email,
            )
        ).first()  # fmt: skip
        if row is None or row.secret != password:
            raise VendorError(OAuthError.UNAUTHORIZED, "Invalid email or password")
        user = User(user_id=str((row.attrs or {}).get("userId") or email), email=email)
        token = _issue(conn, ctx, USER_TOKEN, user, app, USER_TOKEN_LIFETIME_S)
        access = _issue(conn, ctx, ACCESS_TOKEN, user, app, ACCESS_TOKEN_LIFETIME_S)
    return {
        "apiVersion": "0.0.1",
        "code": 200,
        "message": "Request has succeeded",
        "token": token,
        "access_token": access,
    }


def refresh(ctx: Ctx, authorization: str | None, user_token: str) -> dict[str, Any]:
    """Refresh User Access Token: a new access token for a live user token of this app."""
    with ctx.begin() as conn:
        app = _check_app(conn, ctx, authorization)
        row = conn.execute(
            select(_T.c.subject, _T.c.expires_at, _T.c.attrs).where(
                _T.c.namespace == ctx.namespace, _T.c.vendor == VENDOR,
                _T.c.kind == USER_TOKEN, _T.c.token == user_token,
            )
        ).first()  # fmt: skip
        attrs = (row.attrs or {}) if row is not None else {}
        if row is None or row.expires_at <= ctx.now_ms() or attrs.get("appKey") != app.app_key:
            raise VendorError(OAuthError.UNAUTHORIZED, "Invalid or expired token")
        user = User(user_id=row.subject, email=str(attrs.get("email", "")))
        access = _issue(conn, ctx, ACCESS_TOKEN, user, app, ACCESS_TOKEN_LIFETIME_S)
    return {
        "apiVersion": "0.0.1",
        "code": 200,
        "message": "Request has succeeded",
        "results": {
            "access_token": access,
            "userImageURL": "",
            "timezone": "UTC",
            "email": user.email,
            "nickname": user.email.partition("@")[0],
            "language": "en",
            # The doc sample's free plan.
            "plan": {
                "name": "Free plan",
                "deviceCount": 10,
                "dataPointCount": 100000,
                "emailCount": 100,
            },  # fmt: skip
            "token": user_token,
        },
    }


def verify_access_token(ctx: Ctx, token: str) -> str:
    """The user behind an access token issued here and unexpired; 1002 (401) otherwise."""
    with ctx.read() as conn:
        row = conn.execute(
            select(_T.c.subject, _T.c.expires_at).where(
                _T.c.namespace == ctx.namespace, _T.c.vendor == VENDOR,
                _T.c.kind == ACCESS_TOKEN, _T.c.token == token,
            )
        ).first()  # fmt: skip
    if row is None or row.expires_at <= ctx.now_ms():
        raise VendorError(AuthError.NO_ACCESS_RIGHT)
    return str(row.subject)
