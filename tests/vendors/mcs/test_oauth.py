"""MCS OAuth for third-party services (REAL-CLIENTS.md §5; MCS "Get User Token" and
"Refresh User Access Token"), and the strict-mode round trip to registerDevice."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from emulator.core.operations import OPERATIONS
from emulator.vendors.mcs.oauth.errors import OAuthError
from tests.conftest import Client, ClientFactory
from tests.reached import reached_codes
from tests.shapes import load_sample, missing_paths, shape
from tests.vendors.mcs.helpers import (
    DEVICES_URL,
    EMAIL,
    LOGIN_URL,
    OTHER_EMAIL,
    OTHER_PASSWORD,
    OTHER_PRODUCT,
    PASSWORD,
    assert_error,
    basic,
    bearer,
    device,
    login,
    register,
)

SAMPLES = Path(__file__).parent / "samples"
REFRESH_URL = LOGIN_URL + "/refresh"
CREDENTIALS = {"email": EMAIL, "password": PASSWORD}


def assert_oauth_error(response: Any, status: int) -> dict[str, Any]:
    """The documented OAuth error body: code and statusCode are the HTTP status."""
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert set(body) == {"apiVersion", "code", "message", "statusCode", "options"}
    assert (body["apiVersion"], body["code"], body["statusCode"], body["options"]) == (
        "0.0.1", status, status, {},
    )  # fmt: skip
    return body


@pytest.fixture
def strict(make_client: ClientFactory) -> Client:
    return make_client(auth="strict")


@pytest.fixture
def clock(emulators: Any) -> Iterator[Any]:
    app, _ = emulators.get(auth="strict")
    clock = app.state.emulator.clock
    clock.freeze()
    yield clock
    clock.release()


class TestLogin:
    def test_login_answers_the_documented_body(self, client: Client) -> None:
        body = login(client)

        assert (
            missing_paths(shape(load_sample(SAMPLES / "get_user_token.response.json")), body) == []
        )
        assert (body["code"], body["message"]) == (200, "Request has succeeded")
        assert body["token"] != body["access_token"]

    @pytest.mark.parametrize("path", ["/oauth/login/thirdpart", "/oauth/login/thirdparty"])
    def test_both_login_paths_are_served(self, client: Client, path: str) -> None:
        response = client.post(path, headers=basic(), data=CREDENTIALS)

        assert response.status_code == 200
        assert response.json()["access_token"]

    def test_login_accepts_a_json_body(self, client: Client) -> None:
        response = client.post(LOGIN_URL, headers=basic(), json=CREDENTIALS)

        assert response.json()["code"] == 200

    def test_each_login_issues_new_tokens(self, client: Client) -> None:
        first, second = login(client), login(client)

        assert first["access_token"] != second["access_token"]
        assert first["token"] != second["token"]

    @pytest.mark.parametrize(
        "headers",
        [
            pytest.param({}, id="missing"),
            pytest.param(basic(secret="wrong-secret"), id="wrong-secret"),
            pytest.param(basic(key="unknownApp"), id="unknown-app"),
            pytest.param({"Authorization": "Basic not*base64"}, id="not-base64"),
            pytest.param(
                {"Authorization": "Basic " + base64.b64encode(b"no-colon").decode()},
                id="no-colon",
            ),
            pytest.param({"Authorization": "Bearer abc"}, id="bearer-scheme"),
        ],
    )
    def test_login_with_bad_app_credentials_returns_401(
        self, client: Client, headers: dict[str, str]
    ) -> None:
        response = client.post(LOGIN_URL, headers=headers, data=CREDENTIALS)

        body = assert_oauth_error(response, 401)
        assert body["message"] == "Invalid or missing client_id parameter"

    @pytest.mark.parametrize(
        "credentials",
        [
            pytest.param({"email": EMAIL, "password": "wrong"}, id="wrong-password"),
            pytest.param({"email": "nobody@example.com", "password": PASSWORD}, id="unknown"),
        ],
    )
    def test_login_with_wrong_email_or_password_returns_401(
        self, client: Client, credentials: dict[str, str]
    ) -> None:
        response = client.post(LOGIN_URL, headers=basic(), data=credentials)

        assert assert_oauth_error(response, 401)["message"] == "Invalid email or password"

    @pytest.mark.parametrize(
        ("kwargs", "field"),
        [
            pytest.param({"data": {"password": PASSWORD}}, "email", id="email-missing"),
            pytest.param({"data": {"email": EMAIL, "password": ""}}, "password", id="pw-blank"),
            pytest.param({"json": {"email": EMAIL, "password": 7}}, "password", id="pw-number"),
            pytest.param({"json": [CREDENTIALS]}, "", id="json-array"),
            pytest.param({"content": b"{not json"}, "", id="malformed-json"),
            pytest.param({"content": b"\xff\xfe"}, "", id="not-utf8"),
            pytest.param({}, "email", id="empty"),
        ],
    )
    def test_login_with_missing_or_unreadable_fields_returns_400(
        self, client: Client, kwargs: dict[str, Any], field: str
    ) -> None:
        response = client.post(LOGIN_URL, headers=basic(), **kwargs)

        assert field in assert_oauth_error(response, 400)["message"]

    def test_unknown_oauth_path_answers_in_the_oauth_envelope(self, client: Client) -> None:
        response = client.post("/oauth/login/elsewhere", headers=basic(), data=CREDENTIALS)

        assert_oauth_error(response, 400)


class TestRefresh:
    def test_refresh_answers_the_documented_body(self, client: Client) -> None:
        issued = login(client)

        response = client.post(REFRESH_URL, headers=basic(), data={"token": issued["token"]})

        expected = load_sample(SAMPLES / "refresh_user_access_token.response.json")
        body = response.json()
        assert response.status_code == 200
        assert missing_paths(shape(expected), body) == []
        assert body["results"]["token"] == issued["token"]
        assert body["results"]["email"] == EMAIL
        assert body["results"]["access_token"] not in (issued["access_token"], issued["token"])

    def test_refresh_on_the_thirdpart_path_accepts_basic_without_the_scheme(
        self, client: Client
    ) -> None:
        issued = login(client)
        # The refresh doc's example sends the base64 value with no "Basic " before it.
        raw = basic()["Authorization"].removeprefix("Basic ")

        response = client.post(
            "/oauth/login/thirdpart/refresh",
            headers={"Authorization": raw},
            json={"token": issued["token"]},
        )

        assert response.json()["code"] == 200

    @pytest.mark.parametrize("use", ["access_token", "unknown"])
    def test_refresh_with_a_token_that_is_not_a_user_token_returns_401(
        self, client: Client, use: str
    ) -> None:
        token = login(client)["access_token"] if use == "access_token" else "no-such-token"

        response = client.post(REFRESH_URL, headers=basic(), data={"token": token})

        assert assert_oauth_error(response, 401)["message"] == "Invalid or expired token"

    def test_refresh_without_token_returns_400(self, client: Client) -> None:
        assert_oauth_error(client.post(REFRESH_URL, headers=basic(), data={}), 400)

    def test_refresh_without_app_credentials_returns_401(self, client: Client) -> None:
        issued = login(client)

        response = client.post(REFRESH_URL, data={"token": issued["token"]})

        assert_oauth_error(response, 401)


class TestStrictRoundTrip:
    def test_login_register_get_and_delete_with_the_issued_token(self, strict: Client) -> None:
        headers = bearer(login(strict)["access_token"])

        created = register(strict, device(name="round-trip"), headers=headers)
        got = strict.get(f"{DEVICES_URL}/{created['deviceId']}", headers=headers)
        deleted = strict.delete(f"{DEVICES_URL}/{created['deviceId']}", headers=headers)

        assert got.json()["results"][0]["deviceKey"] == created["deviceKey"]
        assert deleted.json()["deviceId"] == created["deviceId"]

    def test_access_token_expires_after_one_hour(self, strict: Client, clock: Any) -> None:
        headers = bearer(login(strict)["access_token"])
        clock.advance(3599)
        assert register(strict, device(), headers=headers)["deviceId"]

        clock.advance(2)

        assert_error(strict.post(DEVICES_URL, json=device(), headers=headers), 401, 1002)

    def test_refreshed_access_token_works_after_the_first_expired(
        self, strict: Client, clock: Any
    ) -> None:
        issued = login(strict)
        clock.advance(3601)

        refreshed = strict.post(REFRESH_URL, headers=basic(), data={"token": issued["token"]})
        headers = bearer(refreshed.json()["results"]["access_token"])

        assert register(strict, device(), headers=headers)["deviceId"]

    def test_user_token_expires_after_two_weeks(self, strict: Client, clock: Any) -> None:
        issued = login(strict)
        clock.advance(14 * 24 * 3600 + 1)

        response = strict.post(REFRESH_URL, headers=basic(), data={"token": issued["token"]})

        assert_oauth_error(response, 401)

    def test_the_other_developer_owns_only_their_product(self, strict: Client) -> None:
        headers = bearer(login(strict, OTHER_EMAIL, OTHER_PASSWORD)["access_token"])

        own = register(strict, device(prodId=OTHER_PRODUCT), headers=headers)
        theirs = strict.post(DEVICES_URL, json=device(), headers=headers)

        assert own["deviceId"]
        assert_error(theirs, 403, 1002)

    def test_token_of_another_namespace_is_unknown(self, strict: Client, emulators: Any) -> None:
        other = emulators.client("mcs-ns-" + str(id(strict)), auth="strict")
        try:
            headers = bearer(login(other)["access_token"])
            assert_error(strict.post(DEVICES_URL, json=device(), headers=headers), 401, 1002)
        finally:
            other.close()


# Every other code needs a case above that names it (tests/reached.py).
NOT_BY_INPUT = {OAuthError.INTERNAL_ERROR.code}  # fault-only (and an emulator bug)


def test_every_oauth_error_code_has_a_case() -> None:
    codes = {member.code for member in OAuthError}
    assert NOT_BY_INPUT <= codes
    assert codes - NOT_BY_INPUT <= reached_codes(globals())


@pytest.mark.parametrize("operation", ["mcs.oauth.login", "mcs.oauth.refresh"])
def test_oauth_operations_declare_their_fault_only_code(operation: str) -> None:
    assert OPERATIONS[operation].fault_only == {500}
