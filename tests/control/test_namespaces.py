"""Namespaces: `/ns/{name}/...`, the namespace header, `GET/DELETE /_emulator/namespaces`."""

from __future__ import annotations

from tests.conftest import Client, ClientFactory
from tests.control.helpers import create_body, create_device, enos_device_keys
from tests.vendors.enos.helpers import HEADERS, devices_url


def test_two_namespaces_creating_the_same_device_key_both_succeed(
    make_client: ClientFactory, root_client: Client, namespace: str
) -> None:
    first = make_client()
    second_ns = f"{namespace}-second"
    second = {**HEADERS, "X-Emulator-Namespace": second_ns}

    a = first.post(devices_url("create"), json=create_body("shared-key"), headers=HEADERS)
    b = root_client.post(devices_url("create"), json=create_body("shared-key"), headers=second)
    a_only = first.post(devices_url("create"), json=create_body("only-in-first"), headers=HEADERS)

    assert (a.json()["code"], b.json()["code"], a_only.json()["code"]) == (0, 0, 0)
    assert enos_device_keys(first) == ["shared-key", "only-in-first"]
    listed = root_client.get("/_emulator/devices", params={"vendor": "enos"}, headers=second)
    assert [d["deviceKey"] for d in listed.json()["devices"]] == ["shared-key"]
    assert a.json()["data"]["deviceSecret"] != b.json()["data"]["deviceSecret"]


def test_every_control_path_is_served_under_the_namespace_prefix(
    root_client: Client, namespace: str
) -> None:
    prefix = f"/ns/{namespace}-prefixed"
    root_client.post(
        f"{prefix}/connect-service/v2.1/devices?action=create&orgId=o15475450989191",
        json=create_body("prefixed"),
        headers=HEADERS,
    )

    requests = root_client.get(f"{prefix}/_emulator/requests").json()
    devices = root_client.get(f"{prefix}/_emulator/devices", params={"vendor": "enos"}).json()

    assert requests["namespace"] == f"{namespace}-prefixed"
    assert [r["path"] for r in requests["requests"]] == ["/connect-service/v2.1/devices"]
    assert [d["deviceKey"] for d in devices["devices"]] == ["prefixed"]


def test_a_new_namespace_starts_from_the_baseline(
    client: Client, root_client: Client, namespace: str
) -> None:
    baseline = client.get("/_emulator/state").json()
    create_device(client, "not-in-baseline")

    fresh = root_client.get(f"/ns/{namespace}-fresh/_emulator/state").json()

    assert fresh == baseline
    assert client.get("/_emulator/state").json() != baseline


def test_namespaces_lists_the_namespaces_holding_state(client: Client, namespace: str) -> None:
    create_device(client, "listed")

    names = [n["name"] for n in client.get("/_emulator/namespaces").json()["namespaces"]]

    assert namespace in names


def test_delete_namespace_drops_its_state_and_it_restarts_from_the_baseline(
    client: Client, root_client: Client, namespace: str
) -> None:
    create_device(client, "doomed")
    client.post(
        "/_emulator/faults", json={"operation": "enos.connect.create_device", "code": 11714}
    )

    deleted = root_client.delete(f"/_emulator/namespaces/{namespace}")

    assert deleted.json() == {"deleted": namespace}
    names = [n["name"] for n in root_client.get("/_emulator/namespaces").json()["namespaces"]]
    assert namespace not in names
    assert "doomed" not in enos_device_keys(client)
    assert client.get("/_emulator/faults").json()["faults"] == []
    assert client.get("/_emulator/requests").json()["requests"] == []


def test_delete_unknown_namespace_returns_404(root_client: Client) -> None:
    response = root_client.delete("/_emulator/namespaces/never-used-namespace-x")

    assert response.status_code == 404
