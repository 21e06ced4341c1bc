"""Determinism: ``POST /_emulator/seed``; the same seed and requests give the same ids."""

from __future__ import annotations

from typing import Any

from tests.conftest import Client
from tests.control.helpers import create_body, create_device
from tests.vendors.enos.helpers import HEADERS, devices_url


def generated(client: Client) -> list[dict[str, Any]]:
    """Two devices with generated keys, secrets and asset ids."""
    return [create_device(client)["data"] for _ in range(2)]


def test_the_same_seed_gives_the_same_keys_secrets_and_ids(client: Client) -> None:
    client.post("/_emulator/seed", json={"seed": 99})
    first = generated(client)
    client.post("/_emulator/reset")
    client.post("/_emulator/seed", json={"seed": 99})
    second = generated(client)

    assert first == second
    assert first[0]["deviceKey"] != first[1]["deviceKey"]


def test_a_reset_restarts_the_ids_of_a_seeded_namespace(client: Client) -> None:
    client.post("/_emulator/seed", json={"seed": 5})
    client.post("/_emulator/reset")
    first = generated(client)
    client.post("/_emulator/reset")

    assert generated(client) == first


def test_the_same_seed_gives_the_same_ids_in_any_namespace(
    client: Client, root_client: Client, namespace: str
) -> None:
    twin = {"X-Emulator-Namespace": f"{namespace}-twin"}
    client.post("/_emulator/seed", json={"seed": 7})
    root_client.post("/_emulator/seed", json={"seed": 7}, headers=twin)

    mine = create_device(client)["data"]
    theirs = root_client.post(
        devices_url("create"), json=create_body(), headers={**HEADERS, **twin}
    ).json()["data"]

    assert mine == theirs


def test_different_seeds_give_different_keys(client: Client) -> None:
    client.post("/_emulator/seed", json={"seed": 1})
    first = generated(client)
    client.post("/_emulator/reset")
    client.post("/_emulator/seed", json={"seed": 2})

    assert generated(client) != first


def test_seed_answers_what_it_set(client: Client, namespace: str) -> None:
    assert client.post("/_emulator/seed", json={"seed": 3}).json() == {
        "namespace": namespace,
        "seed": 3,
    }


def test_seed_must_be_an_integer_or_null(client: Client) -> None:
    assert client.post("/_emulator/seed", json={"seed": "abc"}).status_code == 400
    # Not numbers, though Python would take them for one.
    assert client.post("/_emulator/seed", json={"seed": False}).status_code == 400
    assert client.post("/_emulator/seed", json={"seed": 3.0}).status_code == 400
    assert client.post("/_emulator/seed", json={}).status_code == 400
