"""What an MCS client sends: the bearer header of the API and the OAuth login of a third party."""

from __future__ import annotations

import base64
from typing import Any

from tests.conftest import Client

APP_KEY = "demoAppKey0001"
APP_SECRET = "demo-app-secret-0001"
EMAIL = "developer@example.com"
PASSWORD = "mcs-demo-password"
OTHER_EMAIL = "other.developer@example.com"
OTHER_PASSWORD = "mcs-other-password"
TEST_PRODUCT = "a1234567890"  # no registration criteria
SERIAL_PRODUCT = "b1234567890"  # registers non-test devices by serial
OTHER_PRODUCT = "c1234567890"  # owned by the other developer
DEVICES_URL = "/mcs/v2/devices"
LOGIN_URL = "/oauth/login/thirdparty"
# Any well-formed bearer token passes lenient auth.
HEADERS = {"Authorization": "Bearer lenient-demo-token"}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def basic(key: str = APP_KEY, secret: str = APP_SECRET) -> dict[str, str]:
    encoded = base64.b64encode(f"{key}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {encoded}"}


def login(client: Client, email: str = EMAIL, password: str = PASSWORD) -> dict[str, Any]:
    response = client.post(LOGIN_URL, headers=basic(), data={"email": email, "password": password})
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def device(**fields: Any) -> dict[str, Any]:
    return {"prodId": TEST_PRODUCT, "name": "plug", "isTest": True, **fields}


def register(client: Client, body: Any, headers: dict[str, str] = HEADERS) -> dict[str, Any]:
    response = client.post(DEVICES_URL, json=body, headers=headers)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def assert_error(response: Any, status: int, code: int) -> dict[str, Any]:
    """The documented error envelope, on the documented HTTP status."""
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert set(body) == {"results"}
    results: dict[str, Any] = body["results"]
    assert set(results) == {"code", "url", "description"}
    assert results["code"] == code
    assert results["url"] == f"http://mcs.mediatek.com/api_errorcode?code={code}"
    assert isinstance(results["description"], str)
    assert results["description"]
    return results
