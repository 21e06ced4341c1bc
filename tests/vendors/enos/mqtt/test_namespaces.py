"""A listener per namespace, opened on demand by the control plane: a device logs in only on
its own namespace's listener, and its state changes only there."""

from __future__ import annotations

from urllib.parse import urlparse

import httpx

from tests.vendors.enos.helpers import HEADERS, devices_url
from tests.vendors.enos.mqtt.conftest import SDK_WARNINGS, Live
from tests.vendors.enos.mqtt.test_login import _connack, connect, wait_for

pytestmark = SDK_WARNINGS


def _create(http: httpx.Client, prefix: str) -> dict[str, str]:
    body = {"productKey": "Vu82Agp3", "timezone": "+08:00", "deviceName": {"defaultValue": "d"}}
    answer = http.post(prefix + devices_url("create"), json=body, headers=HEADERS).json()
    assert answer["code"] == 0, answer
    return dict(answer["data"])


def _status(http: httpx.Client, prefix: str, asset_id: str) -> str:
    answer = http.get(prefix + devices_url("get", assetId=asset_id), headers=HEADERS).json()
    return str(answer["data"]["status"])


def test_a_namespace_gets_its_own_listener(live: Live) -> None:
    prefix = "/ns/team-a"
    opened = live.http.post(f"{prefix}/_emulator/mqtt").json()
    assert opened["namespace"] == "team-a"
    assert opened["url"] != live.mqtt_url
    assert live.http.post(f"{prefix}/_emulator/mqtt").json() == opened  # opened once
    assert live.http.get(f"{prefix}/_emulator/mqtt").json()["url"] == opened["url"]
    urls = {item["url"] for item in live.http.get("/_emulator/health").json()["listeners"]}
    assert urls == {live.mqtt_url, opened["url"]}

    ours = _create(live.http, prefix)
    theirs = live.create_device()  # the default namespace's
    port = int(urlparse(opened["url"]).port or 0)
    team = Live(live.http, opened["url"], port)
    assert _connack(team, theirs["productKey"], theirs["deviceKey"], theirs["deviceSecret"]) == 5
    assert _connack(live, ours["productKey"], ours["deviceKey"], ours["deviceSecret"]) == 5

    client = connect(team, ours["productKey"], ours["deviceKey"], ours["deviceSecret"])
    try:
        wait_for(lambda: _status(live.http, prefix, ours["assetId"]) == "online", "online")
    finally:
        client.close()
    assert live.http.delete(f"{prefix}/_emulator/mqtt").status_code == 200
    assert live.http.get(f"{prefix}/_emulator/mqtt").status_code == 404
