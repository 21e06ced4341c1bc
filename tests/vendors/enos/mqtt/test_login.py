"""Login over MQTT with the official EnOS device SDK (ENOS-DEVICES.md §2), and the registry
following the connection: connect-service ``get`` shows online/offline, DPS connectStatus."""

from __future__ import annotations

import logging
import threading
import time

import paho.mqtt.client as paho
import pytest
from enos.core.MqttClient import MqttClient
from enos.message.upstream.tsl.MeasurepointPostRequest import MeasurepointPostRequest
from paho.mqtt.enums import CallbackAPIVersion

from tests import calls
from tests.vendors.enos.mqtt.conftest import SDK_WARNINGS, Live, LogEvent

pytestmark = SDK_WARNINGS
WAIT_S = 30  # an upper bound for the event, not an expected time: the machine may be busy


def connect(live: Live, pk: str, dk: str, secret: str) -> MqttClient:
    client = MqttClient(live.mqtt_url, pk, dk, secret)
    client.connect()  # returns once CONNACK 0 arrived
    assert client.is_connected()
    return client


def wait_for(predicate: object, what: str) -> None:
    """Poll the emulator until ``predicate()`` holds: the registry follows the socket."""
    deadline = time.monotonic() + WAIT_S
    while not predicate():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


@pytest.fixture
def sdk_log() -> logging.Logger:
    return logging.getLogger("enos")


def test_login_with_the_secret_from_create_device_shows_the_device_online(live: Live) -> None:
    device = live.create_device()
    assert live.status(device["assetId"]) == "inactive"
    client = connect(live, device["productKey"], device["deviceKey"], device["deviceSecret"])
    try:
        wait_for(lambda: live.status(device["assetId"]) == "online", "online")
    finally:
        client.close()
    wait_for(lambda: live.status(device["assetId"]) == "offline", "offline after close")


def paho_client(live: Live, pk: str, dk: str, secret: str) -> paho.Client:
    """A paho client carrying the credentials the SDK builds (paho is the SDK's own MQTT
    client; used directly where the SDK only logs what happened)."""
    profile = MqttClient(live.mqtt_url, pk, dk, secret).get_profile()
    client = paho.Client(CallbackAPIVersion.VERSION1, client_id=profile.get_client_id())
    client.username_pw_set(profile.get_mqtt_username(), profile.get_mqtt_password())
    return client


def _connack(live: Live, pk: str, dk: str, secret: str) -> int:
    """The CONNACK return code for credentials the SDK builds, read with paho directly (the
    SDK only logs a refusal)."""
    codes: list[int] = []
    done = threading.Event()

    def on_connect(client: paho.Client, userdata: object, flags: object, rc: int) -> None:
        codes.append(rc)
        done.set()

    client = paho_client(live, pk, dk, secret)
    client.on_connect = on_connect
    client.connect("127.0.0.1", live.mqtt_port)
    client.loop_start()
    try:
        assert done.wait(WAIT_S), "no CONNACK"
    finally:
        client.loop_stop()
        client.disconnect()
    return codes[0]


def test_a_wrong_secret_gets_connack_5(live: Live) -> None:
    device = live.create_device()
    assert _connack(live, device["productKey"], device["deviceKey"], "not-the-secret") == 5
    assert _connack(live, device["productKey"], device["deviceKey"], device["deviceSecret"]) == 0


def test_an_unknown_device_gets_connack_5(live: Live) -> None:
    assert _connack(live, "Vu82Agp3", "noSuchDevice", "whatever") == 5


def test_the_sdk_logs_the_refusal(live: Live, sdk_log: logging.Logger) -> None:
    device = live.create_device()
    seen = LogEvent("error code: 5")
    sdk_log.addHandler(seen)
    client = MqttClient(live.mqtt_url, device["productKey"], device["deviceKey"], "wrong")
    try:
        client.connect(_Callbacks())
        assert seen.event.wait(WAIT_S)
        assert not client.is_connected()
        assert live.status(device["assetId"]) == "inactive"
    finally:
        sdk_log.removeHandler(seen)
        client.close()


class _Callbacks:
    def on_connect(self) -> None: ...

    def on_disconnect(self) -> None: ...

    def on_connect_failed(self) -> None: ...


def test_measure_point_post_is_answered_200_and_kept(live: Live) -> None:
    device = live.create_device()
    pk, dk = device["productKey"], device["deviceKey"]
    client = connect(live, pk, dk, device["deviceSecret"])
    try:
        request = (
            MeasurepointPostRequest.builder()
            .add_measurepoint("temp", 21.5)
            .set_timestamp(1796065187000)
            .build()
        )
        response = client.publish(request)
        assert response.is_success(), response.get_message()
        assert response.get_code() == 200
    finally:
        client.close()
    attrs = live.device(pk, dk)["attrs"]
    assert attrs["measurepoints"] == {"temp": {"value": 21.5, "time": 1796065187000}}
    assert attrs["measurepointHistory"][-1]["measurepoints"] == {"temp": 21.5}


def test_health_says_where_the_listener_listens(live: Live) -> None:
    [listener] = live.http.get("/_emulator/health").json()["listeners"]
    assert listener["protocol"] == "mqtt"
    assert listener["url"] == live.mqtt_url
    assert listener["namespace"] == "default"


def test_no_mqtt_leaves_the_port_closed(tmp_path: object) -> None:
    from emulator.app import create_app
    from emulator.config import Settings
    from emulator.testing import free_port, serve_in_thread

    app = create_app(Settings(db=":memory:", mqtt=False, mqtt_port=free_port()))
    with serve_in_thread(app, lifespan=True) as url:
        assert calls.get(f"{url}/_emulator/health").json()["listeners"] == []
    app.state.emulator.dispose()


def test_mqtt_messages_enter_the_journal_with_operation_ids_of_their_own(live: Live) -> None:
    device = live.create_device()
    pk, dk = device["productKey"], device["deviceKey"]
    assert _connack(live, pk, dk, "wrong") == 5
    client = connect(live, pk, dk, device["deviceSecret"])
    try:
        request = MeasurepointPostRequest.builder().add_measurepoint("temp", 1).build()
        assert client.publish(request).is_success()
    finally:
        client.close()
    verify = live.http.post(
        "/_emulator/requests/verify",
        json={"operation": "enos.mqtt.measurepoint_post", "count": 1,
              "bodyContains": {"params": {"measurepoints": {"temp": 1}}}},
    )  # fmt: skip
    assert verify.status_code == 200, verify.json()
    logins = live.http.get("/_emulator/requests", params={"operation": "enos.mqtt.login"})
    codes = sorted(entry["vendorCode"] for entry in logins.json()["requests"])
    assert codes == [0, 5]
