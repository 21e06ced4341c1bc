"""Quectel end-user Batch Control Devices: shared/vendor-docs/enduser-batchControlDevice.md.

With its token service (emailPwdLogin, refreshToken) and the userDeviceList companion
(REAL-CLIENTS.md §4), and the command engine seen through the device-simulation endpoints.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from emulator.core.errors import ErrorCode
from emulator.core.operations import OPERATIONS
from emulator.vendors.quectel.enduser.errors import (
    BatchControlError,
    DeviceListError,
    GenericError,
    LoginError,
    TokenError,
)
from tests.conftest import Client, ClientFactory
from tests.reached import reached_codes
from tests.shapes import load_sample, missing_paths, shape
from tests.vendors.quectel import devicemgr_helpers as devicemgr
from tests.vendors.quectel.enduser_helpers import (
    BATCH_CONTROL,
    DEVICE_LIST,
    EMAIL,
    GATEWAY_PRODUCT,
    HEADERS,
    LOGIN,
    PRODUCT,
    RANDOM,
    REFRESH,
    SAMPLES,
    access_token,
    add_device,
    bind,
    command_body,
    encrypt_pwd,
    login,
    login_params,
    pkdk,
    send,
    sign,
)

Advance = Callable[..., None]
BATCH_MESSAGES = {m.code: m.message for m in BatchControlError}
LOGIN_MESSAGES = {m.code: m.message for m in LoginError}


@pytest.fixture
def advance(emulators: Any) -> Iterator[Advance]:
    """Move the emulator clock forward (the clock is shared: it is put back afterwards)."""
    moved: list[tuple[Any, float]] = []

    def step(seconds: float, **overrides: Any) -> None:
        app, _ = emulators.get(**overrides)
        clock = app.state.emulator.clock
        clock.advance(seconds)
        moved.append((clock, seconds))

    yield step
    for clock, seconds in reversed(moved):
        clock.advance(-seconds)


@pytest.fixture
def device(emulators: Any, namespace: str) -> Callable[..., None]:
    def make(device_key: str, **kwargs: Any) -> None:
        add_device(emulators, namespace, device_key, **kwargs)

    return make


def ticket_of(client: Client, ticket: str) -> dict[str, Any]:
    response = client.get(f"/_emulator/commands/{ticket}")
    assert response.status_code == 200
    result: dict[str, Any] = response.json()
    return result


def inbox(client: Client, device_key: str, product_key: str = PRODUCT) -> list[dict[str, Any]]:
    response = client.get(f"/_emulator/devices/quectel/{product_key}/{device_key}/commands")
    assert response.status_code == 200
    items: list[dict[str, Any]] = response.json()["commands"]
    return items


def set_online(client: Client, device_key: str, online: bool, product_key: str = PRODUCT) -> None:
    state = "online" if online else "offline"
    response = client.post(f"/_emulator/devices/quectel/{product_key}/{device_key}/{state}")
    assert response.status_code == 200


def only_ticket(body: dict[str, Any]) -> str:
    assert body["code"] == 200, body
    assert body["data"]["failureList"] == []
    [entry] = body["data"]["successList"]
    return str(entry["ticket"])


def code(body: dict[str, Any]) -> tuple[int, str]:
    return body["code"], body["msg"]


# --- the doc sample -------------------------------------------------------------------------


class TestDocSample:
    def test_doc_sample_twin_on_create_batch_devices_succeeds_with_the_sample_shape(
        self, client: Client
    ) -> None:
        created = client.post(
            devicemgr.CREATE_BATCH,
            json=load_sample(SAMPLES / "devicemgr_create_batch.request.json"),
            headers=devicemgr.HEADERS,
        ).json()
        assert created["code"] == 200, created
        request = load_sample(SAMPLES / "enduser_batch_control_device.request.json")
        expected = load_sample(SAMPLES / "enduser_batch_control_device.response.json")

        body = send(client, request)

        assert code(body) == (200, "")
        assert missing_paths(shape(expected), body) == []
        [entry] = body["data"]["successList"]
        assert entry["data"] == request["deviceList"][0]
        assert len(entry["ticket"]) == 32

    def test_doc_sample_verbatim_holds_placeholder_type_0_and_returns_5071(
        self, client: Client
    ) -> None:
        body = send(client, load_sample(SAMPLES / "enduser_batch_control_device.doc-request.json"))

        assert code(body) == (5071, BatchControlError.TYPE_INVALID.message)
        assert body["data"] is None
        assert body["extMsg"] == ""

    def test_success_envelope_has_code_200_msg_data_and_ext_msg(
        self, client: Client, device: Callable[..., None]
    ) -> None:
        device("DK1", online=True)

        body = send(client, command_body([pkdk("DK1")]))

        assert set(body) == {"code", "msg", "data", "extMsg"}
        assert set(body["data"]) == {"successList", "failureList"}


# --- token and permission -------------------------------------------------------------------


class TestAuth:
    def test_batch_control_without_token_returns_5106(self, client: Client) -> None:
        response = client.post(BATCH_CONTROL, json=command_body([pkdk("DK1")]))

        assert response.status_code == 200
        assert code(response.json()) == (5106, "Please enter token")

    @pytest.mark.parametrize("auth", ["lenient", "strict"])
    # No whitespace around the values: an HTTP field value has none (`Bearer ` arrives as
    # `Bearer`), and over a socket httpx refuses to send it.
    @pytest.mark.parametrize("value", ["Bearer", "bearer", "BEARER"])
    def test_bearer_with_nothing_after_it_returns_5106(
        self, make_client: ClientFactory, auth: str, value: str
    ) -> None:
        # The token is what follows ``Bearer`` (sent with or without it): ``Bearer`` alone
        # carries none, as an absent header, so "Please enter token", not a malformed token.
        client = make_client(auth=auth)

        batch = send(client, command_body([pkdk("DK1")]), {"Authorization": value})
        listing = client.get(DEVICE_LIST, headers={"Authorization": value}).json()
        refresh = client.put(REFRESH, headers={"Authorization": value}).json()

        expected = (5106, "Please enter token")
        assert (code(batch), code(listing), code(refresh)) == (expected, expected, expected)

    def test_batch_control_with_malformed_token_returns_5032(self, client: Client) -> None:
        body = send(client, command_body([pkdk("DK1")]), {"Authorization": "Bearer not a jwt"})

        assert code(body) == (5032, "Token verification failed")

    def test_lenient_accepts_any_well_formed_token_with_or_without_bearer(
        self, client: Client, device: Callable[..., None]
    ) -> None:
        device("DK1", online=True)
        bare = HEADERS["Authorization"].removeprefix("Bearer ")

        with_prefix = send(client, command_body([pkdk("DK1")]))
        without = send(client, command_body([pkdk("DK1")]), {"Authorization": bare})

        assert (with_prefix["code"], without["code"]) == (200, 200)

    def test_auth_off_needs_no_token(self, make_client: ClientFactory) -> None:
        client = make_client(auth="off")

        body = client.post(BATCH_CONTROL, json=command_body([pkdk("NoSuchDevice")])).json()

        assert body["code"] == 200
        assert body["data"]["failureList"][0]["msg"] == "device does not exist"

    def test_strict_with_token_not_issued_by_the_emulator_returns_5032(
        self, make_client: ClientFactory
    ) -> None:
        client = make_client(auth="strict")

        assert send(client, command_body([pkdk("DK00001")]))["code"] == 5032

    def test_strict_with_issued_token_succeeds_with_or_without_bearer(
        self, make_client: ClientFactory, emulators: Any, namespace: str
    ) -> None:
        client = make_client(auth="strict")
        add_device(emulators, namespace, "DK00001", online=True, auth="strict")
        token = access_token(client)
        assert token.startswith("Bearer eyJ")

        first = send(client, command_body([pkdk("DK00001")]), {"Authorization": token})
        second = send(
            client, command_body([pkdk("DK00001")]), {"Authorization": token.split(" ", 1)[1]}
        )

        assert only_ticket(first) != only_ticket(second)

    def test_strict_with_expired_token_returns_5032(
        self, make_client: ClientFactory, advance: Advance
    ) -> None:
        client = make_client(auth="strict")
        token = access_token(client)

        advance(7201, auth="strict")

        body = send(client, command_body([pkdk("DK00001")]), {"Authorization": token})
        assert code(body) == (5032, "Token verification failed")

    def test_strict_on_device_not_bound_to_the_user_returns_5041(
        self, make_client: ClientFactory, emulators: Any, namespace: str
    ) -> None:
        client = make_client(auth="strict")
        add_device(emulators, namespace, "DK00001", online=True, auth="strict")
        add_device(emulators, namespace, "Stranger", online=True, auth="strict")
        token = access_token(client)

        body = send(
            client, command_body([pkdk("DK00001"), pkdk("Stranger")]), {"Authorization": token}
        )

        assert body["code"] == 5041
        assert body["msg"].startswith("No permission")
        assert inbox(client, "DK00001") == []

    def test_strict_binding_merged_through_the_control_plane_grants_the_device(
        self, make_client: ClientFactory, emulators: Any, namespace: str
    ) -> None:
        client = make_client(auth="strict")
        add_device(emulators, namespace, "Merged", online=True, auth="strict")
        headers = {"Authorization": access_token(client)}
        assert send(client, command_body([pkdk("Merged")]), headers)["code"] == 5041
        user = {
            "email": EMAIL, "password": "china1234", "userDomain": "E.SP.4294967001",
            "devices": [{"productKey": PRODUCT, "deviceKey": "Merged"}],
        }  # fmt: skip

        merged = client.post("/_emulator/fixtures", json={"quectel": {"users": [user]}})

        assert merged.status_code == 200, merged.text
        only_ticket(send(client, command_body([pkdk("Merged")]), headers))

    def test_strict_binding_added_later_grants_the_device(
        self, make_client: ClientFactory, emulators: Any, namespace: str
    ) -> None:
        client = make_client(auth="strict")
        add_device(emulators, namespace, "Later", online=True, auth="strict")
        bind(emulators, namespace, "Later", auth="strict")

        body = send(client, command_body([pkdk("Later")]), {"Authorization": access_token(client)})

        only_ticket(body)


# --- validation: every code of the table by real input ---------------------------------------


class TestValidation:
    @pytest.mark.parametrize(
        ("changes", "expected"),
        [
            ({"type": None}, 5070),
            ({"type": ""}, 5070),
            ({"type": 0}, 5071),
            ({"type": 4}, 5071),
            ({"type": "property"}, 5071),
            ({"type": True}, 5071),
            ({"type": 1, "dataFormat": None}, 5072),
            ({"type": 1, "dataFormat": 0}, 5073),
            ({"type": 1, "dataFormat": 3}, 5073),
            ({"data": None}, 5074),
            ({"data": ""}, 5074),
            ({"type": 1, "dataFormat": 2, "data": "x" * 4097}, 5075),
            ({"deviceList": None}, 5311),
            ({"deviceList": []}, 5311),
            ({"isCache": 0}, 5330),
            ({"isCache": 3}, 5330),
            ({"isCover": 0}, 5331),
            ({"isCache": 1, "cacheTime": None}, 5328),
            ({"isCache": 1, "cacheTime": 0}, 5329),
            ({"isCache": 1, "cacheTime": 7_776_001}, 5329),
            ({"isCache": 1, "cacheTime": "soon"}, 5329),
        ],
    )
    def test_invalid_field_returns_its_documented_code(
        self, client: Client, changes: dict[str, Any], expected: int
    ) -> None:
        body: dict[str, Any] = {
            "type": 2,
            "data": '[{"switch":true}]',
            "deviceList": [pkdk("DK1")],
            **changes,
        }
        body = {k: v for k, v in body.items() if v is not None}

        answer = send(client, body)

        assert answer["code"] == expected
        assert answer["msg"] == BATCH_MESSAGES[expected]
        assert answer["data"] is None

    def test_more_devices_than_the_default_limit_100_returns_5312(self, client: Client) -> None:
        devices = [pkdk(f"DK{i}") for i in range(101)]

        assert code(send(client, command_body(devices)))[0] == 5312

    def test_exactly_the_default_limit_of_100_devices_is_accepted(self, client: Client) -> None:
        devices = [pkdk(f"DK{i}") for i in range(100)]

        body = send(client, command_body(devices))

        assert body["code"] == 200
        assert len(body["data"]["failureList"]) == 100

    def test_device_limit_follows_the_batch_control_limit_setting(
        self, make_client: ClientFactory
    ) -> None:
        client = make_client(batch_control_limit=2)

        assert send(client, command_body([pkdk("a"), pkdk("b")]))["code"] == 200
        assert send(client, command_body([pkdk("a"), pkdk("b"), pkdk("c")]))["code"] == 5312

    def test_passthrough_of_exactly_4096_characters_is_accepted(
        self, client: Client, device: Callable[..., None]
    ) -> None:
        device("DK1", online=True)

        body = send(client, command_body([pkdk("DK1")], type=1, dataFormat=1, data="A" * 4096))

        only_ticket(body)

    def test_property_command_over_4096_characters_is_accepted(
        self, client: Client, device: Callable[..., None]
    ) -> None:
        device("DK1", online=True)

        only_ticket(send(client, command_body([pkdk("DK1")], data="[" + " " * 5000 + "]")))

    def test_data_format_0_with_type_2_is_accepted_as_a_real_client_sends_it(
        self, client: Client, device: Callable[..., None]
    ) -> None:
        device("DK1", online=True)
        body = command_body([pkdk("DK1")], dataFormat=0, isCache=1, isCover=1, cacheTime=60)

        only_ticket(send(client, body))

    def test_cache_time_is_not_required_when_the_cache_is_disabled(
        self, client: Client, device: Callable[..., None]
    ) -> None:
        device("DK1", online=True)

        only_ticket(send(client, command_body([pkdk("DK1")], isCache=2, cacheTime=0)))

    def test_numbers_sent_as_strings_are_read_like_the_platform_reads_them(
        self, client: Client, device: Callable[..., None]
    ) -> None:
        device("DK1", online=True)

        only_ticket(send(client, command_body([pkdk("DK1")], type="2", qos="0")))

    @pytest.mark.parametrize(
        "raw",
        [b"{not json", b"[1, 2]", b'"text"', b"\xff\xfe", b'{"type": 2, "data": 5}'],
    )
    def test_body_that_is_not_a_command_object_returns_50005(
        self, client: Client, raw: bytes
    ) -> None:
        response = client.post(
            BATCH_CONTROL, content=raw, headers={**HEADERS, "Content-Type": "application/json"}
        )

        assert response.status_code == 200
        body = response.json()
        assert body["code"] == 50005
        assert body["extMsg"] == ""

    def test_qos_out_of_range_returns_50005(self, client: Client) -> None:
        body = send(client, command_body([pkdk("DK1")], qos=2))

        assert body["code"] == 50005
        assert "qos" in body["msg"]

    @pytest.mark.parametrize(
        "device_list",
        [{"productKey": "PK0001"}, ["DK1"], [{"productKey": 1, "deviceKey": "DK1"}], "DK1"],
    )
    def test_malformed_device_list_answers_a_vendor_code_never_a_500(
        self, client: Client, device_list: Any
    ) -> None:
        response = client.post(
            BATCH_CONTROL,
            json={"type": 2, "data": "[]", "deviceList": device_list},
            headers=HEADERS,
        )

        assert response.status_code == 200
        assert response.json()["code"] == 50005

    def test_wrong_content_type_is_still_read_as_json(
        self, client: Client, device: Callable[..., None]
    ) -> None:
        device("DK1", online=True)
        raw = b'{"type":2,"data":"[]","deviceList":[{"productKey":"PK0001","deviceKey":"DK1"}]}'

        response = client.post(
            BATCH_CONTROL, content=raw, headers={**HEADERS, "Content-Type": "text/plain"}
        )

        assert only_ticket(response.json())

    def test_unknown_path_under_the_prefix_answers_in_the_quectel_envelope(
        self, client: Client
    ) -> None:
        body = client.post("/v2/binding/enduserapi/noSuchApi", json={}).json()

        assert body["code"] == 50005
        assert set(body) == {"code", "msg", "data", "extMsg"}


# --- the command engine, driven through the vendor API --------------------------------------


class TestCommands:
    def test_online_device_receives_the_command_at_once(
        self, client: Client, device: Callable[..., None]
    ) -> None:
        device("DK1", online=True)

        ticket = only_ticket(send(client, command_body([pkdk("DK1")], qos=1)))

        [received] = inbox(client, "DK1")
        assert received["ticket"] == ticket
        assert received["payload"] == {"type": 2, "dataFormat": None, "data": '[{"switch":true}]'}
        assert ticket_of(client, ticket)["state"] == "sent"

    def test_qos_1_command_waits_for_the_ack_then_succeeds(
        self, client: Client, device: Callable[..., None]
    ) -> None:
        device("DK1", online=True)
        ticket = only_ticket(send(client, command_body([pkdk("DK1")])))

        acked = client.post(
            f"/_emulator/commands/{ticket}/ack", json={"success": True, "payload": {"ok": 1}}
        ).json()

        assert acked["state"] == "succeeded"
        assert acked["result"] == {"ok": 1}
        assert [h["state"] for h in acked["history"]] == ["sent", "succeeded"]

    def test_qos_1_command_acked_with_failure_is_failed(
        self, client: Client, device: Callable[..., None]
    ) -> None:
        device("DK1", online=True)
        ticket = only_ticket(send(client, command_body([pkdk("DK1")], qos=1)))

        client.post(f"/_emulator/commands/{ticket}/ack", json={"success": False})

        assert ticket_of(client, ticket)["state"] == "failed"

    def test_qos_0_command_is_delivered_and_takes_no_ack(
        self, client: Client, device: Callable[..., None]
    ) -> None:
        device("DK1", online=True)
        ticket = only_ticket(send(client, command_body([pkdk("DK1")], qos=0)))

        response = client.post(f"/_emulator/commands/{ticket}/ack", json={"success": True})

        assert ticket_of(client, ticket)["state"] == "delivered"
        assert response.status_code == 409

    def test_offline_device_without_cache_goes_to_the_failure_list(
        self, client: Client, device: Callable[..., None]
    ) -> None:
        device("DK1", online=False)

        body = send(client, command_body([pkdk("DK1")], isCache=2))

        assert body["data"]["successList"] == []
        assert body["data"]["failureList"] == [
            {
                "data": {
                    "deviceKey": "DK1",
                    "gatewayDeviceKey": None,
                    "gatewayProductKey": None,
                    "productKey": "PK0001",
                },
                "msg": "device is offline",
            }
        ]

    def test_offline_device_with_cache_gets_the_command_when_it_comes_online(
        self, client: Client, device: Callable[..., None]
    ) -> None:
        device("DK1", online=False)
        ticket = only_ticket(send(client, command_body([pkdk("DK1")], isCache=1, cacheTime=60)))
        assert ticket_of(client, ticket)["state"] == "cached"
        assert inbox(client, "DK1") == []

        set_online(client, "DK1", True)

        assert [c["ticket"] for c in inbox(client, "DK1")] == [ticket]
        states = [h["state"] for h in ticket_of(client, ticket)["history"]]
        assert states == ["cached", "sent"]

    def test_cached_command_expires_after_cache_time_on_the_emulator_clock(
        self, client: Client, device: Callable[..., None], advance: Advance
    ) -> None:
        device("DK1", online=False)
        ticket = only_ticket(send(client, command_body([pkdk("DK1")], isCache=1, cacheTime=60)))
        cached = ticket_of(client, ticket)

        advance(61)
        set_online(client, "DK1", True)

        expired = ticket_of(client, ticket)
        assert expired["state"] == "expired"
        assert expired["history"][-1]["at"] == cached["expiresAt"]
        assert inbox(client, "DK1") == []

    def test_cached_command_within_cache_time_is_still_delivered(
        self, client: Client, device: Callable[..., None], advance: Advance
    ) -> None:
        device("DK1", online=False)
        ticket = only_ticket(send(client, command_body([pkdk("DK1")], isCache=1, cacheTime=60)))

        advance(59)
        set_online(client, "DK1", True)

        assert ticket_of(client, ticket)["state"] == "sent"

    def test_cover_supersedes_the_cached_identical_command(
        self, client: Client, device: Callable[..., None]
    ) -> None:
        device("DK1", online=False)
        body = command_body([pkdk("DK1")], isCache=1, isCover=1, cacheTime=600)
        first = only_ticket(send(client, body))
        second = only_ticket(send(client, body))

        set_online(client, "DK1", True)

        assert ticket_of(client, first)["state"] == "superseded"
        assert ticket_of(client, first)["history"][-1]["by"] == second
        assert [c["ticket"] for c in inbox(client, "DK1")] == [second]

    def test_cover_applies_to_the_same_device_listed_twice_in_one_batch(
        self, client: Client, device: Callable[..., None]
    ) -> None:
        device("DK1", online=False)
        body = command_body([pkdk("DK1"), pkdk("DK1")], isCache=1, isCover=1, cacheTime=600)
        first, second = (e["ticket"] for e in send(client, body)["data"]["successList"])

        set_online(client, "DK1", True)

        assert ticket_of(client, first)["state"] == "superseded"
        assert [c["ticket"] for c in inbox(client, "DK1")] == [second]

    def test_without_cover_every_cached_command_is_delivered_in_order(
        self, client: Client, device: Callable[..., None]
    ) -> None:
        device("DK1", online=False)
        body = command_body([pkdk("DK1")], isCache=1, isCover=2, cacheTime=600)
        tickets = [only_ticket(send(client, body)) for _ in range(2)]

        set_online(client, "DK1", True)

        assert [c["ticket"] for c in inbox(client, "DK1")] == tickets

    def test_cover_keeps_a_cached_command_with_other_data(
        self, client: Client, device: Callable[..., None]
    ) -> None:
        device("DK1", online=False)
        on = only_ticket(
            send(client, command_body([pkdk("DK1")], isCache=1, isCover=1, cacheTime=600))
        )
        off = command_body(
            [pkdk("DK1")], data='[{"switch":false}]', isCache=1, isCover=1, cacheTime=600
        )
        only_ticket(send(client, off))

        assert ticket_of(client, on)["state"] == "cached"

    def test_sub_device_is_reached_through_its_registered_gateway(
        self, client: Client, device: Callable[..., None]
    ) -> None:
        device("GW1", product_key=GATEWAY_PRODUCT, online=True)
        device("SUB1", online=False, gateway=(GATEWAY_PRODUCT, "GW1"))

        ticket = only_ticket(send(client, command_body([pkdk("SUB1")])))

        [via_gateway] = inbox(client, "GW1", GATEWAY_PRODUCT)
        assert via_gateway["ticket"] == ticket
        assert via_gateway["deviceKey"] == "SUB1"
        assert via_gateway["gateway"] == {"productKey": GATEWAY_PRODUCT, "deviceKey": "GW1"}
        assert [c["ticket"] for c in inbox(client, "SUB1")] == [ticket]

    def test_sub_device_behind_an_offline_gateway_fails_without_cache(
        self, client: Client, device: Callable[..., None]
    ) -> None:
        device("GW1", product_key=GATEWAY_PRODUCT, online=False)
        device("SUB1", online=True, gateway=(GATEWAY_PRODUCT, "GW1"))

        body = send(client, command_body([pkdk("SUB1")]))

        assert body["data"]["failureList"][0]["msg"] == "gateway device is offline"

    def test_gateway_named_in_the_request_carries_the_command_when_it_reconnects(
        self, client: Client, device: Callable[..., None]
    ) -> None:
        device("GW1", product_key=GATEWAY_PRODUCT, online=False)
        device("SUB1", online=False)
        target = pkdk("SUB1", gatewayProductKey=GATEWAY_PRODUCT, gatewayDeviceKey="GW1")
        ticket = only_ticket(send(client, command_body([target], isCache=1, cacheTime=60)))

        set_online(client, "SUB1", True)
        assert ticket_of(client, ticket)["state"] == "cached"
        set_online(client, "GW1", True, GATEWAY_PRODUCT)

        assert ticket_of(client, ticket)["state"] == "sent"
        assert [c["ticket"] for c in inbox(client, "GW1", GATEWAY_PRODUCT)] == [ticket]

    def test_unknown_gateway_goes_to_the_failure_list(
        self, client: Client, device: Callable[..., None]
    ) -> None:
        device("SUB1", online=True)
        target = pkdk("SUB1", gatewayProductKey=GATEWAY_PRODUCT, gatewayDeviceKey="Nope")

        body = send(client, command_body([target]))

        assert body["data"]["failureList"][0]["msg"] == "gateway device does not exist"

    def test_partial_success_in_one_batch_keeps_the_request_order(
        self, client: Client, device: Callable[..., None]
    ) -> None:
        device("ON1", online=True)
        device("OFF1", online=False)
        device("ON2", online=True)
        devices = [pkdk("ON1"), pkdk("Ghost"), pkdk("OFF1"), pkdk("ON2"), pkdk("")]

        data = send(client, command_body(devices))["data"]

        assert [e["data"]["deviceKey"] for e in data["successList"]] == ["ON1", "ON2"]
        assert [(e["data"]["deviceKey"], e["msg"]) for e in data["failureList"]] == [
            ("Ghost", "device does not exist"),
            ("OFF1", "device is offline"),
            ("", "productKey and deviceKey required"),
        ]
        tickets = {e["ticket"] for e in data["successList"]}
        assert len(tickets) == 2

    def test_commands_are_isolated_per_namespace(
        self, client: Client, device: Callable[..., None], emulators: Any
    ) -> None:
        device("DK1", online=True)
        ticket = only_ticket(send(client, command_body([pkdk("DK1")])))

        with emulators.client("other-ns-commands") as other:
            assert other.get(f"/_emulator/commands/{ticket}").status_code == 404


# --- fault injection ---------------------------------------------------------------------------


def arm(client: Client, **rule: Any) -> None:
    response = client.post("/_emulator/faults", json=rule)
    assert response.status_code == 201, response.text


class TestFaults:
    def test_batch_control_failed_5340_is_reachable_by_fault_injection(
        self, client: Client, device: Callable[..., None]
    ) -> None:
        device("DK1", online=True)
        arm(client, operation="quectel.enduser.batch_control_device", code=5340, times=1)

        failed = send(client, command_body([pkdk("DK1")]))
        after = send(client, command_body([pkdk("DK1")]))

        assert code(failed) == (5340, "Batch control devices failed")
        assert failed["extMsg"] == ""
        assert after["code"] == 200
        assert len(inbox(client, "DK1")) == 1

    def test_a_faulted_device_goes_to_the_failure_list_and_gets_no_command(
        self, client: Client, device: Callable[..., None]
    ) -> None:
        device("DK1", online=True)
        device("DK2", online=True)
        arm(client, operation="quectel.enduser.batch_control_device", code=5340, deviceKey="DK2")

        data = send(client, command_body([pkdk("DK1"), pkdk("DK2")]))["data"]

        assert [e["data"]["deviceKey"] for e in data["successList"]] == ["DK1"]
        assert [(e["data"]["deviceKey"], e["msg"]) for e in data["failureList"]] == [
            ("DK2", "Batch control devices failed")
        ]
        assert inbox(client, "DK2") == []

    def test_login_fault_only_code_is_injected_in_the_end_user_envelope(
        self, client: Client
    ) -> None:
        arm(client, operation="quectel.enduser.email_pwd_login", code=5104, times=1)

        body = client.post(LOGIN, data=login_params()).json()

        assert code(body) == (5104, "User domain disabled")
        assert body["extMsg"] == ""


# --- token service ---------------------------------------------------------------------------


class TestLogin:
    def test_email_pwd_login_returns_bearer_tokens_with_the_guide_shape(
        self, client: Client
    ) -> None:
        expected = load_sample(SAMPLES / "enduser_login.response.json")

        body = login(client)

        assert missing_paths(shape(expected), body) == []
        access, refresh = body["data"]["accessToken"], body["data"]["refreshToken"]
        assert access["token"].startswith("Bearer eyJ")
        assert refresh["expirationTime"] - access["expirationTime"] == 30 * 86400 - 7200

    def test_doc_example_encryption_is_the_one_the_emulator_decrypts(self) -> None:
        assert encrypt_pwd("china1234", "j1acpdj2bmtqZXVb") == "lkZMvj0KDSJXlp66jBieHA=="

    def test_login_accepts_query_parameters_as_the_doc_shows(self, client: Client) -> None:
        assert client.post(LOGIN, params=login_params()).json()["code"] == 200

    def test_login_accepts_a_json_body(self, client: Client) -> None:
        assert client.post(LOGIN, json=login_params()).json()["code"] == 200

    def test_login_accepts_the_android_newline_after_the_base64_pwd(self, client: Client) -> None:
        pwd = encrypt_pwd() + "\n"
        params = login_params(pwd=pwd, signature=sign(EMAIL, pwd, RANDOM))

        assert client.post(LOGIN, data=params).json()["code"] == 200

    @pytest.mark.parametrize(
        ("changes", "expected"),
        [
            ({"userDomain": None}, 5023),
            ({"userDomain": "not-a-domain"}, 5013),
            ({"email": None}, 5026),
            ({"email": "not-an-email"}, 5040),
            ({"pwd": None}, 5022),
            ({"signature": None}, 5550),
            ({"userDomain": "E.SP.1"}, 5015),
            ({"signature": "0" * 64}, 5420),
        ],
    )
    def test_login_with_bad_parameter_returns_its_documented_code(
        self, client: Client, changes: dict[str, Any], expected: int
    ) -> None:
        params = login_params(**changes)

        body = client.post(LOGIN, data=params).json()

        assert code(body) == (expected, LOGIN_MESSAGES[expected])
        assert body["data"] is None

    def test_login_with_unregistered_email_returns_5031(self, client: Client) -> None:
        params = login_params(email="nobody@example.com")

        assert client.post(LOGIN, data=params).json()["code"] == 5031

    def test_login_with_password_shorter_than_6_returns_5056(self, client: Client) -> None:
        params = login_params(password="abc")

        assert client.post(LOGIN, data=params).json()["code"] == 5056

    def test_login_with_pwd_that_does_not_decrypt_returns_5056(self, client: Client) -> None:
        pwd = "bm90IGFlcw=="
        params = login_params(pwd=pwd, signature=sign(EMAIL, pwd, RANDOM))

        assert client.post(LOGIN, data=params).json()["code"] == 5056

    def test_wrong_passwords_count_down_5586_5585_5584_5583_then_5147_freezes_the_account(
        self, client: Client, advance: Advance
    ) -> None:
        wrong = login_params(password="wrong-password")
        codes = [client.post(LOGIN, data=wrong).json()["code"] for _ in range(5)]

        assert codes == [5586, 5585, 5584, 5583, 5147]
        assert client.post(LOGIN, data=login_params()).json()["code"] == 5147
        advance(20 * 60 + 1)
        assert client.post(LOGIN, data=login_params()).json()["code"] == 200

    def test_successful_login_resets_the_wrong_password_count(self, client: Client) -> None:
        wrong = login_params(password="wrong-password")
        client.post(LOGIN, data=wrong)
        login(client)

        assert client.post(LOGIN, data=wrong).json()["code"] == 5586

    def test_login_token_service_checks_even_when_auth_is_off(
        self, make_client: ClientFactory
    ) -> None:
        client = make_client(auth="off")

        assert client.post(LOGIN, data=login_params(signature="bad")).json()["code"] == 5420

    def test_login_with_malformed_json_returns_50005(self, client: Client) -> None:
        response = client.post(
            LOGIN, content=b"{oops", headers={"Content-Type": "application/json"}
        )

        assert response.json()["code"] == 50005


class TestRefresh:
    def test_refresh_token_returns_a_new_access_token_that_works_in_strict_mode(
        self, make_client: ClientFactory, emulators: Any, namespace: str
    ) -> None:
        client = make_client(auth="strict")
        add_device(emulators, namespace, "DK00001", online=True, auth="strict")
        tokens = login(client)["data"]
        refresh = tokens["refreshToken"]["token"]

        body = client.put(REFRESH, params={"refreshToken": refresh}).json()

        assert body["code"] == 200
        fresh = body["data"]["accessToken"]["token"]
        assert fresh != tokens["accessToken"]["token"]
        assert body["data"]["refreshToken"]["token"] == refresh
        only_ticket(send(client, command_body([pkdk("DK00001")]), {"Authorization": fresh}))

    def test_refresh_token_in_a_form_or_the_authorization_header(self, client: Client) -> None:
        refresh = login(client)["data"]["refreshToken"]["token"]

        by_form = client.put(REFRESH, data={"refreshToken": refresh}).json()
        by_header = client.put(REFRESH, headers={"Authorization": refresh}).json()

        assert (by_form["code"], by_header["code"]) == (200, 200)

    def test_refresh_without_token_returns_5106(self, client: Client) -> None:
        assert code(client.put(REFRESH).json()) == (5106, "Please enter token")

    def test_refresh_with_an_access_token_or_unknown_token_returns_5032(
        self, client: Client
    ) -> None:
        access = access_token(client)

        assert client.put(REFRESH, params={"refreshToken": access}).json()["code"] == 5032
        assert client.put(REFRESH, params={"refreshToken": "x.y.z"}).json()["code"] == 5032

    def test_refresh_token_expires_after_30_days(self, client: Client, advance: Advance) -> None:
        refresh = login(client)["data"]["refreshToken"]["token"]

        advance(30 * 86400 + 1)

        assert client.put(REFRESH, params={"refreshToken": refresh}).json()["code"] == 5032


# --- userDeviceList --------------------------------------------------------------------------


class TestUserDeviceList:
    def test_user_device_list_pages_the_bound_devices_that_exist(
        self, client: Client, device: Callable[..., None]
    ) -> None:
        device("DK00001", online=True, name="Living room")
        device("DK00002")
        device("NotMine", online=True)
        headers = {"Authorization": access_token(client)}

        body = client.get(DEVICE_LIST, params={"pageSize": 1}, headers=headers).json()

        assert body["code"] == 200
        data = body["data"]
        assert (data["total"], data["pages"], data["hasNextPage"]) == (2, 2, True)
        [first] = data["list"]
        assert (first["deviceKey"], first["deviceName"], first["onlineStatus"]) == (
            "DK00001",
            "Living room",
            1,
        )
        second = client.get(DEVICE_LIST, params={"page": 2, "pageSize": 1}, headers=headers)
        assert [d["deviceKey"] for d in second.json()["data"]["list"]] == ["DK00002"]

    def test_user_device_list_filters_by_dk_and_pk_list(
        self, client: Client, device: Callable[..., None]
    ) -> None:
        device("DK00001")
        device("DK00002")
        headers = {"Authorization": access_token(client)}

        by_dk = client.get(DEVICE_LIST, params={"dk": "DK00002"}, headers=headers).json()
        by_pk = client.get(DEVICE_LIST, params={"pkList": "OTHER,X"}, headers=headers).json()

        assert [d["deviceKey"] for d in by_dk["data"]["list"]] == ["DK00002"]
        assert by_pk["data"]["total"] == 0

    def test_user_device_list_follows_the_simulated_connection(
        self, client: Client, device: Callable[..., None]
    ) -> None:
        device("DK00001", online=False)
        headers = {"Authorization": access_token(client)}
        set_online(client, "DK00001", True)

        body = client.get(DEVICE_LIST, headers=headers).json()

        assert body["data"]["list"][0]["onlineStatus"] == 1

    def test_user_device_list_without_token_returns_5106(self, client: Client) -> None:
        assert client.get(DEVICE_LIST).json()["code"] == 5106

    def test_user_device_list_with_malformed_token_returns_5032(self, client: Client) -> None:
        body = client.get(DEVICE_LIST, headers={"Authorization": "garbage"}).json()

        assert body["code"] == 5032

    def test_user_device_list_with_too_long_device_name_returns_5333(self, client: Client) -> None:
        body = client.get(DEVICE_LIST, params={"deviceName": "n" * 65}, headers=HEADERS).json()

        assert code(body) == (5333, "Device name exceeds length limit")

    def test_user_device_list_with_a_foreign_token_is_empty(self, client: Client) -> None:
        body = client.get(DEVICE_LIST, headers=HEADERS).json()

        assert (body["code"], body["data"]["total"]) == (200, 0)

    def test_user_device_list_with_non_numeric_page_returns_50005(self, client: Client) -> None:
        body = client.get(DEVICE_LIST, params={"page": "two"}, headers=HEADERS).json()

        assert body["code"] == 50005


# --- completeness -----------------------------------------------------------------------------

# Per table, the codes no real input reaches; every other code needs a case above that names
# it (tests/reached.py), so deleting a case fails the table's test.
BATCH_FAULT_ONLY = {BatchControlError.BATCH_CONTROL_FAILED.code}
LOGIN_FAULT_ONLY = {5104, 5325, 6084, 6085}
LIST_FAULT_ONLY = {DeviceListError.USER_MISMATCH.code}
# An emulator bug rendered in the envelope, never a documented answer.
GENERIC_NOT_BY_INPUT = {GenericError.SERVICE_EXCEPTION.code}


def _has_cases(table: type[ErrorCode], not_by_input: set[int]) -> None:
    codes = {m.code for m in table}
    assert not_by_input <= codes
    assert codes - not_by_input <= reached_codes(globals())


def test_every_batch_control_error_code_has_a_case() -> None:
    _has_cases(BatchControlError, BATCH_FAULT_ONLY)


def test_every_login_error_code_has_a_case() -> None:
    _has_cases(LoginError, LOGIN_FAULT_ONLY)


def test_every_device_list_error_code_has_a_case() -> None:
    _has_cases(DeviceListError, LIST_FAULT_ONLY)


def test_every_token_and_generic_code_has_a_case() -> None:
    _has_cases(TokenError, set())
    _has_cases(GenericError, GENERIC_NOT_BY_INPUT)


def test_fault_only_codes_are_declared_on_the_operations() -> None:
    assert OPERATIONS["quectel.enduser.batch_control_device"].fault_only == BATCH_FAULT_ONLY
    assert OPERATIONS["quectel.enduser.email_pwd_login"].fault_only == LOGIN_FAULT_ONLY
    assert OPERATIONS["quectel.enduser.user_device_list"].fault_only == LIST_FAULT_ONLY
    assert OPERATIONS["quectel.enduser.refresh_token"].fault_only == frozenset()
