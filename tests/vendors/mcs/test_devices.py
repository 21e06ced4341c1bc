"""MCS device companions (REAL-CLIENTS.md §5): retrieve device information
(``GET /mcs/v2/devices/:deviceId``, comma-separated ids too) and deregisterDevice
(``DELETE /mcs/v2/devices/:deviceId``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Client, ClientFactory
from tests.shapes import load_sample, missing_paths, shape
from tests.vendors.mcs.helpers import (
    DEVICES_URL,
    HEADERS,
    OTHER_PRODUCT,
    SERIAL_PRODUCT,
    TEST_PRODUCT,
    assert_error,
    bearer,
    device,
    login,
    register,
)

SAMPLES = Path(__file__).parent / "samples"


def get(client: Client, ids: str, headers: dict[str, str] = HEADERS) -> list[dict[str, Any]]:
    response = client.get(f"{DEVICES_URL}/{ids}", headers=headers)
    assert response.status_code == 200, response.text
    assert set(response.json()) == {"results"}
    results: list[dict[str, Any]] = response.json()["results"]
    return results


class TestRetrieve:
    def test_get_device_answers_the_documented_fields(self, client: Client) -> None:
        created = register(
            client,
            device(
                prodId=SERIAL_PRODUCT, name="plug-1", description="living room", isTest=False,
                serial="mtk-1", deviceImageURL="/d.jpg",
            ),
        )  # fmt: skip

        (info,) = get(client, created["deviceId"])

        assert (info["deviceId"], info["deviceKey"]) == (created["deviceId"], created["deviceKey"])
        assert (info["name"], info["description"], info["deviceImageURL"]) == (
            "plug-1", "living room", "/d.jpg",
        )  # fmt: skip
        assert info["product"]["prodId"] == SERIAL_PRODUCT
        assert info["product"]["chip"] == created["chipName"]
        assert (info["isTest"], info["isActive"], info["isHeartbeating"]) == (False, True, False)
        assert isinstance(info["activatedAt"], int)
        documented = {
            "deviceId", "deviceKey", "name", "description", "product", "dataChannels", "fw",
            "trustIpRange", "lastIp", "deviceImageURL", "isHeartbeating", "isVerified",
            "isActive", "isTest", "activatedAt", "deactivatedAt", "tags", "privilege",
        }  # fmt: skip
        assert documented <= set(info)

    def test_get_several_comma_separated_ids_in_the_order_asked(self, client: Client) -> None:
        ids = [register(client, device(name=f"p{i}"))["deviceId"] for i in range(3)]

        results = get(client, ",".join(reversed(ids)))

        assert [r["deviceId"] for r in results] == list(reversed(ids))
        assert [r["name"] for r in results] == ["p2", "p1", "p0"]

    def test_repeated_and_blank_ids_are_ignored(self, client: Client) -> None:
        one = register(client, device())["deviceId"]

        assert [r["deviceId"] for r in get(client, f"{one},,{one},")] == [one]

    def test_heartbeat_follows_the_simulated_connection(self, client: Client) -> None:
        created = register(client, device())
        path = f"/_emulator/devices/mcs/{TEST_PRODUCT}/{created['deviceId']}"

        client.post(path + "/online")
        online = get(client, created["deviceId"])[0]["isHeartbeating"]
        client.post(path + "/offline")
        offline = get(client, created["deviceId"])[0]["isHeartbeating"]

        assert (online, offline) == (True, False)

    def test_unknown_device_returns_404(self, client: Client) -> None:
        response = client.get(f"{DEVICES_URL}/DnoSuch1", headers=HEADERS)

        assert "DnoSuch1" in assert_error(response, 404, 404)["description"]

    def test_one_unknown_id_in_a_list_returns_404(self, client: Client) -> None:
        one = register(client, device())["deviceId"]

        assert_error(client.get(f"{DEVICES_URL}/{one},DnoSuch1", headers=HEADERS), 404, 404)

    def test_only_commas_returns_404(self, client: Client) -> None:
        assert_error(client.get(f"{DEVICES_URL}/,,", headers=HEADERS), 404, 404)

    def test_get_without_token_returns_1002_with_401(self, client: Client) -> None:
        one = register(client, device())["deviceId"]

        assert_error(client.get(f"{DEVICES_URL}/{one}"), 401, 1002)

    def test_get_another_users_device_returns_1002_with_403(
        self, make_client: ClientFactory
    ) -> None:
        strict = make_client(auth="strict")
        mine = bearer(login(strict)["access_token"])
        other = bearer(
            login(strict, "other.developer@example.com", "mcs-other-password")["access_token"]
        )
        theirs = register(strict, device(prodId=OTHER_PRODUCT), headers=other)["deviceId"]

        assert_error(strict.get(f"{DEVICES_URL}/{theirs}", headers=mine), 403, 1002)
        assert get(strict, theirs, headers=other)[0]["deviceId"] == theirs


class TestDeregister:
    def test_delete_answers_the_documented_body_and_removes_the_device(
        self, client: Client
    ) -> None:
        created = register(client, device())["deviceId"]

        response = client.delete(f"{DEVICES_URL}/{created}?removeData=true", headers=HEADERS)

        expected = load_sample(SAMPLES / "deregister_device.response.json")
        assert response.status_code == 200
        assert missing_paths(shape(expected), response.json()) == []
        assert response.json()["deviceId"] == created
        assert_error(client.get(f"{DEVICES_URL}/{created}", headers=HEADERS), 404, 404)

    def test_delete_unknown_device_returns_404(self, client: Client) -> None:
        assert_error(client.delete(f"{DEVICES_URL}/DnoSuch1", headers=HEADERS), 404, 404)

    def test_delete_twice_returns_404(self, client: Client) -> None:
        created = register(client, device())["deviceId"]
        client.delete(f"{DEVICES_URL}/{created}", headers=HEADERS)

        assert_error(client.delete(f"{DEVICES_URL}/{created}", headers=HEADERS), 404, 404)

    def test_delete_without_token_returns_1002_with_401(self, client: Client) -> None:
        created = register(client, device())["deviceId"]

        assert_error(client.delete(f"{DEVICES_URL}/{created}"), 401, 1002)
        assert get(client, created)

    def test_delete_another_users_device_returns_1002_with_403(
        self, make_client: ClientFactory
    ) -> None:
        strict = make_client(auth="strict")
        mine = bearer(login(strict)["access_token"])
        other = bearer(
            login(strict, "other.developer@example.com", "mcs-other-password")["access_token"]
        )
        theirs = register(strict, device(prodId=OTHER_PRODUCT), headers=other)["deviceId"]

        assert_error(strict.delete(f"{DEVICES_URL}/{theirs}", headers=mine), 403, 1002)
        assert get(strict, theirs, headers=other)


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
def test_unsupported_method_answers_in_the_mcs_envelope(client: Client, method: str) -> None:
    created = register(client, device())["deviceId"]

    response = client.request(method, f"{DEVICES_URL}/{created}", headers=HEADERS)

    assert_error(response, 404, 404)
