"""The Quectel example's tests: 500 devices registered with createBatch, a switch command
cached for them, and a simulated device that receives it when it comes online."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from quectel_fleet import DeviceManager, EndUserApp, QuectelError

from emulator.client import EmulatorClient

# The default fixtures' credentials (docs/default-state.md).
ACCESS_KEY = "demoAccessKey0001"
ACCESS_SECRET = "demo-access-secret-0001"
USER_DOMAIN = "E.SP.4294967001"
USER_DOMAIN_SECRET = "demoUserDomainSecret0001"
EMAIL = "demo.user@example.com"
PASSWORD = "china1234"
PRODUCT = "PK0001"
DEVICE_KEYS = [f"plug{n:04d}" for n in range(500)]


@pytest.fixture
def factory(iot_emulator_url: str) -> Iterator[DeviceManager]:
    client = DeviceManager(iot_emulator_url, ACCESS_KEY, ACCESS_SECRET)
    yield client
    client.close()


@pytest.fixture
def app(iot_emulator_url: str) -> Iterator[EndUserApp]:
    client = EndUserApp(iot_emulator_url, USER_DOMAIN, USER_DOMAIN_SECRET)
    client.login(EMAIL, PASSWORD)
    yield client
    client.close()


def bind_to_user(emulator: EmulatorClient, device_keys: list[str]) -> None:
    """The owner binds the plugs in the app (pairing is not part of the emulated APIs), so
    the test binds them through the control plane: strict auth only lets a user command
    devices bound to them."""
    devices = [{"productKey": PRODUCT, "deviceKey": dk} for dk in device_keys]
    emulator.load_fixtures(
        {
            "quectel": {
                "users": [
                    {
                        "email": EMAIL,
                        "password": PASSWORD,
                        "userDomain": USER_DOMAIN,
                        "devices": devices,
                    }
                ]
            }
        }
    )


def test_cached_switch_command_reaches_a_plug_when_it_comes_online(
    factory: DeviceManager, app: EndUserApp, iot_emulator: EmulatorClient
) -> None:
    secrets = factory.register_batch(PRODUCT, DEVICE_KEYS)
    bind_to_user(iot_emulator, DEVICE_KEYS)

    tickets = app.switch_on(PRODUCT, DEVICE_KEYS, cache_seconds=3600)

    assert len(secrets) == len(tickets) == 500
    iot_emulator.verify("quectel.devicemgr.create_batch", count=1)
    iot_emulator.verify("quectel.enduser.batch_control_device", count=5)
    plug = iot_emulator.device("quectel", PRODUCT, "plug0042")
    assert plug.commands() == []  # offline: the command waits in the cache
    assert iot_emulator.command(tickets["plug0042"])["state"] == "cached"

    plug.online()
    inbox = plug.commands(wait=5)

    assert [c["ticket"] for c in inbox] == [tickets["plug0042"]]
    assert inbox[0]["payload"]["data"] == '[{"switch": true}]'
    plug.ack(inbox[0]["ticket"])
    assert iot_emulator.command(tickets["plug0042"])["state"] == "succeeded"
    # The other plugs are still offline: their commands stay cached.
    assert iot_emulator.command(tickets["plug0043"])["state"] == "cached"


def test_cached_command_expires_for_a_plug_that_stays_offline(
    factory: DeviceManager, app: EndUserApp, iot_emulator: EmulatorClient
) -> None:
    factory.register_batch(PRODUCT, DEVICE_KEYS[:3])
    bind_to_user(iot_emulator, DEVICE_KEYS[:3])
    tickets = app.switch_on(PRODUCT, DEVICE_KEYS[:3], cache_seconds=60)

    iot_emulator.clock.advance(61)
    plug = iot_emulator.device("quectel", PRODUCT, DEVICE_KEYS[0])
    plug.online()

    assert plug.commands() == []
    assert iot_emulator.command(tickets[DEVICE_KEYS[0]])["state"] == "expired"


def test_a_device_the_platform_refuses_fails_the_registration(
    factory: DeviceManager, iot_emulator: EmulatorClient
) -> None:
    iot_emulator.arm_fault("quectel.devicemgr.create_batch", code=50000, device_key="plug0007")

    with pytest.raises(QuectelError, match="plug0007"):
        factory.register_batch(PRODUCT, DEVICE_KEYS[:10])


def test_commanding_a_plug_of_another_user_is_refused(
    factory: DeviceManager, app: EndUserApp
) -> None:
    factory.register_batch(PRODUCT, DEVICE_KEYS[:2])

    with pytest.raises(QuectelError) as refused:
        app.switch_on(PRODUCT, DEVICE_KEYS[:2], cache_seconds=60)

    assert refused.value.code == 5041
