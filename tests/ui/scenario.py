"""Vendor calls a client makes, sent over HTTP to a running emulator: what the dashboard shows.

Used by the end-to-end tests and by ``python -m tests.ui.screenshots`` (docs/dashboard.md).
Credentials are the default fixtures' and well-formed tokens, which lenient auth accepts.
"""

from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import Client

CREATE_BATCH = "/v2/devicemgr/r3/openapi/device/createBatch"
BATCH_CONTROL = "/v2/binding/enduserapi/batchControlDevice"
ENOS_DEVICES = "/connect-service/v2.1/devices"
DPS = "/dps-service/v2.5/pvs/device"
MCS_DEVICES = "/mcs/v2/devices"

ENOS_ORG = "o15475450989191"
ENOS_PRODUCT = "Vu82Agp3"
QUECTEL_PRODUCT = "PK0001"

# Well-formed tokens (the vendors' documented examples): lenient auth accepts them.
QUECTEL_SAAS = {
    "Authorization": "QJWT eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIyOTQ5NCJ9.JUQjUKlaDepazh7JssvRZKDiA1UL83"
}
QUECTEL_APP = {
    "Authorization": "Bearer eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJlbmR1c2VyIn0.YpYuwsehgDtJdV10iEVozl"
}
ENOS = {"apim-accesstoken": "lenient-demo-token"}
MCS = {"Authorization": "Bearer demo-access-token"}


def namespace_client(base_url: str, namespace: str) -> httpx.Client:
    return httpx.Client(base_url=f"{base_url}/ns/{namespace}", timeout=30)


def create_quectel_devices(
    client: Client, *device_keys: str, product: str = QUECTEL_PRODUCT
) -> dict[str, Any]:
    """Quectel createBatch: the devices appear in the registry, offline."""
    body = {
        "productKey": product,
        "devices": [{"deviceKey": dk, "authMode": 0} for dk in device_keys],
    }
    answer: dict[str, Any] = client.post(CREATE_BATCH, json=body, headers=QUECTEL_SAAS).json()
    assert answer["code"] == 200, answer
    assert len(answer["data"]["successList"]) == len(device_keys), answer
    return answer


def batch_control(
    client: Client,
    *device_keys: str,
    data: str = '[{"switch":true}]',
    qos: int = 1,
    cache_time: int = 600,
) -> dict[str, Any]:
    """Quectel batchControlDevice: one ticket per device (cached for offline devices)."""
    body = {
        "type": 2,
        "data": data,
        "dataFormat": 0,
        "isCache": 1,
        "isCover": 1,
        "cacheTime": cache_time,
        "qos": qos,
        "deviceList": [{"productKey": QUECTEL_PRODUCT, "deviceKey": dk} for dk in device_keys],
    }
    answer: dict[str, Any] = client.post(BATCH_CONTROL, json=body, headers=QUECTEL_APP).json()
    assert answer["code"] == 200, answer
    return answer


def create_enos_device(client: Client, device_key: str) -> dict[str, Any]:
    """EnOS connection service create device; the answer's code (0, or a fault's) is returned."""
    body = {
        "productKey": ENOS_PRODUCT,
        "deviceKey": device_key,
        "timezone": "+08:00",
        "deviceName": {"defaultValue": device_key},
    }
    answer: dict[str, Any] = client.post(
        ENOS_DEVICES, params={"action": "create", "orgId": ENOS_ORG}, json=body, headers=ENOS
    ).json()
    return answer


def allocate_dps(client: Client, sn: str = "yourSn") -> dict[str, Any]:
    """EnOS DPS allocate (the doc's sample): provisions a connection-service device."""
    body = {"sn": sn, "deviceData": {"max_capacity": 1.0, "scale": 1}}
    answer: dict[str, Any] = client.post(
        DPS, params={"action": "allocate", "orgId": "yourOrgId"}, json=body, headers=ENOS
    ).json()
    assert answer["code"] == 0, answer
    return answer


def create_dps_batch(client: Client, count: int) -> list[str]:
    body = {"groupId": "yourGroupId", "count": count, "desc": "demo batch"}
    answer: dict[str, Any] = client.post(
        DPS, params={"action": "create", "orgId": "yourOrgId"}, json=body, headers=ENOS
    ).json()
    assert answer["code"] == 0, answer
    sns: list[str] = answer["data"]
    return sns


def register_mcs_devices(client: Client) -> dict[str, Any]:
    body = {
        "devices": [
            {"prodId": "a1234567890", "name": "Lab sensor", "isTest": True},
            {"prodId": "b1234567890", "name": "Field unit", "isTest": False, "serial": "mtk-01"},
        ]
    }
    answer: dict[str, Any] = client.post(MCS_DEVICES, json=body, headers=MCS).json()
    assert "credentials" in answer, answer
    return answer


def set_online(client: Client, vendor: str, product: str, device: str) -> None:
    response = client.post(f"/_emulator/devices/{vendor}/{product}/{device}/online")
    assert response.status_code == 200, response.text


def populate(client: Client) -> dict[str, Any]:
    """A namespace with a bit of everything: devices of each vendor, commands in several
    states, a DPS allocation, and a fault that has fired."""
    create_quectel_devices(client, "DK00001", "DK00002", "DK00003", "DK00004")
    for dk in ("DK00001", "DK00002"):
        set_online(client, "quectel", QUECTEL_PRODUCT, dk)
    first = batch_control(client, "DK00001", "DK00002", "DK00003")
    tickets = [entry["ticket"] for entry in first["data"]["successList"]]
    client.post(
        f"/_emulator/commands/{tickets[0]}/ack", json={"success": True, "payload": {"ok": 1}}
    )
    batch_control(client, "DK00002", data='[{"brightness":80}]', qos=0)
    for dk in ("inverter-001", "inverter-002", "inverter-003"):
        create_enos_device(client, dk)
    set_online(client, "enos", ENOS_PRODUCT, "inverter-001")
    register_mcs_devices(client)
    create_dps_batch(client, 3)
    allocate_dps(client)
    client.post(
        "/_emulator/faults",
        json={"operation": "enos.connect.create_device", "code": 11714, "times": 1},
    )
    client.post(
        "/_emulator/faults",
        json={
            "operation": "quectel.enduser.batch_control_device",
            "code": 5340,
            "deviceKey": "DK00004",
        },
    )
    create_enos_device(client, "inverter-004")  # meets the 11714 fault
    return {"tickets": tickets}
