"""What a Quectel end-user (App) client does: login recipe, header, batchControlDevice body.

Samples in ``samples/enduser_*``: ``enduser_batch_control_device.doc-request.json`` and
``.response.json`` are transcribed verbatim from enduser-batchControlDevice.md; the
``.request.json`` twin replaces the doc's placeholders (``""``, ``0``) with valid values
(DESIGN.md), on the devices the createBatch sample creates. ``enduser_login.response.json`` is
the integration guide's phonePwdLogin success example (same "Login returned token" schema).
"""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path
from typing import Any

from Crypto.Cipher import AES
from Crypto.Util.Padding import pad
from sqlalchemy import insert

from emulator.core import registry
from tests.conftest import Client

SAMPLES = Path(__file__).parent / "samples"

EMAIL = "demo.user@example.com"
PASSWORD = "china1234"
USER_DOMAIN = "E.SP.4294967001"
DOMAIN_SECRET = "demoUserDomainSecret0001"
# The doc's example random: pwd "china1234" encrypts to "lkZMvj0KDSJXlp66jBieHA==".
RANDOM = "j1acpdj2bmtqZXVb"
PRODUCT = "PK0001"
GATEWAY_PRODUCT = "PKGW01"

LOGIN = "/v2/enduser/enduserapi/emailPwdLogin"
REFRESH = "/v2/enduser/enduserapi/refreshToken"
BATCH_CONTROL = "/v2/binding/enduserapi/batchControlDevice"
DEVICE_LIST = "/v2/binding/enduserapi/userDeviceList"

# The integration guide's example token: well formed, so lenient auth accepts it.
DOC_TOKEN = (
    "Bearer eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJlbmR1c2VyIiwiYXVkIjoiQXVkaWVuY2UiLCJleHAiOjE3NDQ3OD"
    "gxNTEsImp0aSI6ImtJQ0xZSWpBOXRsN1VpRXY4WFplN1EiLCJpYXQiOjE3NDQ3ODA5NTEsIm5iZiI6MTc0NDc4MDg"
    "zMSwic3ViIjoic3ViamVjdCIsInVpZCI6IkMxMzEzNjIiLCJ0eXBlIjoiQWNjZXNzVG9rZW4ifQ.YpYuwsehgDtJdV"
    "10iEVozlPvzWOdPKvPPRG81alCDdg"
)
HEADERS = {"Authorization": DOC_TOKEN}


def encrypt_pwd(password: str = PASSWORD, random: str = RANDOM) -> str:
    """AES-128-CBC/PKCS5, key = upper(md5hex(random))[8:24], iv = key[8:16] + key[0:8]."""
    key = hashlib.md5(random.encode()).hexdigest().upper()[8:24]
    iv = key[8:16] + key[0:8]
    cipher = AES.new(key.encode(), AES.MODE_CBC, iv.encode())
    return base64.b64encode(cipher.encrypt(pad(password.encode(), 16))).decode()


def sign(email: str, pwd: str, random: str, secret: str = DOMAIN_SECRET) -> str:
    return hashlib.sha256((email + pwd + random + secret).encode()).hexdigest()


def login_params(password: str = PASSWORD, random: str = RANDOM, **changes: Any) -> dict[str, Any]:
    """A signed emailPwdLogin request; ``changes`` replace fields after signing (None drops)."""
    email = changes.pop("email", EMAIL) if "email" in changes and changes["email"] else EMAIL
    pwd = encrypt_pwd(password, random)
    params: dict[str, Any] = {
        "email": email,
        "pwd": pwd,
        "random": random,
        "userDomain": USER_DOMAIN,
        "signature": sign(email, pwd, random),
    }
    params.update(changes)
    return {k: v for k, v in params.items() if v is not None}


def login(client: Client) -> dict[str, Any]:
    """emailPwdLogin the way the Home-Assistant bridges send it: a form body."""
    body: dict[str, Any] = client.post(LOGIN, data=login_params()).json()
    assert body["code"] == 200, body
    return body


def access_token(client: Client) -> str:
    return str(login(client)["data"]["accessToken"]["token"])


def command_body(devices: list[dict[str, Any]], **changes: Any) -> dict[str, Any]:
    """A valid property command (type 2), like the real client's."""
    body: dict[str, Any] = {"type": 2, "data": '[{"switch":true}]', "deviceList": devices}
    body.update(changes)
    return {k: v for k, v in body.items() if v is not None}


def pkdk(device_key: str, product_key: str = PRODUCT, **gateway: str) -> dict[str, Any]:
    return {"productKey": product_key, "deviceKey": device_key, **gateway}


def send(client: Client, body: Any, headers: dict[str, str] | None = None) -> dict[str, Any]:
    response = client.post(BATCH_CONTROL, json=body, headers=headers or HEADERS)
    assert response.status_code == 200
    result: dict[str, Any] = response.json()
    return result


def add_device(
    emulators: Any,
    namespace: str,
    device_key: str,
    *,
    product_key: str = PRODUCT,
    online: bool = False,
    gateway: tuple[str, str] | None = None,
    name: str = "",
    **overrides: Any,
) -> None:
    """A Quectel device written straight into the registry of the emulator behind the test's
    client (the server runs in this process in both test modes)."""
    app, _ = emulators.get(**overrides)
    ctx = app.state.emulator.context(namespace)
    with ctx.begin() as conn:
        conn.execute(
            insert(registry.devices),
            {
                "namespace": namespace, "vendor": "quectel", "product_key": product_key,
                "device_key": device_key, "name": name, "online": online,
                "gateway_product_key": gateway[0] if gateway else None,
                "gateway_device_key": gateway[1] if gateway else None,
            },
        )  # fmt: skip


def bind(
    emulators: Any, namespace: str, device_key: str, user: str = EMAIL, **overrides: Any
) -> None:
    app, _ = emulators.get(**overrides)
    ctx = app.state.emulator.context(namespace)
    with ctx.begin() as conn:
        conn.execute(
            insert(registry.bindings),
            {"namespace": namespace, "vendor": "quectel", "user": user,
             "product_key": PRODUCT, "device_key": device_key},
        )  # fmt: skip
