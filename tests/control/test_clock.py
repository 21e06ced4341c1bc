"""The emulator clock: ``GET/POST/DELETE /_emulator/clock``.

The clock is one for the whole emulator (every namespace), so these tests use an emulator of
their own and release the clock when they end.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from tests.conftest import Client, ClientFactory
from tests.control.helpers import CREATE, create_device
from tests.vendors.enos.helpers import token_body

TOKEN_URL = "/apim-token-service/v2.0/token/get"
NOV_2026 = int(datetime(2026, 11, 1, 8, 0, tzinfo=UTC).timestamp() * 1000)


@pytest.fixture
def clock_client(make_client: ClientFactory) -> Iterator[Client]:
    # A distinct setting gives this module an emulator of its own: its clock moves alone.
    client = make_client(journal_size=4_321)
    yield client
    client.delete("/_emulator/clock")


def test_freeze_at_an_iso_time_stops_the_clock_there(clock_client: Client) -> None:
    frozen = clock_client.post("/_emulator/clock", json={"freeze": "2026-11-01T08:00:00Z"})

    assert frozen.json() == {"nowMs": NOV_2026, "now": "2026-11-01T08:00:00.000Z", "frozen": True}
    assert clock_client.get("/_emulator/clock").json()["nowMs"] == NOV_2026


def test_freeze_at_epoch_ms_then_advance_by_seconds(clock_client: Client) -> None:
    clock_client.post("/_emulator/clock", json={"freeze": NOV_2026})

    advanced = clock_client.post("/_emulator/clock", json={"advance": 90 * 86_400})

    assert advanced.json()["nowMs"] == NOV_2026 + 90 * 86_400_000


def test_advance_without_freeze_shifts_real_time(clock_client: Client) -> None:
    before = clock_client.get("/_emulator/clock").json()["nowMs"]

    shifted = clock_client.post("/_emulator/clock", json={"advance": 3600}).json()

    assert shifted["frozen"] is False
    assert shifted["nowMs"] >= before + 3_600_000


def test_delete_clock_goes_back_to_real_time(clock_client: Client) -> None:
    clock_client.post("/_emulator/clock", json={"freeze": NOV_2026})

    released = clock_client.delete("/_emulator/clock").json()

    assert released["frozen"] is False
    assert released["nowMs"] > NOV_2026 + 86_400_000  # this test runs after November 2026


def test_timestamps_of_created_devices_read_the_clock(clock_client: Client) -> None:
    clock_client.post("/_emulator/clock", json={"freeze": NOV_2026})
    create_device(clock_client, "clocked")

    listed = clock_client.get("/_emulator/devices", params={"vendor": "enos"}).json()["devices"]

    assert [d["createdAt"] for d in listed if d["deviceKey"] == "clocked"] == [NOV_2026]


def test_token_expiry_reads_the_clock(clock_client: Client) -> None:
    clock_client.post("/_emulator/clock", json={"freeze": NOV_2026})
    first = clock_client.post(TOKEN_URL, json=token_body()).json()["data"]["accessToken"]
    again = clock_client.post(TOKEN_URL, json=token_body()).json()["data"]["accessToken"]

    clock_client.post("/_emulator/clock", json={"advance": 7_201})
    later = clock_client.post(TOKEN_URL, json=token_body()).json()["data"]["accessToken"]

    assert first == again
    assert later != first


def test_a_fault_ttl_counts_on_the_clock(clock_client: Client) -> None:
    clock_client.post("/_emulator/clock", json={"freeze": NOV_2026})
    clock_client.post(
        "/_emulator/faults", json={"operation": CREATE, "code": 11714, "ttlSeconds": 60}
    )

    clock_client.post("/_emulator/clock", json={"advance": 61})

    assert clock_client.get("/_emulator/faults").json()["faults"] == []


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"freeze": "next tuesday"},
        {"freeze": False},
        {"advance": "soon"},
        {"advance": False},
        {"advance": "60"},
        {"freze": 1},
    ],
)
def test_an_invalid_clock_change_returns_400(clock_client: Client, body: dict[str, object]) -> None:
    response = clock_client.post("/_emulator/clock", json=body)

    assert response.status_code == 400
    assert clock_client.get("/_emulator/clock").json()["frozen"] is False
