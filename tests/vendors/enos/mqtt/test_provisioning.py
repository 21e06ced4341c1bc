"""Provisioning loops with the official SDK: DPS allocation followed by a real login, dynamic
activation with the product secret (secure mode 3), and a gateway with a sub-device."""

from __future__ import annotations

import threading
from typing import Any
from urllib.parse import urlencode

from enos.core.internal.Profile import Profile
from enos.core.MqttClient import MqttClient
from enos.message.downstream.tsl.ServiceInvocationCommand import ServiceInvocationCommand
from enos.message.downstream.tsl.ServiceInvocationReply import ServiceInvocationReply
from enos.message.upstream.status.SubDeviceLoginRequest import SubDeviceLoginRequest
from enos.message.upstream.status.SubDeviceLogoutRequest import SubDeviceLogoutRequest
from enos.message.upstream.topo.SubDeviceInfo import SubDeviceInfo
from enos.message.upstream.topo.TopoAddRequest import TopoAddRequest
from enos.message.upstream.topo.TopoGetRequest import TopoGetRequest
from enos.message.upstream.tsl.MeasurepointPostRequest import MeasurepointPostRequest

from tests.vendors.enos.helpers import HEADERS
from tests.vendors.enos.mqtt.conftest import SDK_WARNINGS, Live
from tests.vendors.enos.mqtt.test_commands import commands_url
from tests.vendors.enos.mqtt.test_login import WAIT_S, connect, wait_for

pytestmark = SDK_WARNINGS
DPS_ORG = "yourOrgId"


def _dps(live: Live, action: str, body: Any = None) -> dict[str, Any]:
    query = urlencode({"action": action, "orgId": DPS_ORG, "sn": "yourSn"})
    url = f"/dps-service/v2.5/pvs/device?{query}"
    if body is None:
        answer = live.http.get(url, headers=HEADERS).json()
    else:
        answer = live.http.post(url, json=body, headers=HEADERS).json()
    assert answer["code"] == 0, answer
    data: dict[str, Any] = answer["data"]
    return data


def test_dps_allocation_then_a_real_login_shows_connected(live: Live) -> None:
    allocated = _dps(live, "allocate", {"sn": "yourSn"})
    assert allocated["connectStatus"] == "init"
    query = urlencode({"action": "get", "orgId": DPS_ORG,
                       "assetId": allocated["deviceData"]["assetId"]})  # fmt: skip
    device = live.http.get(f"/connect-service/v2.1/devices?{query}", headers=HEADERS).json()
    data = device["data"]
    client = connect(live, data["productKey"], data["deviceKey"], data["deviceSecret"])
    try:
        wait_for(lambda: _dps(live, "get")["connectStatus"] == "connected", "connectStatus")
        assert _dps(live, "get")["status"]["connectedTime"] is not None
    finally:
        client.close()
    wait_for(lambda: _dps(live, "get")["connectStatus"] == "disconnected", "disconnected")


def test_dynamic_activation_hands_the_device_its_secret(live: Live) -> None:
    device = live.create_device()
    profile = Profile(live.mqtt_url, device["productKey"], device["deviceKey"], None,
                      product_secret="demoProductSecretVu82Agp3")  # fmt: skip
    client = MqttClient(profile=profile)
    secrets: list[str] = []
    activated = threading.Event()

    def on_activation(secret: str) -> None:
        secrets.append(secret)
        activated.set()

    client.on_device_dynamic_active = on_activation
    client.connect()
    try:
        assert activated.wait(WAIT_S), "no thing.activate.info"
        assert secrets == [device["deviceSecret"]]
    finally:
        client.close()
    # With the secret it received, the device logs in as usual (secure mode 2).
    client = connect(live, device["productKey"], device["deviceKey"], secrets[0])
    client.close()


def test_a_wrong_product_secret_is_refused(live: Live) -> None:
    from tests.vendors.enos.mqtt.test_login import _connack

    device = live.create_device()
    sdk = MqttClient(profile=Profile(live.mqtt_url, device["productKey"], device["deviceKey"],
                                     None, product_secret="wrong"))  # fmt: skip
    assert sdk.get_profile().get_client_id().find("securemode=3") > 0
    assert _connack(live, device["productKey"], "noSuchDevice", "wrong") == 5


def test_a_gateway_logs_in_its_sub_device_and_carries_its_commands(live: Live) -> None:
    gateway = live.create_device(deviceName={"defaultValue": "gateway"})
    sub = live.create_device(deviceName={"defaultValue": "sub-device"})
    gpk, gdk = gateway["productKey"], gateway["deviceKey"]
    spk, sdk_key, ssecret = sub["productKey"], sub["deviceKey"], sub["deviceSecret"]
    client = MqttClient(live.mqtt_url, gpk, gdk, gateway["deviceSecret"])
    seen: list[list[str]] = []

    def handler(message: Any, args: list[str]) -> Any:
        seen.append(list(args))
        return ServiceInvocationReply.builder().add_output_data("ok", True).set_code(200).build()

    client.register_arrived_message_handler(ServiceInvocationCommand.get_class(), handler)
    client.connect()
    try:
        add = TopoAddRequest.builder().add_sub_device(SubDeviceInfo(spk, sdk_key, ssecret)).build()
        assert client.publish(add).is_success()
        topo = client.publish(TopoGetRequest.builder().build())
        assert topo.is_success()
        assert [(d["productKey"], d["deviceKey"]) for d in topo.get_data()] == [(spk, sdk_key)]

        login = SubDeviceLoginRequest.builder().set_sub_device_info(spk, sdk_key, ssecret).build()
        assert client.publish(login).is_success()
        assert live.status(sub["assetId"]) == "online"

        post = (
            MeasurepointPostRequest.builder().set_product_key(spk).set_device_key(sdk_key)
            .add_measurepoint("temp", 3).build()
        )  # fmt: skip
        assert client.publish(post).is_success()
        assert live.device(spk, sdk_key)["attrs"]["measurepoints"]["temp"]["value"] == 3

        url = commands_url("invokeService", assetId=sub["assetId"], serviceId="ping")
        body = live.http.post(url, json={"inputData": {}}, headers=HEADERS).json()
        assert body["data"]["outputData"] == {"ok": True}, body
        assert seen == [[spk, sdk_key, "ping"]]

        logout = (
            SubDeviceLogoutRequest.builder().set_sub_product_key(spk).set_sub_device_key(sdk_key)
            .build()
        )  # fmt: skip
        assert client.publish(logout).is_success()
        assert live.status(sub["assetId"]) == "offline"
    finally:
        client.close()


def test_a_sub_device_login_with_a_wrong_secret_is_refused(live: Live) -> None:
    gateway = live.create_device()
    sub = live.create_device()
    client = connect(live, gateway["productKey"], gateway["deviceKey"], gateway["deviceSecret"])
    try:
        add = (
            TopoAddRequest.builder()
            .add_sub_device(SubDeviceInfo(sub["productKey"], sub["deviceKey"], "wrong"))
            .build()
        )
        response = client.publish(add)
        assert not response.is_success()
        login = (
            SubDeviceLoginRequest.builder()
            .set_sub_device_info(sub["productKey"], sub["deviceKey"], "wrong")
            .build()
        )
        assert not client.publish(login).is_success()
        assert live.status(sub["assetId"]) == "inactive"
    finally:
        client.close()
