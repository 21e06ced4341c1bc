"""Namespaces: created from the baseline on first use, reset to it, isolated from each other."""

from __future__ import annotations

from tests.conftest import Client
from tests.vendors.enos.helpers import HEADERS, PRODUCT, devices_url

BODY = {"productKey": PRODUCT, "timezone": "+08:00", "deviceName": {"defaultValue": "d"}}


def enos_devices(client: Client) -> list[str]:
    listed = client.get("/_emulator/devices", params={"vendor": "enos"}).json()
    return [d["deviceKey"] for d in listed["devices"]]


def test_reset_drops_created_devices_and_can_be_repeated(client: Client) -> None:
    client.post(devices_url("create"), json={**BODY, "deviceKey": "gone"}, headers=HEADERS)

    first = client.post("/_emulator/reset")
    second = client.post("/_emulator/reset")

    assert (first.status_code, second.status_code) == (200, 200)
    assert enos_devices(client) == []


def test_reset_of_a_namespace_never_used_before_succeeds(client: Client) -> None:
    assert client.post("/_emulator/reset").json()["reset"] is True


def test_invalid_namespace_name_is_refused(root_client: Client) -> None:
    response = root_client.get("/_emulator/health", headers={"X-Emulator-Namespace": "bad name!"})

    assert response.status_code == 400
    assert "invalid namespace name" in response.json()["error"]["message"]


def test_namespace_header_selects_the_namespace(root_client: Client, namespace: str) -> None:
    headers = {**HEADERS, "X-Emulator-Namespace": namespace + "-hdr"}
    root_client.post(
        devices_url("create"), json={**BODY, "deviceKey": "via-header"}, headers=headers
    )

    listed = root_client.get(
        "/_emulator/devices", params={"vendor": "enos"}, headers=headers
    ).json()

    assert listed["namespace"] == namespace + "-hdr"
    assert [d["deviceKey"] for d in listed["devices"]] == ["via-header"]
