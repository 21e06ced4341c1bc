"""The whole EnOS loop with both official libraries, unmodified: create device -> the device
logs in -> online -> measure point posted -> Invoke Service answered with the device's output
-> disconnect -> offline -> a cached command delivered at the next login; and DPS allocate ->
login -> connectStatus connected."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from enos_devices import BackOffice, Inverter

from emulator.config import Settings

AK = "5acb82e7-a11e-4300-9164-c8b20b638e8b"
SK = "0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0"


@pytest.fixture(scope="session")
def iot_emulator_settings() -> Settings:
    """enos-poseidon's access token is an RSA blob only the real API gateway can read: this
    module's emulator takes it in ``lenient`` auth (the other examples run ``strict``)."""
    return Settings(db=":memory:", seed=7, auth="lenient")


def eventually(check: Callable[[], bool], what: str, within_s: float = 30) -> None:
    """The registry follows the socket: poll until it shows ``what``."""
    deadline = time.monotonic() + within_s
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


@pytest.fixture
def office(iot_emulator_url: str) -> BackOffice:
    return BackOffice(iot_emulator_url, AK, SK, "o15475450989191")


def test_the_device_loop(office: BackOffice, iot_emulator_mqtt_url: str) -> None:
    created = office.create_device("Vu82Agp3", "inverter-1")
    asset = created["assetId"]
    inverter = Inverter(iot_emulator_mqtt_url, created["productKey"], created["deviceKey"],
                        created["deviceSecret"])  # fmt: skip
    inverter.start()
    try:
        eventually(lambda: office.device(asset)["status"] == "online", "online")
        assert inverter.report(power=3.5, temperature=41.0)
        answer = office.set_power(asset, 2.0)
        assert answer["outputData"] == {"appliedKw": 2.0}
        assert inverter.power_kw == 2.0
    finally:
        inverter.stop()
    eventually(lambda: office.device(asset)["status"] == "offline", "offline")

    cached = office.set_power(asset, 1.5, pending_ttl=3600)
    assert "outputData" not in cached
    inverter.commanded.clear()
    inverter.start()
    try:
        assert inverter.commanded.wait(10), "the cached command never arrived"
        assert inverter.commands == [2.0, 1.5]
    finally:
        inverter.stop()


def test_dps_allocation_then_login(office: BackOffice, iot_emulator_mqtt_url: str) -> None:
    dps = BackOffice(office.base_url, AK, SK, "yourOrgId")
    allocated = dps.allocate("yourSn")
    device = dps.device(allocated["deviceData"]["assetId"])
    inverter = Inverter(iot_emulator_mqtt_url, device["productKey"], device["deviceKey"],
                        device["deviceSecret"])  # fmt: skip
    inverter.start()
    try:
        eventually(lambda: dps.provisioning("yourSn")["connectStatus"] == "connected",
                   "connectStatus connected")  # fmt: skip
    finally:
        inverter.stop()
