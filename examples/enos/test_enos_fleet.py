"""The EnOS example's tests: the client runs unchanged against the emulator's URL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from enos_fleet import EnosClient, EnosError

from emulator.client import EmulatorClient

# The default fixtures' APIM application (UUID-shaped, as the official client requires).
APP_KEY = "5acb82e7-a11e-4300-9164-c8b20b638e8b"
SECRET_KEY = "0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0"
ORG = "oSolarInstaller1"

# Every test here starts with the installer's organization of fleet.yaml.
pytestmark = pytest.mark.iot_emulator_fixtures("fleet.yaml")


@pytest.fixture
def enos(iot_emulator_url: str) -> Iterator[EnosClient]:
    client = EnosClient(iot_emulator_url, APP_KEY, SECRET_KEY, ORG)
    yield client
    client.close()


def test_provisioned_fleet_reads_back_with_its_master_data(
    enos: EnosClient, iot_emulator: EmulatorClient
) -> None:
    sns = enos.provision_fleet("gRooftop", "lyon-roof-3", [5, 8, 10, 12])

    fleet = enos.fleet("lyon-roof-3")

    assert [d["sn"] for d in fleet] == sorted(sns)
    assert sorted(d["capacity"] for d in fleet) == [5, 8, 10, 12]
    assert {d["status"] for d in fleet} == {"allocated"}
    assert {d["productKey"] for d in fleet} == {"PInverter1"}
    # One token for the whole run; one create, four allocations.
    iot_emulator.verify("enos.token.get", count=1)
    iot_emulator.verify("enos.dps.create", count=1, body_contains={"groupId": "gRooftop"})
    iot_emulator.verify("enos.dps.allocate", count=4)


def test_an_inverter_that_connects_shows_online(
    enos: EnosClient, iot_emulator: EmulatorClient
) -> None:
    enos.provision_fleet("gRooftop", "site-a", [7, 9])
    first = enos.fleet("site-a")[0]

    iot_emulator.device("enos", first["productKey"], first["deviceKey"]).online()

    fleet = enos.fleet("site-a")
    assert [(d["status"], d["online"]) for d in fleet] == [
        ("connected", True),
        ("allocated", False),
    ]


def test_wrong_master_data_type_is_refused(enos: EnosClient) -> None:
    sn = enos.call("/dps-service/v2.5/pvs/device", "create", {"groupId": "gRooftop", "count": 1})[0]

    with pytest.raises(EnosError) as refused:
        enos.call(
            "/dps-service/v2.5/pvs/device",
            "allocate",
            {"sn": sn, "deviceData": {"capacity": "big"}},
        )

    assert refused.value.code == 99400


def test_a_platform_outage_stops_the_provisioning(
    enos: EnosClient, iot_emulator: EmulatorClient
) -> None:
    iot_emulator.arm_fault("enos.dps.allocate", code=35603, times=1)

    with pytest.raises(EnosError) as refused:
        enos.provision_fleet("gRooftop", "site-b", [1, 2])

    assert refused.value.code == 35603
    assert enos.fleet("site-b") == []
