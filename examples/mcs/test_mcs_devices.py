"""The MCS example's tests: OAuth, registration by serial, reading the devices back."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from mcs_devices import McsClient, McsError

from emulator.client import EmulatorClient

PRODUCT = "s0000000301"
pytestmark = pytest.mark.iot_emulator_fixtures("sensors.yaml")


@pytest.fixture
def mcs(iot_emulator_url: str) -> Iterator[McsClient]:
    client = McsClient(
        iot_emulator_url,
        "sensorsApp01",
        "sensors-app-secret-01",
        "factory@sensors.example",
        "factory-pass-301",
    )
    yield client
    client.close()


def test_registered_sensors_read_back_with_their_credentials(
    mcs: McsClient, iot_emulator: EmulatorClient
) -> None:
    serials = [f"AQ-{n:05d}" for n in range(20)]

    credentials = mcs.register(PRODUCT, [f"sensor {s}" for s in serials], serials)
    devices = mcs.devices([c["deviceId"] for c in credentials])

    assert [d["name"] for d in devices] == [f"sensor {s}" for s in serials]
    assert [d["deviceKey"] for d in devices] == [c["deviceKey"] for c in credentials]
    assert {d["product"]["prodId"] for d in devices} == {PRODUCT}
    iot_emulator.verify("mcs.register_device", count=1, body_contains=serials[0])


def test_production_devices_without_serial_are_refused(mcs: McsClient) -> None:
    with pytest.raises(McsError) as refused:
        mcs.register(PRODUCT, ["no serial"])

    assert refused.value.status == 400


def test_client_logs_in_again_when_its_token_expires(
    mcs: McsClient, iot_emulator: EmulatorClient
) -> None:
    mcs.register(PRODUCT, ["first"], ["AQ-1"])

    iot_emulator.clock.advance(3601)  # the access token lives an hour
    mcs.register(PRODUCT, ["second"], ["AQ-2"])

    assert mcs.logins == 2


def test_a_sensor_that_heartbeats_shows_online(
    mcs: McsClient, iot_emulator: EmulatorClient
) -> None:
    device_id = mcs.register(PRODUCT, ["s"], ["AQ-3"])[0]["deviceId"]

    iot_emulator.device("mcs", PRODUCT, device_id).online()

    assert mcs.devices([device_id])[0]["isHeartbeating"] is True
