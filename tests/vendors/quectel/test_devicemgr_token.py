"""Quectel SaaS OpenAPI token service (REAL-CLIENTS.md §3): accessKeyLogin (OpenAPI
Integration Guide) and refreshToken, and how API calls present the token in each auth mode."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from emulator.core.clock import Clock
from tests.conftest import Client, ClientFactory, Emulators
from tests.shapes import load_sample, missing_paths, shape
from tests.vendors.quectel.devicemgr_helpers import (
    AK,
    LOGIN,
    REFRESH,
    create_batch,
    device,
    login,
    login_url,
    password,
    username,
)

SAMPLES = Path(__file__).parent / "samples"


def jwt_payload(token: str) -> dict[str, Any]:
    payload = token.removeprefix("QJWT ").split(".")[1]
    decoded: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    )
    return decoded


def refresh(client: Client, token: str, name: str = "refresh_token") -> dict[str, Any]:
    response = client.get(REFRESH, params={"grant_type": "refresh_token", name: token})
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


@pytest.fixture
def strict(make_client: ClientFactory, emulators: Emulators) -> Iterator[tuple[Client, Clock]]:
    """A strict-auth client and its emulator's clock, frozen for the test (same process in
    both test modes), released afterwards."""
    client = make_client(auth="strict")
    app, _ = emulators.get(auth="strict")
    clock: Clock = app.state.emulator.clock
    clock.freeze()
    try:
        yield client, clock
    finally:
        clock.release()


class TestLogin:
    def test_access_key_login_has_the_doc_sample_shape(self, client: Client) -> None:
        expected = load_sample(SAMPLES / "devicemgr_access_key_login.response.json")
        user = username()

        body = client.get(login_url(user, password(user))).json()

        assert missing_paths(shape(expected), body) == []
        assert (body["code"], body["msg"], body["token_type"]) == (200, "OK", "jwt")
        assert body["access_token"].startswith("QJWT ey")
        # Mirrored for a client that reads data.access_token.
        assert body["data"]["access_token"] == body["access_token"]

    def test_access_key_login_token_is_a_jwt_of_the_access_key(self, client: Client) -> None:
        user = username()
        body = client.get(login_url(user, password(user))).json()

        payload = jwt_payload(body["access_token"])

        assert payload["sub"] == AK
        assert payload["exp"] - payload["iat"] == body["expires_in"] == 7200

    def test_access_key_login_accepts_post_and_a_form_body(self, client: Client) -> None:
        user = username()
        query = {"grant_type": "password", "username": user, "password": password(user)}

        by_query = client.post(LOGIN, params=query).json()
        by_form = client.post(LOGIN, data=query).json()
        by_json = client.post(LOGIN, json=query).json()

        assert [b["code"] for b in (by_query, by_form, by_json)] == [200, 200, 200]

    def test_access_key_login_fields_in_any_order(self, client: Client) -> None:
        user = (
            f"timestamp=1743059249391&access_key={AK}&sign_method=sha256&ver=1&auth_mode=accessKey"
        )

        body = client.get(login_url(user, password(user))).json()

        assert body["code"] == 200

    def test_access_key_login_with_unknown_access_key_returns_90047(self, client: Client) -> None:
        expected = load_sample(SAMPLES / "devicemgr_access_key_login.failure.json")
        user = username(access_key="nobody")

        body = client.get(login_url(user, password(user))).json()

        assert body == expected

    def test_access_key_login_with_wrong_password_returns_50005(self, client: Client) -> None:
        user = username()

        body = client.get(login_url(user, password(user, secret="wrong"))).json()

        assert body["code"] == 50005
        assert body["error"] == body["msg"]

    @pytest.mark.parametrize(
        "query",
        [
            {"grant_type": ""},
            {"grant_type": "client_credentials"},
            {"username": "ver=1"},
            {"username": "nonsense"},
            {"username": "ver=2&auth_mode=accessKey&sign_method=sha256&access_key=a&timestamp=1"},
            {"username": "ver=1&auth_mode=accessKey&sign_method=sha256&access_key=a&timestamp=x"},
            {"username": "ver=1&auth_mode=accessKey&sign_method=sha256&timestamp=1"},
            {"password": ""},
        ],
        ids=repr,
    )
    def test_access_key_login_with_bad_parameters_returns_50005(
        self, client: Client, query: dict[str, str]
    ) -> None:
        user = username()
        params = {"grant_type": "password", "username": user, "password": password(user), **query}

        body = client.get(LOGIN, params=params).json()

        assert body["code"] == 50005

    def test_access_key_login_with_malformed_json_body_returns_50005(self, client: Client) -> None:
        response = client.post(LOGIN, content=b"{", headers={"Content-Type": "application/json"})

        assert response.json()["code"] == 50005

    def test_lenient_login_ignores_the_timestamp_window(self, client: Client) -> None:
        user = username(timestamp_ms=1743059249391)  # the doc's example timestamp

        assert client.get(login_url(user, password(user))).json()["code"] == 200

    def test_strict_login_with_stale_timestamp_returns_50005(
        self, strict: tuple[Client, Clock]
    ) -> None:
        client, clock = strict
        user = username(timestamp_ms=clock.now_ms() - 11 * 60 * 1000)

        body = client.get(login_url(user, password(user))).json()

        assert body["code"] == 50005
        assert "timestamp" in body["msg"]

    def test_auth_off_login_skips_the_password(self, make_client: ClientFactory) -> None:
        user = username()

        body = make_client(auth="off").get(login_url(user, "not-a-hash")).json()

        assert body["code"] == 200


class TestStrictRoundTrip:
    def test_strict_token_round_trip(self, strict: tuple[Client, Clock]) -> None:
        client, clock = strict
        token = login(client, clock.now_ms())

        ok = create_batch(client, [device("st-1")], headers={"Authorization": token})
        bearer = create_batch(
            client, [device("st-2")], headers={"Authorization": f"Bearer {token}"}
        )
        bare = create_batch(client, [device("st-3")], headers={"Authorization": token[5:]})

        assert [ok["code"], bearer["code"], bare["code"]] == [200, 200, 200]

    def test_strict_expired_token_returns_91004(self, strict: tuple[Client, Clock]) -> None:
        client, clock = strict
        token = login(client, clock.now_ms())

        clock.advance(7200)
        body = create_batch(client, [device("late-1")], headers={"Authorization": token})

        assert (body["code"], body["data"]) == (91004, None)
        assert "expired" in body["msg"]

    def test_strict_tampered_token_returns_91004(self, strict: tuple[Client, Clock]) -> None:
        client, clock = strict
        token = login(client, clock.now_ms())

        body = create_batch(client, [device("t-1")], headers={"Authorization": token[:-2] + "xx"})

        assert body["code"] == 91004

    def test_strict_without_token_returns_91001(self, strict: tuple[Client, Clock]) -> None:
        client, _ = strict

        assert create_batch(client, [device("t-1")], headers={})["code"] == 91001

    def test_refresh_within_30_minutes_returns_the_same_token(
        self, strict: tuple[Client, Clock]
    ) -> None:
        client, clock = strict
        token = login(client, clock.now_ms())
        clock.advance(29 * 60)

        body = refresh(client, token)

        assert (body["code"], body["access_token"]) == (200, token)
        assert body["expires_in"] == 7200 - 29 * 60

    def test_refresh_after_30_minutes_issues_a_new_token_that_outlives_the_old(
        self, strict: tuple[Client, Clock]
    ) -> None:
        client, clock = strict
        token = login(client, clock.now_ms())
        clock.advance(31 * 60)

        fresh = refresh(client, token, name="refreshToken")["access_token"]
        clock.advance(7200 - 31 * 60)

        assert fresh != token
        assert create_batch(client, [device("r-1")], headers={"Authorization": token})["code"] == (
            91004
        )
        assert (
            create_batch(client, [device("r-2")], headers={"Authorization": fresh})["code"] == 200
        )

    def test_refresh_of_unknown_token_returns_91004(self, client: Client) -> None:
        body = refresh(client, "QJWT eyJhbGciOiJIUzI1NiJ9.e30.c2ln")

        assert (body["code"], body["error"]) == (91004, "Token incorrect")

    def test_refresh_of_expired_token_returns_91004(self, strict: tuple[Client, Clock]) -> None:
        client, clock = strict
        token = login(client, clock.now_ms())
        clock.advance(7201)

        assert refresh(client, token)["code"] == 91004

    @pytest.mark.parametrize(
        "params",
        [{"grant_type": "refresh_token"}, {"grant_type": "password", "refresh_token": "t"}],
    )
    def test_refresh_with_bad_parameters_returns_50005(
        self, client: Client, params: dict[str, str]
    ) -> None:
        assert client.get(REFRESH, params=params).json()["code"] == 50005


def test_unknown_token_service_path_answers_in_its_envelope(client: Client) -> None:
    body = client.get("/v2/quecauth/accessKeyAuthrize/nope").json()

    assert (body["code"], "error" in body) == (50005, True)
