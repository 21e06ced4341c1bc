"""Invoke Service and Set Measurement Point reach a device logged in with the official SDK
(ENOS-DEVICES.md §4): an instant command returns the device's output; a cached one is
delivered on the next login; an offline device gets 11721."""

from __future__ import annotations

import threading
from typing import Any
from urllib.parse import urlencode

from enos.core.MqttClient import MqttClient
from enos.message.downstream.tsl.MeasurepointSetCommand import MeasurepointSetCommand
from enos.message.downstream.tsl.MeasurepointSetReply import MeasurepointSetReply
from enos.message.downstream.tsl.ServiceInvocationCommand import ServiceInvocationCommand
from enos.message.downstream.tsl.ServiceInvocationReply import ServiceInvocationReply

from tests.vendors.enos.helpers import HEADERS, ORG
from tests.vendors.enos.mqtt.conftest import SDK_WARNINGS, Live
from tests.vendors.enos.mqtt.test_login import WAIT_S, wait_for

pytestmark = SDK_WARNINGS


def commands_url(action: str, **query: str) -> str:
    return "/connect-service/v2.1/commands?" + urlencode({"action": action, "orgId": ORG, **query})


def multiply(client: MqttClient, seen: list[dict[str, Any]]) -> threading.Event:
    """The SDK's own sample handler: service ``multiply`` answers ``result = left * right``."""
    arrived = threading.Event()

    def handler(message: Any, args: list[str]) -> Any:
        seen.append({"service": args[2], "params": message.get_params()})
        arrived.set()
        params = message.get_params()
        return (
            ServiceInvocationReply.builder()
            .add_output_data("result", params["left"] * params["right"])
            .set_code(200)
            .build()
        )

    client.register_arrived_message_handler(ServiceInvocationCommand.get_class(), handler)
    return arrived


def test_invoke_service_returns_the_output_of_the_sdk_handler(live: Live) -> None:
    device = live.create_device()
    pk, dk = device["productKey"], device["deviceKey"]
    client = MqttClient(live.mqtt_url, pk, dk, device["deviceSecret"])
    seen: list[dict[str, Any]] = []
    multiply(client, seen)
    client.connect()
    try:
        url = commands_url("invokeService", productKey=pk, deviceKey=dk, serviceId="multiply")
        answer = live.http.post(url, json={"inputData": {"left": 6, "right": 7}}, headers=HEADERS)
        body = answer.json()
        assert body["code"] == 0, body
        assert body["data"]["outputData"] == {"result": 42}
        assert seen == [{"service": "multiply", "params": {"left": 6, "right": 7}}]
        ticket = live.http.get(f"/_emulator/commands/{body['data']['commandId']}").json()
        assert ticket["state"] == "succeeded"
        assert ticket["operation"] == "enos.connect.invoke_service"
    finally:
        client.close()


def test_an_instant_command_to_an_offline_device_gets_11721(live: Live) -> None:
    device = live.create_device()
    url = commands_url("invokeService", assetId=device["assetId"], serviceId="multiply")
    body = live.http.post(url, json={"inputData": {}}, headers=HEADERS).json()
    assert body["code"] == 11721


def test_an_unknown_device_gets_11404(live: Live) -> None:
    url = commands_url("invokeService", productKey="Vu82Agp3", deviceKey="nope", serviceId="x")
    assert live.http.post(url, json={}, headers=HEADERS).json()["code"] == 11404


def test_a_device_that_never_replies_times_out(live: Live) -> None:
    device = live.create_device()
    pk, dk = device["productKey"], device["deviceKey"]
    client = MqttClient(live.mqtt_url, pk, dk, device["deviceSecret"])
    arrived = threading.Event()
    client.register_arrived_message_handler(
        ServiceInvocationCommand.get_class(), lambda message, args: arrived.set()
    )  # answers nothing
    client.connect()
    try:
        url = commands_url("invokeService", productKey=pk, deviceKey=dk, serviceId="slow",
                           timeout="1")  # fmt: skip
        body = live.http.post(url, json={"inputData": {}}, headers=HEADERS).json()
        assert arrived.is_set()
        assert body["code"] == 99408
        tickets = live.http.get("/_emulator/commands", params={"deviceKey": dk}).json()
        assert [t["state"] for t in tickets["commands"]] == ["failed"]
    finally:
        client.close()


def test_a_cached_command_is_delivered_on_the_next_login(live: Live) -> None:
    device = live.create_device()
    pk, dk = device["productKey"], device["deviceKey"]
    url = commands_url("invokeService", productKey=pk, deviceKey=dk, serviceId="multiply",
                       pendingTtl="600")  # fmt: skip
    body = live.http.post(url, json={"inputData": {"left": 2, "right": 3}}, headers=HEADERS)
    ticket = body.json()["data"]["commandId"]
    assert "outputData" not in body.json()["data"]
    assert live.http.get(f"/_emulator/commands/{ticket}").json()["state"] == "cached"

    client = MqttClient(live.mqtt_url, pk, dk, device["deviceSecret"])
    seen: list[dict[str, Any]] = []
    arrived = multiply(client, seen)
    client.connect()
    try:
        assert arrived.wait(WAIT_S), "the cached command never arrived"
        assert seen == [{"service": "multiply", "params": {"left": 2, "right": 3}}]
        wait_for(
            lambda: live.http.get(f"/_emulator/commands/{ticket}").json()["state"] == "succeeded",
            "the device's reply",
        )
        assert live.http.get(f"/_emulator/commands/{ticket}").json()["result"]["data"] == {
            "result": 6
        }
    finally:
        client.close()


def test_set_measurepoint_reaches_the_sdk_handler(live: Live) -> None:
    device = live.create_device()
    pk, dk = device["productKey"], device["deviceKey"]
    client = MqttClient(live.mqtt_url, pk, dk, device["deviceSecret"])
    seen: list[Any] = []

    def handler(message: Any, args: list[str]) -> Any:
        seen.append(message.get_params())
        return MeasurepointSetReply.builder().set_code(200).build()

    client.register_arrived_message_handler(MeasurepointSetCommand.get_class(), handler)
    client.connect()
    try:
        url = commands_url("setMeasurepoint", productKey=pk, deviceKey=dk)
        body = live.http.post(url, json={"measurepoints": {"power": 5}}, headers=HEADERS).json()
        assert body["code"] == 0, body
        assert seen == [{"power": 5}]
    finally:
        client.close()
