"""The optional admin token of the control plane, and the warning on a wide bind without it."""

from __future__ import annotations

import logging

import pytest

from emulator import cli
from emulator.config import Settings
from emulator.control.auth import is_loopback
from tests.conftest import ClientFactory
from tests.control.helpers import CREATE, create_body
from tests.vendors.enos.helpers import HEADERS, devices_url

TOKEN = "s3cret-admin-token"


def test_control_plane_without_the_admin_token_answers_401_in_control_json(
    make_client: ClientFactory,
) -> None:
    client = make_client(admin_token=TOKEN)
    answer = client.get("/_emulator/state")
    assert answer.status_code == 401
    assert answer.headers["content-type"].startswith("application/json")
    error = answer.json()["error"]
    assert error["status"] == 401
    assert "admin token" in error["message"]
    assert answer.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/_emulator/reset"),
        ("GET", "/_emulator/requests"),
        ("POST", "/_emulator/faults"),
        ("GET", "/_emulator/conformance"),
        ("GET", "/_emulator/coverage"),
        ("GET", "/_emulator/metrics"),
        ("GET", "/_emulator/no-such-thing"),
    ],
)
def test_every_control_path_but_health_needs_the_admin_token(
    make_client: ClientFactory, method: str, path: str
) -> None:
    client = make_client(admin_token=TOKEN)
    assert client.request(method, path).status_code == 401


def test_a_wrong_admin_token_is_refused(make_client: ClientFactory) -> None:
    client = make_client(admin_token=TOKEN)
    answer = client.get("/_emulator/state", headers={"Authorization": "Bearer not-it"})
    assert answer.status_code == 401
    assert answer.json()["error"]["message"] == "the admin token is not valid"


@pytest.mark.parametrize(
    "headers",
    [{"Authorization": f"Bearer {TOKEN}"}, {"X-Emulator-Admin-Token": TOKEN}],
)
def test_the_admin_token_opens_the_control_plane(
    make_client: ClientFactory, headers: dict[str, str]
) -> None:
    client = make_client(admin_token=TOKEN)
    assert client.post("/_emulator/reset", headers=headers).status_code == 200
    assert client.get("/_emulator/requests", headers=headers).status_code == 200


def test_health_stays_open_with_an_admin_token(make_client: ClientFactory) -> None:
    client = make_client(admin_token=TOKEN)
    assert client.get("/_emulator/health").status_code == 200


def test_vendor_paths_ignore_the_admin_token(make_client: ClientFactory) -> None:
    client = make_client(admin_token=TOKEN)
    answer = client.post(devices_url("create"), json=create_body("admin-1"), headers=HEADERS)
    assert answer.status_code == 200
    assert answer.json()["code"] == 0
    journal = client.get(
        "/_emulator/requests",
        params={"operation": CREATE},
        headers={"X-Emulator-Admin-Token": TOKEN},
    ).json()
    assert journal["count"] == 1


def test_without_an_admin_token_the_control_plane_is_open(make_client: ClientFactory) -> None:
    assert make_client().get("/_emulator/state").status_code == 200


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1", "127.0.0.2"])
def test_loopback_binds_need_no_warning(host: str) -> None:
    assert is_loopback(host)
    assert cli.bind_warning(Settings(host=host, db=":memory:")) is None


def test_binding_beyond_loopback_without_an_admin_token_warns(
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = Settings(host="0.0.0.0", db=":memory:")
    with caplog.at_level(logging.WARNING, logger="emulator.cli"):
        cli._announce(settings)
    assert any("without an admin token" in r.getMessage() for r in caplog.records)


def test_binding_beyond_loopback_with_an_admin_token_does_not_warn() -> None:
    assert cli.bind_warning(Settings(host="0.0.0.0", db=":memory:", admin_token=TOKEN)) is None


def test_the_admin_token_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EMULATOR_ADMIN_TOKEN", TOKEN)
    settings = Settings(db=":memory:")
    assert settings.admin_token == TOKEN
    assert TOKEN not in repr(settings)
