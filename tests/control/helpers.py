"""What the control-plane tests send: an EnOS create-device request, the operation we test on."""

from __future__ import annotations

from typing import Any

from tests.conftest import Client
from tests.vendors.enos.helpers import HEADERS, PRODUCT, devices_url

CREATE = "enos.connect.create_device"


def create_body(device_key: str | None = None, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "productKey": PRODUCT,
        "timezone": "+08:00",
        "deviceName": {"defaultValue": "control-plane"},
        **extra,
    }
    if device_key is not None:
        body["deviceKey"] = device_key
    return body


def create_device(client: Client, device_key: str | None = None, **extra: Any) -> dict[str, Any]:
    response = client.post(
        devices_url("create"), json=create_body(device_key, **extra), headers=HEADERS
    )
    assert response.status_code == 200
    result: dict[str, Any] = response.json()
    return result


def enos_device_keys(client: Client) -> list[str]:
    listed = client.get("/_emulator/devices", params={"vendor": "enos"}).json()
    return [d["deviceKey"] for d in listed["devices"]]
