"""Two emulator processes on one PostgreSQL: a command invoked through one reaches a device
connected to the other's listener (the database is the one truth). Skipped, with the reason,
without PostgreSQL."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from enos.core.MqttClient import MqttClient
from enos.message.downstream.tsl.ServiceInvocationCommand import ServiceInvocationCommand
from enos.message.downstream.tsl.ServiceInvocationReply import ServiceInvocationReply

from tests.conftest import drop_schemas, postgresql_schema, postgresql_skip_reason
from tests.processes import stop
from tests.scale.test_multiprocess import serve
from tests.vendors.enos.helpers import HEADERS, devices_url
from tests.vendors.enos.mqtt.conftest import SDK_WARNINGS
from tests.vendors.enos.mqtt.test_commands import commands_url
from tests.vendors.enos.mqtt.test_login import WAIT_S

pytestmark = SDK_WARNINGS
SCHEMA = f"emu_mqtt_{os.getpid()}"


@pytest.fixture
def two_processes(tmp_path: Path) -> Iterator[list[tuple[httpx.Client, str]]]:
    """Both processes' HTTP clients and MQTT URLs (each has its own listener port)."""
    reason = postgresql_skip_reason()
    if reason is not None:
        pytest.skip(reason)
    db = postgresql_schema(SCHEMA)
    processes, clients = [], []
    try:
        for _ in range(2):
            url, process = serve(tmp_path, db)
            processes.append(process)
            http = httpx.Client(base_url=url, timeout=60)
            clients.append(http)
        listeners = [c.get("/_emulator/health").json()["listeners"][0]["url"] for c in clients]
        yield list(zip(clients, listeners, strict=True))
    finally:
        for http in clients:
            http.close()
        for process in processes:
            stop(process)
        drop_schemas(SCHEMA)


def test_a_command_through_one_process_reaches_a_device_on_the_other(
    two_processes: list[tuple[httpx.Client, str]],
) -> None:
    (first, first_mqtt), (second, _) = two_processes
    body = {"productKey": "Vu82Agp3", "timezone": "+08:00", "deviceName": {"defaultValue": "x"}}
    device = first.post(devices_url("create"), json=body, headers=HEADERS).json()["data"]
    pk, dk = device["productKey"], device["deviceKey"]

    # A cached command through the second process, before the device ever connected.
    cached = commands_url("invokeService", productKey=pk, deviceKey=dk, serviceId="echo",
                          pendingTtl="600")  # fmt: skip
    assert second.post(cached, json={"inputData": {"n": 1}}, headers=HEADERS).json()["code"] == 0

    seen: list[Any] = []
    arrived = threading.Event()

    def handler(message: Any, args: list[str]) -> Any:
        seen.append(message.get_params())
        arrived.set()
        return (
            ServiceInvocationReply.builder().add_output_data("n", message.get_params()["n"])
            .set_code(200).build()
        )  # fmt: skip

    client = MqttClient(first_mqtt, pk, dk, device["deviceSecret"])
    client.register_arrived_message_handler(ServiceInvocationCommand.get_class(), handler)
    client.connect()  # to the first process's listener
    try:
        assert arrived.wait(WAIT_S), "the cached command never arrived"
        instant = commands_url("invokeService", productKey=pk, deviceKey=dk, serviceId="echo",
                               timeout="10")  # fmt: skip
        answer = second.post(instant, json={"inputData": {"n": 2}}, headers=HEADERS).json()
        assert answer["code"] == 0, answer
        assert answer["data"]["outputData"] == {"n": 2}
        assert seen == [{"n": 1}, {"n": 2}]
    finally:
        client.close()
