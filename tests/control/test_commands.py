"""Device simulation on the control plane: a device's inbox (with long-poll), tickets, acks.

The command engine's rules are tested through the vendor API in
tests/vendors/quectel/test_enduser_batch_control_device.py; here, the endpoints themselves.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Client, ClientFactory
from tests.vendors.quectel.enduser_helpers import add_device, command_body, pkdk, send

INBOX = "/_emulator/devices/quectel/PK0001/{}/commands"


def ticket(client: Client, device_key: str, **changes: Any) -> str:
    body = send(client, command_body([pkdk(device_key)], **changes))
    assert body["code"] == 200, body
    assert body["data"]["failureList"] == [], body
    return str(body["data"]["successList"][0]["ticket"])


@pytest.fixture(scope="module")
def file_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A file database: requests from two threads at once need their own connections."""
    return str(Path(tmp_path_factory.mktemp("commands")) / "emulator.db")


class TestInbox:
    def test_inbox_of_unknown_device_returns_404(self, client: Client) -> None:
        response = client.get(INBOX.format("Nope"))

        assert response.status_code == 404
        assert "Nope" in response.json()["error"]["message"]

    def test_inbox_lists_received_commands_oldest_first_with_a_cursor(
        self, client: Client, emulators: Any, namespace: str
    ) -> None:
        add_device(emulators, namespace, "DK1", online=True)
        first, second = ticket(client, "DK1"), ticket(client, "DK1", data="[2]")

        everything = client.get(INBOX.format("DK1")).json()
        newer = client.get(INBOX.format("DK1"), params={"after": everything["commands"][0]["seq"]})

        assert [c["ticket"] for c in everything["commands"]] == [first, second]
        assert everything["lastSeq"] == everything["commands"][-1]["seq"]
        assert [c["ticket"] for c in newer.json()["commands"]] == [second]

    def test_long_poll_with_nothing_to_receive_answers_empty(
        self, client: Client, emulators: Any, namespace: str
    ) -> None:
        add_device(emulators, namespace, "DK1", online=True)

        body = client.get(INBOX.format("DK1"), params={"wait": 0.2}).json()

        assert (body["commands"], body["lastSeq"]) == ([], 0)

    def test_long_poll_returns_the_command_that_arrives_while_it_waits(
        self, make_client: ClientFactory, emulators: Any, namespace: str, file_db: str
    ) -> None:
        poller, sender = make_client(db=file_db), make_client(db=file_db)
        add_device(emulators, namespace, "DK1", online=True, db=file_db)
        sent: list[str] = []

        def send_later() -> None:
            time.sleep(0.3)  # ordering only: the poll is usually already waiting
            sent.append(ticket(sender, "DK1"))

        thread = threading.Thread(target=send_later)
        thread.start()
        # While this request waits, the server must go on serving the sender: a blocked event
        # loop would let the poll run out empty.
        body = poller.get(INBOX.format("DK1"), params={"wait": 20}).json()
        thread.join()

        assert [c["ticket"] for c in body["commands"]] == sent

    def test_wait_over_60_seconds_is_refused_in_control_plane_json(self, client: Client) -> None:
        response = client.get(INBOX.format("DK1"), params={"wait": 61})

        assert response.status_code == 400
        assert "error" in response.json()


class TestTickets:
    def test_ticket_shows_state_and_history_with_timestamps(
        self, client: Client, emulators: Any, namespace: str
    ) -> None:
        add_device(emulators, namespace, "DK1", online=False)
        t = ticket(client, "DK1", isCache=1, cacheTime=30)

        view = client.get(f"/_emulator/commands/{t}").json()

        assert (view["state"], view["vendor"], view["qos"]) == ("cached", "quectel", 1)
        assert view["operation"] == "quectel.enduser.batch_control_device"
        [entry] = view["history"]
        assert entry["state"] == "cached"
        assert view["expiresAt"] - entry["at"] == 30_000

    def test_unknown_ticket_returns_404_on_get_and_ack(self, client: Client) -> None:
        assert client.get("/_emulator/commands/nope").status_code == 404
        assert client.post("/_emulator/commands/nope/ack", json={}).status_code == 404

    def test_ack_without_body_counts_as_success(
        self, client: Client, emulators: Any, namespace: str
    ) -> None:
        add_device(emulators, namespace, "DK1", online=True)
        t = ticket(client, "DK1")

        assert client.post(f"/_emulator/commands/{t}/ack").json()["state"] == "succeeded"

    def test_second_ack_returns_409(self, client: Client, emulators: Any, namespace: str) -> None:
        add_device(emulators, namespace, "DK1", online=True)
        t = ticket(client, "DK1")
        client.post(f"/_emulator/commands/{t}/ack", json={"success": True})

        response = client.post(f"/_emulator/commands/{t}/ack", json={"success": False})

        assert response.status_code == 409
        assert client.get(f"/_emulator/commands/{t}").json()["state"] == "succeeded"

    def test_ack_of_a_cached_command_returns_409(
        self, client: Client, emulators: Any, namespace: str
    ) -> None:
        add_device(emulators, namespace, "DK1", online=False)
        t = ticket(client, "DK1", isCache=1, cacheTime=30)

        assert client.post(f"/_emulator/commands/{t}/ack").status_code == 409

    def test_ack_with_a_malformed_body_returns_400(
        self, client: Client, emulators: Any, namespace: str
    ) -> None:
        add_device(emulators, namespace, "DK1", online=True)
        t = ticket(client, "DK1")

        response = client.post(f"/_emulator/commands/{t}/ack", json={"success": "maybe"})

        assert response.status_code == 400

    def test_list_commands_filters_by_device_and_state(
        self, client: Client, emulators: Any, namespace: str
    ) -> None:
        add_device(emulators, namespace, "ON", online=True)
        add_device(emulators, namespace, "OFF", online=False)
        sent = ticket(client, "ON")
        cached = ticket(client, "OFF", isCache=1, cacheTime=30)

        every = client.get("/_emulator/commands").json()
        by_state = client.get("/_emulator/commands", params={"state": "cached"}).json()
        by_device = client.get("/_emulator/commands", params={"deviceKey": "ON"}).json()

        assert [c["ticket"] for c in every["commands"]] == [sent, cached]
        assert [c["ticket"] for c in by_state["commands"]] == [cached]
        assert by_device["total"] == 1

    def test_reset_clears_the_commands_of_the_namespace(
        self, client: Client, emulators: Any, namespace: str
    ) -> None:
        add_device(emulators, namespace, "DK1", online=True)
        t = ticket(client, "DK1")

        client.post("/_emulator/reset")

        assert client.get(f"/_emulator/commands/{t}").status_code == 404
