"""The CONNECT credentials of an EnOS device (ENOS-DEVICES.md §2), as the official SDK sends them.

- client id: ``{deviceKey}|securemode=2,signmethod=hmacsha256,timestamp={ts}|``;
- user name: ``{deviceKey}&{productKey}``;
- password: hex SHA-256 (a plain digest, whatever ``signmethod`` says) of
  ``clientId{dk}deviceKey{dk}productKey{pk}timestamp{ts}`` followed by the secret.

The timestamp is compared as an opaque string (the SDK sends a float such as
``1796065187279.7664``). EnOS's docs spell the method ``sha256`` and the digest in upper
case: both spellings and either case are accepted.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

DEVICE_SECRET = 2  # secure mode 2: the device's own secret
PRODUCT_SECRET = 3  # secure mode 3: dynamic activation with the product's secret
SIGN_METHODS = frozenset({"hmacsha256", "sha256"})


class LoginError(ValueError):
    """The CONNECT packet is not an EnOS device login."""


@dataclass(frozen=True)
class Login:
    """What a CONNECT claims: who the device is and how it proves it."""

    product_key: str
    device_key: str
    secure_mode: int
    timestamp: str
    password: str


def device_key_of(client_id: str) -> str:
    """The device a CONNECT names, even one too malformed to parse (faults target it)."""
    return client_id.partition("|")[0]


def parse(client_id: str | None, username: str | None, password: str | bytes | None) -> Login:
    """The claim of a CONNECT packet; :class:`LoginError` when it is not shaped as EnOS's."""
    if not client_id or not username or password is None:
        raise LoginError("client id, user name and password are required")
    device_key, sep, rest = client_id.partition("|")
    if not sep or not rest.endswith("|"):
        raise LoginError("client id is not {deviceKey}|key=value,...|")
    options: dict[str, str] = {}
    for part in rest[:-1].split(","):
        key, eq, value = part.partition("=")
        if not eq:
            raise LoginError(f"client id option {part!r} is not key=value")
        options[key.strip().lower()] = value.strip()
    user_dk, amp, product_key = username.partition("&")
    if not amp or user_dk != device_key or not product_key or not device_key:
        raise LoginError("user name is not {deviceKey}&{productKey}")
    try:
        mode = int(options.get("securemode", ""))
    except ValueError:
        raise LoginError("securemode is not a number") from None
    if mode not in (DEVICE_SECRET, PRODUCT_SECRET):
        raise LoginError(f"securemode {mode} is not supported")
    if options.get("signmethod", "").lower() not in SIGN_METHODS:
        raise LoginError("signmethod must be hmacsha256 or sha256")
    timestamp = options.get("timestamp", "")
    if not timestamp:
        raise LoginError("timestamp is missing")
    if isinstance(password, bytes):
        password = password.decode("utf-8", "replace")
    return Login(product_key, device_key, mode, timestamp, password)


def sign(params: dict[str, str], secret: str) -> str:
    """The SDK's signature: keys sorted, each key followed by its value, then the secret."""
    content = "".join(key + params[key] for key in sorted(params)) + secret
    return hashlib.sha256(content.encode("utf-8")).hexdigest()


def expected_password(login: Login, secret: str) -> str:
    return sign(
        {
            "clientId": login.device_key,
            "deviceKey": login.device_key,
            "productKey": login.product_key,
            "timestamp": login.timestamp,
        },
        secret,
    )


def verify(login: Login, secret: str) -> bool:
    """Whether the password is the signature with ``secret`` (constant-time, either case)."""
    if not secret:
        return False
    return hmac.compare_digest(login.password.lower(), expected_password(login, secret))
