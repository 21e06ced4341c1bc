"""What a Quectel SaaS OpenAPI client does: URLs, the accessKey login recipe, the header.

Samples in ``samples/devicemgr_*`` are transcribed verbatim from the vendor documents:
devicemgr-createBatch.md (request and response examples), and the companion documents
(Add Device (Single), Delete Device, Query Device Details, Query Device List Under Product,
Query Product List, Query Product Details, the OpenAPI Integration Guide's accessKeyLogin).
"""

from __future__ import annotations

import hashlib
import time
from typing import Any
from urllib.parse import quote

from tests.conftest import Client

AK = "demoAccessKey0001"
SECRET = "demo-access-secret-0001"
PRODUCT = "PK0001"
AEP_PRODUCT = "PKAEP01"
GATEWAY_PRODUCT = "PKGW01"

DEVICEMGR = "/v2/devicemgr/r3/openapi"
CREATE_BATCH = f"{DEVICEMGR}/device/createBatch"
CREATE = f"{DEVICEMGR}/device/create"
DETAIL = f"{DEVICEMGR}/device/detail"
OVERVIEW = f"{DEVICEMGR}/product/device/overview"
DELETE = f"{DEVICEMGR}/device/delete"
PRODUCTS = "/v2/quecproductmgr/r3/openapi/products"
PRODUCT_DETAIL = "/v2/quecproductmgr/r3/openapi/product/detail"
LOGIN = "/v2/quecauth/accessKeyAuthrize/accessKeyLogin"
REFRESH = "/v2/quecauth/accessKeyAuthrize/refreshToken"

# The doc's example token: well formed, so lenient auth accepts it.
DOC_TOKEN = (
    "QJWT eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIyOTQ5NCIsImlhdCI6MTYxODQ3Mjk2MiwianRpIjoiYjVhMmRh"
    "NjgtMzI0Ni00ZWRjLWEwZTktOTEyZjdjMDFkMmMzIiwidXR5IjoicGVyIiwiZXhwIjoxNjE4NTU5MzYyLCJhbSI6"
    "IkFjY2Vzc0tleSIsInNwIjoiIn0.JUQjUKlaDepazh7JssvRZKDiA1UL83VK8WECj86TI_I"
)
HEADERS = {"Authorization": DOC_TOKEN, "Content-Type": "application/json"}


def username(timestamp_ms: int | None = None, access_key: str = AK) -> str:
    ts = int(time.time() * 1000) if timestamp_ms is None else timestamp_ms
    return f"ver=1&auth_mode=accessKey&sign_method=sha256&access_key={access_key}&timestamp={ts}"


def password(user: str, secret: str = SECRET) -> str:
    """``sha256("${username}${AccessSecret}")`` over the plain (not URI-encoded) username."""
    return hashlib.sha256((user + secret).encode()).hexdigest()


def login_url(user: str, pwd: str, grant_type: str = "password") -> str:
    """The doc's request: username URI-encoded as a whole."""
    return f"{LOGIN}?username={quote(user, safe='')}&password={pwd}&grant_type={grant_type}"


def login(client: Client, timestamp_ms: int | None = None) -> str:
    user = username(timestamp_ms)
    body = client.get(login_url(user, password(user))).json()
    assert body["code"] == 200, body
    token: str = body["access_token"]
    return token


def device(device_key: str, **fields: Any) -> dict[str, Any]:
    return {"deviceKey": device_key, **fields}


def create_batch(
    client: Client, devices: list[dict[str, Any]], product_key: str = PRODUCT,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:  # fmt: skip
    response = client.post(
        CREATE_BATCH, json={"productKey": product_key, "devices": devices},
        headers=HEADERS if headers is None else headers,
    )  # fmt: skip
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


def post(client: Client, url: str, body: Any, headers: dict[str, str] | None = None) -> Any:
    response = client.post(url, json=body, headers=HEADERS if headers is None else headers)
    assert response.status_code == 200
    return response.json()


def get(client: Client, url: str, headers: dict[str, str] | None = None, **query: Any) -> Any:
    response = client.get(url, params=query, headers=HEADERS if headers is None else headers)
    assert response.status_code == 200
    return response.json()


def failures(body: dict[str, Any]) -> dict[str, str]:
    """deviceKey -> message of a createBatch failureList."""
    return {f["data"]["deviceKey"]: f["msg"] for f in body["data"]["failureList"]}


def created(body: dict[str, Any]) -> list[str]:
    return [s["data"]["deviceKey"] for s in body["data"]["successList"]]
