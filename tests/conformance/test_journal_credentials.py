"""Every credential of every flow stays out of the journal: what the client sends (query,
headers, JSON and form bodies) and what the emulator hands out (tokens, device secrets).

Each vendor declares its credential fields (``credentials`` of its ``Vendor``, core/masking.py);
these tests run each flow for real and look for the credential values anywhere in what
``GET /_emulator/requests`` shows.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from emulator.core.journal import MASK
from tests.conftest import Client, ClientFactory
from tests.control.helpers import create_body
from tests.vendors.enos import helpers as enos
from tests.vendors.mcs import helpers as mcs
from tests.vendors.quectel import devicemgr_helpers as saas
from tests.vendors.quectel import enduser_helpers as enduser


@pytest.fixture
def client(make_client: ClientFactory) -> Client:
    # Strict auth: every token the flows use was issued by the emulator (and must be masked).
    return make_client(auth="strict")


def journal_of(client: Client, operation: str) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = client.get(
        "/_emulator/requests", params={"operation": operation}
    ).json()["requests"]
    assert entries, f"no journal entry for {operation}"
    return entries


def assert_hidden(client: Client, operation: str, *secrets: str) -> list[dict[str, Any]]:
    entries = journal_of(client, operation)
    text = json.dumps(entries)
    for secret in secrets:
        assert secret, "a flow handed out an empty credential"
        assert secret not in text, f"{operation}: a credential is readable in the journal"
    return entries


# --- Quectel -------------------------------------------------------------------------------


def test_saas_login_and_refresh_hide_password_and_tokens(client: Client) -> None:
    user = saas.username()
    password = saas.password(user)
    login = client.get(saas.login_url(user, password)).json()
    # The access token is refreshed by itself (REAL-CLIENTS.md: refresh_token=<token>).
    token = login["access_token"]
    refresh = client.get(
        saas.REFRESH, params={"grant_type": "refresh_token", "refresh_token": token}
    ).json()
    assert refresh["code"] == 200

    [entry] = assert_hidden(client, "quectel.auth.access_key_login", password, token)
    assert entry["query"]["password"] == MASK
    assert entry["response"]["access_token"] == MASK
    assert_hidden(client, "quectel.auth.refresh_token", token, refresh["access_token"])


def test_create_batch_hides_the_authorization_token(client: Client) -> None:
    token = saas.login(client)
    body = saas.create_batch(client, [saas.device("DKMASK01")], headers={"Authorization": token})
    assert body["code"] == 200
    [entry] = assert_hidden(client, "quectel.devicemgr.create_batch", token)
    assert entry["headers"]["authorization"] == MASK


@pytest.mark.parametrize("where", ["query", "form"])
def test_email_pwd_login_hides_pwd_random_signature_and_tokens(client: Client, where: str) -> None:
    params = enduser.login_params()
    sent: dict[str, Any] = {"params": params} if where == "query" else {"data": params}
    login = client.post(enduser.LOGIN, **sent).json()
    assert login["code"] == 200, login
    data = login["data"]

    [entry] = assert_hidden(
        client, "quectel.enduser.email_pwd_login",
        params["pwd"], params["random"], params["signature"],
        data["accessToken"]["token"], data["refreshToken"]["token"],
    )  # fmt: skip
    shown = entry["query"] if where == "query" else entry["body"]
    if where == "form":
        # A form is kept as a form, its credentials masked and the rest readable.
        assert f"email={enduser.EMAIL.replace('@', '%40')}" in shown
        assert f"random={MASK}" in shown
    else:
        assert (shown["email"], shown["random"], shown["pwd"]) == (enduser.EMAIL, MASK, MASK)


@pytest.mark.parametrize("where", ["query", "form"])
def test_end_user_refresh_hides_the_refresh_token(client: Client, where: str) -> None:
    refresh_token = enduser.login(client)["data"]["refreshToken"]["token"]
    sent = {"refreshToken": refresh_token}
    kwargs: dict[str, Any] = {"params": sent} if where == "query" else {"data": sent}
    refreshed = client.put(enduser.REFRESH, **kwargs).json()
    assert refreshed["code"] == 200, refreshed
    assert_hidden(
        client, "quectel.enduser.refresh_token",
        refresh_token, refreshed["data"]["accessToken"]["token"],
    )  # fmt: skip


def test_batch_control_hides_the_end_user_token(client: Client) -> None:
    token = enduser.access_token(client)
    client.post(
        enduser.BATCH_CONTROL,
        json=enduser.command_body([enduser.pkdk("DK00001")]),
        headers={"Authorization": token},
    )
    assert_hidden(client, "quectel.enduser.batch_control_device", token)


# --- EnOS ----------------------------------------------------------------------------------


def test_enos_token_get_and_refresh_hide_encryption_and_tokens(client: Client) -> None:
    body = enos.token_body()
    token = client.post("/apim-token-service/v2.0/token/get", json=body).json()
    access = token["data"]["accessToken"]
    refreshed = client.post(
        "/apim-token-service/v2.0/token/refresh", json={**body, "accessToken": access}
    ).json()
    assert refreshed["status"] == 0, refreshed

    [entry] = assert_hidden(client, "enos.token.get", body["encryption"], access)
    assert entry["body"]["appKey"] == enos.AK
    assert_hidden(
        client, "enos.token.refresh",
        body["encryption"], access, refreshed["data"]["accessToken"],
    )  # fmt: skip


def test_enos_create_device_hides_the_token_signature_and_device_secret(client: Client) -> None:
    body = enos.token_body()
    access = client.post("/apim-token-service/v2.0/token/get", json=body).json()["data"][
        "accessToken"
    ]
    raw = enos.dumps(create_body("dkmask01"))
    query = {"action": "create", "orgId": enos.ORG}
    headers = enos.signed_headers(access, query, raw)
    created = client.post(enos.devices_url("create"), content=raw, headers=headers).json()
    assert created["code"] == 0, created

    [entry] = assert_hidden(
        client, "enos.connect.create_device",
        access, headers["apim-signature"], created["data"]["deviceSecret"],
    )  # fmt: skip
    # An EnOS deviceKey names the device: it stays readable.
    assert entry["response"]["data"]["deviceKey"] == "dkmask01"


# --- MCS -----------------------------------------------------------------------------------


def test_mcs_login_refresh_and_register_hide_password_tokens_and_device_key(
    client: Client,
) -> None:
    login = mcs.login(client)
    access, refresh_token = login["access_token"], login["token"]
    refreshed = client.post(
        mcs.LOGIN_URL + "/refresh", headers=mcs.basic(), data={"token": refresh_token}
    ).json()["results"]
    registered = mcs.register(client, mcs.device(), headers=mcs.bearer(refreshed["access_token"]))

    assert_hidden(client, "mcs.oauth.login", mcs.PASSWORD, mcs.APP_SECRET, access, refresh_token)
    assert_hidden(
        client, "mcs.oauth.refresh", refresh_token, mcs.APP_SECRET, refreshed["access_token"]
    )
    [entry] = assert_hidden(
        client, "mcs.register_device", refreshed["access_token"], registered["deviceKey"]
    )
    # The device's id is no secret.
    assert entry["response"]["deviceId"] == registered["deviceId"]
