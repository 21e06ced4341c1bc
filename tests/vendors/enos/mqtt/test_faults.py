"""Faults on the MQTT side (``POST /_emulator/faults`` on ``enos.mqtt.*``), seen by the
official EnOS device SDK: a refused login, a reply answering a code, delayed, or never sent,
and a dropped connection; and the MQTT operations in the coverage report."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from typing import Any

import paho.mqtt.client as paho
import pytest
from enos.core.MqttClient import MqttClient
from enos.message.upstream.tsl.MeasurepointPostRequest import MeasurepointPostRequest

from tests.vendors.enos.mqtt.conftest import SDK_WARNINGS, Live, LogEvent
from tests.vendors.enos.mqtt.test_login import (
    WAIT_S,
    _Callbacks,
    _connack,
    connect,
    paho_client,
    wait_for,
)

pytestmark = SDK_WARNINGS
POST = "enos.mqtt.measurepoint_post"


class SdkLog(logging.Handler):
    """Every message the SDK logs (it reports a refused login, a lost connection and a reply
    nobody waits for only there)."""

    def __init__(self) -> None:
        super().__init__()
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@pytest.fixture
def sdk_log() -> Iterator[SdkLog]:
    handler = SdkLog()
    logger = logging.getLogger("enos")
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)


@pytest.fixture
def log_event() -> Iterator[Any]:
    """``log_event(text)``: an event set when the SDK logs a message containing ``text``."""
    handlers: list[LogEvent] = []
    logger = logging.getLogger("enos")

    def watch(text: str) -> threading.Event:
        handler = LogEvent(text)
        handlers.append(handler)
        logger.addHandler(handler)
        return handler.event

    yield watch
    for handler in handlers:
        logger.removeHandler(handler)


def arm(live: Live, **rule: Any) -> dict[str, Any]:
    answer = live.http.post("/_emulator/faults", json=rule)
    assert answer.status_code == 201, answer.text
    armed: dict[str, Any] = answer.json()
    return armed


def journal(live: Live, operation: str) -> list[dict[str, Any]]:
    answer = live.http.get("/_emulator/requests", params={"operation": operation})
    entries: list[dict[str, Any]] = answer.json()["requests"]
    return entries


def point(value: float) -> Any:
    return MeasurepointPostRequest.builder().add_measurepoint("temp", value).build()


def stop(client: MqttClient) -> None:
    """Close the SDK's client, and stop the paho loop it leaves running after a lost
    connection (paho retries on its own; the SDK's close only stops a connected one)."""
    underlying = client._MqttClient__connection._MqttConnection__paho_client
    if underlying is not None:
        underlying.loop_stop()
    client.close()


def test_a_login_fault_refuses_with_connack_3_for_its_device_only(
    live: Live, log_event: Any
) -> None:
    refused, other = live.create_device(), live.create_device()
    rule = arm(live, operation="enos.mqtt.login", code=3, deviceKey=refused["deviceKey"])
    seen = log_event("error code: 3")
    client = MqttClient(live.mqtt_url, refused["productKey"], refused["deviceKey"],
                        refused["deviceSecret"])  # fmt: skip
    try:
        client.connect(_Callbacks())
        assert seen.wait(WAIT_S), "the SDK never saw CONNACK 3"
        assert not client.is_connected()
    finally:
        stop(client)
    # The right secret, still refused: the fault answers before the credentials are checked.
    assert _connack(live, refused["productKey"], refused["deviceKey"],
                    refused["deviceSecret"]) == 3  # fmt: skip
    assert _connack(live, other["productKey"], other["deviceKey"], other["deviceSecret"]) == 0
    assert live.status(refused["assetId"]) == "inactive"
    entries = journal(live, "enos.mqtt.login")
    faulted = [e for e in entries if e["faultId"] == rule["id"]]
    assert faulted
    assert all((e["vendorCode"], e["injected"]) == (3, True) for e in faulted)


def test_a_login_fault_dropping_the_connection_sends_no_connack(live: Live) -> None:
    device = live.create_device()
    pk, dk = device["productKey"], device["deviceKey"]
    arm(live, operation="enos.mqtt.login", action="dropConnection", times=1)
    events: list[str] = []
    closed = threading.Event()

    def on_disconnect(_client: paho.Client, _userdata: object, _rc: int) -> None:
        events.append("closed")
        closed.set()

    client = paho_client(live, pk, dk, device["deviceSecret"])
    client.on_connect = lambda _c, _u, _f, rc: events.append(f"CONNACK {rc}")
    client.on_disconnect = on_disconnect
    client.connect("127.0.0.1", live.mqtt_port)
    client.loop_start()
    try:
        assert closed.wait(WAIT_S), "the connection stayed open"
    finally:
        client.loop_stop()
    assert events[0] == "closed"  # paho may have logged in again since: the rule fired once
    (entry,) = journal(live, "enos.mqtt.login")
    assert (entry["vendorCode"], entry["injected"]) == (None, True)
    # The rule fired once: the next login goes through.
    assert _connack(live, pk, dk, device["deviceSecret"]) == 0


def test_a_reply_fault_answers_a_documented_code(live: Live) -> None:
    device = live.create_device()
    pk, dk = device["productKey"], device["deviceKey"]
    rule = arm(live, operation=POST, code=1220, times=1)
    client = connect(live, pk, dk, device["deviceSecret"])
    try:
        response = client.publish(point(1))
        assert (response.is_success(), response.get_code()) == (False, 1220)
        assert client.publish(point(2)).is_success()
    finally:
        client.close()
    first, second = sorted(journal(live, POST), key=lambda e: e["id"])
    assert (first["vendorCode"], first["injected"], first["faultId"]) == (1220, True, rule["id"])
    assert (second["vendorCode"], second["injected"]) == (200, False)
    # The faulted post was not handled: only the second value is kept.
    assert live.device(pk, dk)["attrs"]["measurepoints"]["temp"]["value"] == 2


def test_a_delayed_reply_arrives(live: Live) -> None:
    device = live.create_device()
    rule = arm(live, operation=POST, latencyMs=300, deviceKey=device["deviceKey"])
    client = connect(live, device["productKey"], device["deviceKey"], device["deviceSecret"])
    try:
        response = client.publish(point(21.5))
        assert response.is_success(), response.get_message()
    finally:
        client.close()
    (entry,) = journal(live, POST)
    assert (entry["vendorCode"], entry["faultId"], entry["injected"]) == (200, rule["id"], False)


def test_a_dropped_reply_never_arrives_while_the_next_one_does(live: Live, sdk_log: SdkLog) -> None:
    device = live.create_device()
    pk, dk = device["productKey"], device["deviceKey"]
    client = connect(live, pk, dk, device["deviceSecret"])
    try:
        # The SDK subscribes to the reply topic before its first request of a kind.
        assert client.publish(point(1)).is_success()
        rule = arm(live, operation=POST, action="dropReply", times=1)
        dropped = point(2)
        client.fast_publish(dropped)  # a reply to it would be logged: nobody waits for it
        assert client.publish(point(3)).is_success()
    finally:
        client.close()
    # Replies leave in order on one connection: the dropped one would have come first.
    unclaimed = [m for m in sdk_log.messages if m.endswith(f"message id: {dropped.get_id()}")]
    assert unclaimed == []
    entries = sorted(journal(live, POST), key=lambda e: e["id"])
    assert [e["vendorCode"] for e in entries] == [200, None, 200]
    assert (entries[1]["faultId"], entries[1]["response"]) == (rule["id"], None)
    # The platform handled the message: only its reply was lost.
    history = live.device(pk, dk)["attrs"]["measurepointHistory"]
    assert [h["measurepoints"]["temp"] for h in history] == [1, 2, 3]


def test_a_dropped_connection_is_seen_by_the_sdk_and_takes_the_device_offline(
    live: Live, log_event: Any
) -> None:
    device = live.create_device()
    pk, dk = device["productKey"], device["deviceKey"]
    client = connect(live, pk, dk, device["deviceSecret"])
    try:
        wait_for(lambda: live.status(device["assetId"]) == "online", "online")
        # paho reconnects on its own: refuse it, so the device stays offline.
        arm(live, operation="enos.mqtt.login", code=3, deviceKey=dk)
        arm(live, operation=POST, action="dropConnection", deviceKey=dk, times=1)
        lost = log_event("bad disconnection")
        client.fast_publish(point(1))
        assert lost.wait(WAIT_S), "the SDK never saw the connection drop"
        wait_for(lambda: live.status(device["assetId"]) == "offline", "offline after the drop")
    finally:
        stop(client)
    (entry,) = journal(live, POST)
    assert (entry["vendorCode"], entry["injected"], entry["response"]) == (None, True, None)
    assert "measurepoints" not in live.device(pk, dk)["attrs"]


def test_mqtt_operations_are_counted_in_the_coverage_report(live: Live) -> None:
    device = live.create_device()
    pk, dk = device["productKey"], device["deviceKey"]
    assert _connack(live, pk, dk, "wrong") == 5
    client = connect(live, pk, dk, device["deviceSecret"])
    try:
        assert client.publish(point(1)).is_success()
        arm(live, operation=POST, action="dropReply", times=1)
        client.fast_publish(point(2))
        arm(live, operation=POST, code=1009, times=1)
        assert client.publish(point(3)).get_code() == 1009
    finally:
        client.close()
    report = live.http.get("/_emulator/coverage", params={"vendor": "enos"}).json()
    called = {op["id"]: op for op in report["operations"]}
    login = called["enos.mqtt.login"]
    assert (login["requests"], login["successes"], login["dropped"]) == (2, 1, 0)
    assert [c["code"] for c in login["seen"]] == [5]
    assert login["neverSeenFaultOnly"] == [3]
    post = called[POST]
    assert (post["requests"], post["successes"], post["dropped"]) == (3, 1, 1)
    assert post["seen"] == [{"code": 1009, "requests": 1, "injected": 1, "faultOnly": False}]
    assert post["undocumented"] == []
    not_called = {op["id"] for op in report["notCalled"]}
    assert {"enos.mqtt.event_post", "enos.mqtt.combine_login"} <= not_called
