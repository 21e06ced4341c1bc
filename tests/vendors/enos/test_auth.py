"""EnOS auth: the APIM token service and the three auth modes (REAL-CLIENTS.md §1.2-1.3)."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import Client, ClientFactory
from tests.vendors.enos.helpers import (
    ORG,
    PRODUCT,
    SK,
    devices_url,
    dumps,
    signed_headers,
    token_body,
)

TOKEN_URL = "/apim-token-service/v2.0/token/get"
REFRESH_URL = "/apim-token-service/v2.0/token/refresh"
CREATE_QUERY = {"action": "create", "orgId": ORG}
CREATE_BODY = {
    "productKey": PRODUCT,
    "timezone": "+08:00",
    "deviceName": {"defaultValue": "signed"},
}


def get_token(client: Client, **changes: Any) -> dict[str, Any]:
    response = client.post(TOKEN_URL, json={**token_body(), **changes})
    assert response.status_code == 200
    result: dict[str, Any] = response.json()
    return result


@pytest.fixture
def strict(make_client: ClientFactory) -> Client:
    return make_client(auth="strict")


@pytest.fixture
def clock(emulators: Any) -> Iterator[Any]:
    app, _ = emulators.get(auth="strict")
    clock = app.state.emulator.clock
    yield clock
    clock.release()


class TestTokenService:
    def test_get_token_answers_the_documented_body(self, client: Client) -> None:
        body = get_token(client)

        assert (body["status"], body["msg"], body["business"]) == (
            0,
            "SUCCESS",
            "apim-token-service",
        )
        assert body["data"]["expire"] == 7200
        assert body["data"]["accessToken"]

    def test_get_token_again_returns_the_same_token(self, client: Client) -> None:
        first = get_token(client)["data"]["accessToken"]
        second = get_token(client, **token_body(timestamp=1572574999999))["data"]["accessToken"]

        assert first == second

    def test_get_token_accepts_the_timestamp_as_a_string(self, client: Client) -> None:
        body = token_body()
        body["timestamp"] = str(body["timestamp"])

        assert get_token(client, **body)["status"] == 0

    def test_get_token_with_unknown_app_key_returns_1002(self, client: Client) -> None:
        other = "11111111-2222-3333-4444-555555555555"
        body = get_token(client, **token_body(ak=other))

        assert (body["status"], body["data"]) == (1002, None)

    def test_get_token_with_wrong_encryption_returns_1003(self, client: Client) -> None:
        assert get_token(client, encryption="0" * 64)["status"] == 1003

    @pytest.mark.parametrize("field", ["appKey", "encryption", "timestamp"])
    def test_get_token_without_a_field_returns_1202(self, client: Client, field: str) -> None:
        body = token_body()
        del body[field]

        assert client.post(TOKEN_URL, json=body).json()["status"] == 1202

    def test_get_token_with_malformed_json_returns_1004(self, client: Client) -> None:
        body = client.post(
            TOKEN_URL, content=b"{oops", headers={"Content-Type": "application/json"}
        ).json()

        assert (body["status"], body["business"]) == (1004, "apim-token-service")

    def test_refresh_token_replaces_the_token(self, client: Client) -> None:
        old = get_token(client)["data"]["accessToken"]

        refreshed = client.post(REFRESH_URL, json={**token_body(), "accessToken": old}).json()
        again = client.post(REFRESH_URL, json={**token_body(), "accessToken": old}).json()

        assert refreshed["status"] == 0
        assert refreshed["data"]["accessToken"] != old
        assert again["status"] == 1204


class TestLenient:
    def test_missing_access_token_returns_1202(self, client: Client) -> None:
        body = client.post(devices_url("create"), json=CREATE_BODY).json()

        assert body["code"] == 1202
        assert set(body) == {"code", "msg", "requestId", "data"}

    def test_malformed_access_token_returns_1004(self, client: Client) -> None:
        body = client.post(
            devices_url("create"), json=CREATE_BODY, headers={"apim-accesstoken": "no spaces!"}
        )

        assert body.json()["code"] == 1004

    def test_official_client_rsa_token_is_accepted(self, client: Client) -> None:
        # poseidon sends base64(RSA-OAEP(...)): 256 bytes, 344 characters.
        blob = base64.b64encode(bytes(range(256))).decode()
        headers = {"apim-accesstoken": blob, "User-Agent": "Python_enos_api"}

        assert (
            client.post(devices_url("create"), json=CREATE_BODY, headers=headers).json()["code"]
            == 0
        )


def test_auth_off_checks_nothing(make_client: ClientFactory) -> None:
    client = make_client(auth="off")

    assert client.post(devices_url("create"), json=CREATE_BODY).json()["code"] == 0


class TestStrict:
    def signed_create(self, client: Client, token: str, **header_changes: str) -> dict[str, Any]:
        raw = dumps(CREATE_BODY)
        headers = {**signed_headers(token, CREATE_QUERY, raw), **header_changes}
        response = client.post(devices_url("create"), content=raw, headers=headers)
        assert response.status_code == 200
        result: dict[str, Any] = response.json()
        return result

    def test_signed_request_with_issued_token_is_accepted(self, strict: Client) -> None:
        token = get_token(strict)["data"]["accessToken"]

        body = self.signed_create(strict, token)

        assert body["code"] == 0
        assert body["data"]["productKey"] == PRODUCT

    def test_signed_get_with_query_parameters_is_accepted(self, strict: Client) -> None:
        token = get_token(strict)["data"]["accessToken"]
        asset = self.signed_create(strict, token)["data"]["assetId"]
        query = {"action": "get", "orgId": ORG, "assetId": asset}

        body = strict.get(
            devices_url("get", assetId=asset), headers=signed_headers(token, query, b"")
        ).json()

        assert body["code"] == 0

    def test_wrong_signature_returns_1003(self, strict: Client) -> None:
        token = get_token(strict)["data"]["accessToken"]

        assert self.signed_create(strict, token, **{"apim-signature": "0" * 64})["code"] == 1003

    def test_signature_over_another_body_returns_1003(self, strict: Client) -> None:
        token = get_token(strict)["data"]["accessToken"]
        headers = signed_headers(token, CREATE_QUERY, dumps({**CREATE_BODY, "deviceKey": "x"}))

        body = strict.post(
            devices_url("create"), content=dumps(CREATE_BODY), headers=headers
        ).json()

        assert body["code"] == 1003

    def test_wrong_secret_returns_1003(self, strict: Client) -> None:
        token = get_token(strict)["data"]["accessToken"]
        raw = dumps(CREATE_BODY)
        headers = signed_headers(token, CREATE_QUERY, raw, sk=SK[::-1])

        assert (
            strict.post(devices_url("create"), content=raw, headers=headers).json()["code"] == 1003
        )

    def test_expired_token_returns_1203(self, strict: Client, clock: Any) -> None:
        token = get_token(strict)["data"]["accessToken"]

        clock.advance(7201)

        assert self.signed_create(strict, token)["code"] == 1203

    def test_token_not_issued_here_returns_1203(self, strict: Client) -> None:
        assert self.signed_create(strict, "NotIssuedByTheEmulator")["code"] == 1203

    @pytest.mark.parametrize("header", ["apim-accesstoken", "apim-signature", "apim-timestamp"])
    def test_missing_header_returns_1202(self, strict: Client, header: str) -> None:
        token = get_token(strict)["data"]["accessToken"]
        raw = dumps(CREATE_BODY)
        headers = signed_headers(token, CREATE_QUERY, raw)
        del headers[header]

        assert (
            strict.post(devices_url("create"), content=raw, headers=headers).json()["code"] == 1202
        )

    def test_token_of_another_namespace_is_unknown(self, strict: Client, emulators: Any) -> None:
        token = get_token(strict)["data"]["accessToken"]
        raw = dumps(CREATE_BODY)
        with emulators.client(f"elsewhere-{id(strict)}", auth="strict") as other:
            body = other.post(
                devices_url("create"), content=raw, headers=signed_headers(token, CREATE_QUERY, raw)
            ).json()

        assert body["code"] == 1203
