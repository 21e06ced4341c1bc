"""MediaTek MCS registerDevice: shared/vendor-docs/mcs-registerDevice.md.

Errors travel on real HTTP statuses with ``{"results": {"code", "url", "description"}}``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from emulator.core.operations import OPERATIONS
from emulator.vendors.mcs.errors import AuthError, DeviceError
from tests.conftest import Client, ClientFactory
from tests.reached import reached_codes
from tests.shapes import load_sample, missing_paths, shape
from tests.vendors.mcs.helpers import (
    DEVICES_URL,
    HEADERS,
    OTHER_PRODUCT,
    SERIAL_PRODUCT,
    TEST_PRODUCT,
    assert_error,
    bearer,
    device,
    login,
    register,
)

SAMPLES = Path(__file__).parent / "samples"
MISSING = object()
DEVICE_ID = re.compile(r"D[A-Za-z0-9]{7}")
DEVICE_KEY = re.compile(r"[A-Za-z0-9]{16}")


def without(body: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k not in keys}


def listed(client: Client) -> list[dict[str, Any]]:
    body = client.get("/_emulator/devices", params={"vendor": "mcs"}).json()
    devices: list[dict[str, Any]] = body["devices"]
    return devices


class TestDocSample:
    def test_doc_request_sample_returns_two_credentials_in_the_sample_shape(
        self, client: Client
    ) -> None:
        request = load_sample(SAMPLES / "register_device.request.json")
        expected = load_sample(SAMPLES / "register_device.response.json")
        # The sample's first credential misspells deviceKey ("deivceKey"): the second is the
        # shape every credential must have (DESIGN.md: always spell deviceKey right).
        expected["credentials"] = expected["credentials"][1:]

        body = register(client, request)

        assert missing_paths(shape(expected), body) == []
        assert len(body["credentials"]) == 2
        for credential in body["credentials"]:
            assert set(credential) == {"deviceId", "deviceKey"}
            assert DEVICE_ID.fullmatch(credential["deviceId"])
            assert DEVICE_KEY.fullmatch(credential["deviceKey"])

    def test_doc_request_sample_creates_both_devices_in_their_products(
        self, client: Client
    ) -> None:
        body = register(client, load_sample(SAMPLES / "register_device.request.json"))

        devices = {d["deviceKey"]: d for d in listed(client)}
        first, second = (devices[c["deviceId"]] for c in body["credentials"])
        assert (first["productKey"], first["name"]) == (TEST_PRODUCT, "My 1st device")
        assert (second["productKey"], second["name"]) == (SERIAL_PRODUCT, "My 2nd device")
        assert second["attrs"]["serial"] == "mtk-01234"
        # The registry's secret is the MCS deviceKey.
        assert [first["secret"], second["secret"]] == [c["deviceKey"] for c in body["credentials"]]

    def test_single_object_sample_returns_device_id_key_and_chip_name(self, client: Client) -> None:
        request = load_sample(SAMPLES / "register_device_single.request.json")
        expected = load_sample(SAMPLES / "register_device_single.response.json")

        body = register(client, request)

        assert missing_paths(shape(expected), body) == []
        assert set(body) == {"deviceId", "deviceKey", "chipName"}
        assert body["chipName"] == "MT7687"

    def test_error_body_has_the_sample_shape(self, client: Client) -> None:
        expected = load_sample(SAMPLES / "register_device.error.json")

        response = client.post(DEVICES_URL, json=device())

        assert response.status_code == 401
        assert response.json() == expected

    def test_sample_succeeds_without_token_quotes_and_with_them(self, client: Client) -> None:
        quoted = {"Authorization": "Bearer 'abc.def-123'"}

        assert register(client, device(), headers=quoted)["deviceId"]
        assert register(client, device(), headers=bearer("abc.def-123"))["deviceId"]


class TestSerialRules:
    def test_non_test_device_of_serial_product_without_serial_returns_400(
        self, client: Client
    ) -> None:
        response = client.post(
            DEVICES_URL, json=device(prodId=SERIAL_PRODUCT, isTest=False), headers=HEADERS
        )

        results = assert_error(response, 400, 400)
        assert "serial" in results["description"]

    def test_blank_serial_counts_as_missing(self, client: Client) -> None:
        body = device(prodId=SERIAL_PRODUCT, isTest=False, serial="")

        assert_error(client.post(DEVICES_URL, json=body, headers=HEADERS), 400, 400)

    def test_test_device_of_serial_product_needs_no_serial(self, client: Client) -> None:
        assert register(client, device(prodId=SERIAL_PRODUCT, isTest=True))["deviceId"]

    def test_non_test_device_of_product_without_criteria_needs_no_serial(
        self, client: Client
    ) -> None:
        assert register(client, device(prodId=TEST_PRODUCT, isTest=False))["deviceId"]

    def test_serial_is_kept_when_given(self, client: Client) -> None:
        body = register(client, device(prodId=SERIAL_PRODUCT, isTest=False, serial="mtk-9"))

        (row,) = [d for d in listed(client) if d["deviceKey"] == body["deviceId"]]
        assert row["attrs"]["serial"] == "mtk-9"
        assert row["attrs"]["isTest"] is False


class TestShapes:
    def test_single_object_answers_a_flat_object(self, client: Client) -> None:
        body = register(client, device(description="kitchen", deviceImageURL="/d.jpg"))

        assert set(body) == {"deviceId", "deviceKey", "chipName"}

    def test_devices_array_answers_credentials_in_request_order(self, client: Client) -> None:
        names = [f"plug-{i}" for i in range(3)]
        body = register(client, {"devices": [device(name=n) for n in names]})

        by_id = {d["deviceKey"]: d["name"] for d in listed(client)}
        assert [by_id[c["deviceId"]] for c in body["credentials"]] == names

    def test_each_registration_gets_new_ids(self, client: Client) -> None:
        first = register(client, device())
        second = register(client, device())

        assert first["deviceId"] != second["deviceId"]
        assert first["deviceKey"] != second["deviceKey"]

    def test_unknown_fields_are_ignored(self, client: Client) -> None:
        assert register(client, device(color="red"))["deviceId"]

    def test_one_invalid_device_fails_the_whole_request(self, client: Client) -> None:
        body = {"devices": [device(), device(prodId=SERIAL_PRODUCT, isTest=False)]}

        assert_error(client.post(DEVICES_URL, json=body, headers=HEADERS), 400, 400)
        assert listed(client) == []


INVALID = [
    pytest.param(without(device(), "prodId"), "prodId", id="prodId-missing"),
    pytest.param(device(prodId=""), "prodId", id="prodId-blank"),
    pytest.param(device(prodId=1234567890), "prodId", id="prodId-number"),
    pytest.param(without(device(), "name"), "name", id="name-missing"),
    pytest.param(device(name=""), "name", id="name-blank"),
    pytest.param(device(name=["x"]), "name", id="name-array"),
    pytest.param(without(device(), "isTest"), "isTest", id="isTest-missing"),
    pytest.param(device(isTest="true"), "isTest", id="isTest-string"),
    pytest.param(device(isTest=1), "isTest", id="isTest-number"),
    pytest.param(device(isTest=None), "isTest", id="isTest-null"),
    pytest.param(device(description=5), "description", id="description-number"),
    pytest.param(device(serial=12345), "serial", id="serial-number"),
    pytest.param({"devices": []}, "devices", id="devices-empty"),
    pytest.param({"devices": device()}, "devices", id="devices-not-array"),
    pytest.param({"devices": [device(), "plug"]}, "", id="devices-item-not-object"),
    pytest.param({"devices": [device(), without(device(), "name")]}, "name", id="item-no-name"),
    pytest.param([device()], "", id="body-is-array"),
    pytest.param(None, "", id="body-is-null"),
    pytest.param("plug", "", id="body-is-string"),
]


@pytest.mark.parametrize(("body", "field"), INVALID)
def test_register_with_invalid_field_returns_400(client: Client, body: Any, field: str) -> None:
    results = assert_error(client.post(DEVICES_URL, json=body, headers=HEADERS), 400, 400)

    assert field in results["description"]
    assert listed(client) == []


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        pytest.param(b"{not json", "application/json", id="malformed"),
        pytest.param(b'{"prodId": "a12', "application/json", id="truncated"),
        pytest.param(b"\xff\xfe\x00", "application/json", id="not-utf8"),
        pytest.param(b"prodId=a1234567890", "application/x-www-form-urlencoded", id="form"),
        pytest.param(b"", "application/json", id="empty"),
    ],
)
def test_register_with_unreadable_body_returns_400(
    client: Client, content: bytes, content_type: str
) -> None:
    response = client.post(
        DEVICES_URL, content=content, headers={**HEADERS, "Content-Type": content_type}
    )

    assert_error(response, 400, 400)


def test_register_with_oversized_body_returns_400(make_client: ClientFactory) -> None:
    client = make_client(max_body_bytes=512)

    response = client.post(DEVICES_URL, json=device(description="x" * 1024), headers=HEADERS)

    assert "512 bytes" in assert_error(response, 400, 400)["description"]


def test_register_into_unknown_product_returns_404(client: Client) -> None:
    response = client.post(DEVICES_URL, json=device(prodId="z0000000000"), headers=HEADERS)

    assert "z0000000000" in assert_error(response, 404, 404)["description"]


def test_register_batch_error_names_the_device_by_its_index(client: Client) -> None:
    body = {"devices": [device(), without(device(), "name"), device(isTest="no")]}

    response = client.post(DEVICES_URL, json=body, headers=HEADERS)

    assert assert_error(response, 400, 400)["description"] == "devices[1].name is missing"


def test_register_batch_with_one_unknown_product_returns_404_and_creates_nothing(
    client: Client,
) -> None:
    body = {"devices": [device(), device(prodId="z0000000000")]}

    assert_error(client.post(DEVICES_URL, json=body, headers=HEADERS), 404, 404)
    assert listed(client) == []


class TestAuth:
    @pytest.mark.parametrize(
        "headers",
        [
            pytest.param({}, id="missing"),
            pytest.param({"Authorization": ""}, id="blank"),
            pytest.param({"Authorization": "Bearer"}, id="no-token"),
            pytest.param({"Authorization": "Basic ZGVtbzpkZW1v"}, id="basic-scheme"),
            pytest.param({"Authorization": "lenient-demo-token"}, id="no-scheme"),
            pytest.param({"Authorization": "Bearer two words"}, id="space-in-token"),
            pytest.param({"Authorization": "Bearer <token>"}, id="bad-characters"),
        ],
    )
    def test_missing_or_malformed_token_returns_1002_with_401(
        self, client: Client, headers: dict[str, str]
    ) -> None:
        response = client.post(DEVICES_URL, json=device(), headers=headers)

        results = assert_error(response, 401, 1002)
        assert results["description"] == "You do not have access right to this API"
        assert listed(client) == []

    def test_token_is_checked_before_the_body(self, client: Client) -> None:
        assert_error(client.post(DEVICES_URL, content=b"{not json"), 401, 1002)

    def test_lenient_caller_owns_every_product(self, client: Client) -> None:
        assert register(client, device(prodId=OTHER_PRODUCT))["deviceId"]

    def test_auth_off_needs_no_header(self, make_client: ClientFactory) -> None:
        client = make_client(auth="off")

        assert register(client, device(), headers={})["deviceId"]

    def test_strict_mode_refuses_a_token_not_issued_here(self, make_client: ClientFactory) -> None:
        strict = make_client(auth="strict")

        response = strict.post(DEVICES_URL, json=device(), headers=HEADERS)

        assert_error(response, 401, 1002)

    def test_strict_mode_accepts_an_issued_access_token(self, make_client: ClientFactory) -> None:
        strict = make_client(auth="strict")
        token = login(strict)["access_token"]

        assert register(strict, device(), headers=bearer(token))["deviceId"]

    def test_strict_mode_refuses_the_user_token_as_bearer(self, make_client: ClientFactory) -> None:
        strict = make_client(auth="strict")
        user_token = login(strict)["token"]

        response = strict.post(DEVICES_URL, json=device(), headers=bearer(user_token))

        assert_error(response, 401, 1002)

    def test_another_users_product_returns_1002_with_403(self, make_client: ClientFactory) -> None:
        strict = make_client(auth="strict")
        token = login(strict)["access_token"]

        response = strict.post(
            DEVICES_URL, json=device(prodId=OTHER_PRODUCT), headers=bearer(token)
        )

        results = assert_error(response, 403, 1002)
        assert results["description"] == "You do not have access right to this API"
        assert listed(strict) == []

    def test_unknown_product_is_404_before_ownership(self, make_client: ClientFactory) -> None:
        strict = make_client(auth="strict")
        token = login(strict)["access_token"]

        response = strict.post(
            DEVICES_URL, json=device(prodId="z0000000000"), headers=bearer(token)
        )

        assert_error(response, 404, 404)


def test_unknown_path_under_mcs_answers_404_in_the_mcs_envelope(client: Client) -> None:
    response = client.post("/mcs/v2/gadgets", json=device(), headers=HEADERS)

    assert_error(response, 404, 404)


def test_namespaces_are_isolated(make_client: ClientFactory, emulators: Any) -> None:
    mine = make_client()
    theirs = emulators.client("mcs-other-" + str(id(mine)))
    try:
        created = register(mine, device())
        response = theirs.get(f"{DEVICES_URL}/{created['deviceId']}", headers=HEADERS)
        assert_error(response, 404, 404)
    finally:
        theirs.close()


# The codes no real input reaches, with the reason; every other code needs a case above that
# names it (tests/reached.py), so deleting a case fails the table's test.
NOT_BY_INPUT = {
    DeviceError: {DeviceError.INTERNAL_ERROR.code},  # fault-only (and an emulator bug)
    AuthError: set(),
}


@pytest.mark.parametrize("table", [DeviceError, AuthError])
def test_every_mcs_error_code_has_a_case(table: Any) -> None:
    codes = {member.code for member in table}
    assert NOT_BY_INPUT[table] <= codes
    assert codes - NOT_BY_INPUT[table] <= reached_codes(globals())


def test_every_row_has_its_documented_http_status() -> None:
    statuses = {(m.code, m.http_status) for t in (DeviceError, AuthError) for m in t}
    assert statuses == {(1002, 401), (1002, 403), (400, 400), (404, 404), (500, 500)}


@pytest.mark.parametrize(
    "operation", ["mcs.register_device", "mcs.get_device", "mcs.delete_device"]
)
def test_fault_only_codes_are_declared_on_the_operations(operation: str) -> None:
    assert OPERATIONS[operation].fault_only == {500}
    assert set(OPERATIONS[operation].codes()) == {400, 404, 500, 1002}
