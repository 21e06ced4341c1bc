"""Fault injection on the MCS operations: the codes no input reaches (500) and the
per-device seam of a registerDevice batch, which fails the whole request (the ``credentials``
answer has no failure list)."""

from __future__ import annotations

from typing import Any

from tests.conftest import Client
from tests.vendors.mcs.helpers import DEVICES_URL, HEADERS, assert_error, basic, device, register


def arm(client: Client, **rule: Any) -> None:
    response = client.post("/_emulator/faults", json=rule)
    assert response.status_code == 201, response.text


def listed(client: Client) -> list[dict[str, Any]]:
    devices: list[dict[str, Any]] = client.get(
        "/_emulator/devices", params={"vendor": "mcs"}
    ).json()["devices"]
    return devices


def test_injected_500_answers_in_the_mcs_envelope(client: Client) -> None:
    arm(client, operation="mcs.register_device", code=500, times=1)

    assert_error(client.post(DEVICES_URL, json=device(), headers=HEADERS), 500, 500)
    assert register(client, device())["deviceId"]


def test_injected_1002_answers_the_token_error(client: Client) -> None:
    arm(client, operation="mcs.get_device", code=1002, times=1)
    created = register(client, device())["deviceId"]

    assert_error(client.get(f"{DEVICES_URL}/{created}", headers=HEADERS), 401, 1002)


def test_injected_500_on_login_answers_in_the_oauth_envelope(client: Client) -> None:
    arm(client, operation="mcs.oauth.login", code=500, times=1)

    response = client.post(
        "/oauth/login/thirdpart",
        headers=basic(),
        data={"email": "developer@example.com", "password": "mcs-demo-password"},
    )

    assert response.status_code == 500
    assert (response.json()["code"], response.json()["statusCode"]) == (500, 500)


def test_a_faulted_device_fails_the_whole_batch(client: Client) -> None:
    arm(client, operation="mcs.register_device", code=404, deviceKey="*", times=1)

    response = client.post(DEVICES_URL, json={"devices": [device(), device()]}, headers=HEADERS)

    assert_error(response, 404, 404)
    assert listed(client) == []
    assert len(register(client, {"devices": [device(), device()]})["credentials"]) == 2
