"""No web page can drive the control plane: cross-site requests (Origin), the content types a
page may send without a preflight, and rebound host names (Host, on a loopback bind) are
refused (control/guard.py); clients that are not browsers, the dashboard (same origin) and
the vendor paths are not affected."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from emulator.app import create_app
from emulator.config import Settings
from emulator.testing import serve_in_thread
from tests import calls
from tests.conftest import Client
from tests.control.helpers import CREATE
from tests.vendors.enos.helpers import HEADERS, devices_url

EVIL = "http://evil.example"


def faults(client: Client) -> list[object]:
    listed: list[object] = client.get("/_emulator/faults").json()["faults"]
    return listed


def test_a_cross_site_post_is_refused_and_changes_nothing(client: Client) -> None:
    spec = {"operation": CREATE, "code": 99500}
    response = client.post("/_emulator/faults", json=spec, headers={"Origin": EVIL})
    assert response.status_code == 403
    assert response.headers["content-type"] == "application/json"
    assert EVIL in response.json()["error"]["message"]
    assert faults(client) == []


def test_a_cross_site_text_plain_reset_in_a_namespace_is_refused(client: Client) -> None:
    response = client.post(
        "/_emulator/reset",  # the client is in its own namespace: /ns/{name}/...
        content=b"{}",
        headers={"Origin": EVIL, "Content-Type": "text/plain"},
    )
    assert response.status_code == 403


@pytest.mark.parametrize("origin", ["null", "http://127.0.0.1.evil.example", "https://testserver"])
def test_an_origin_that_is_not_this_servers_is_refused(client: Client, origin: str) -> None:
    assert client.get("/_emulator/requests", headers={"Origin": origin}).status_code == 403


@pytest.mark.parametrize(
    "kind", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"]
)
def test_a_body_that_is_not_json_or_yaml_is_415(client: Client, kind: str) -> None:
    response = client.post(
        "/_emulator/faults", content=b'{"operation":"x"}', headers={"Content-Type": kind}
    )
    assert response.status_code == 415
    assert "application/json" in response.json()["error"]["message"]


def test_a_same_origin_request_and_one_without_origin_pass(client: Client) -> None:
    base = str(client.base_url).split("/ns/")[0].rstrip("/")
    spec = {"operation": CREATE, "code": 99500, "times": 1}
    same = client.post("/_emulator/faults", json=spec, headers={"Origin": base})
    assert same.status_code == 201, same.text
    assert client.post("/_emulator/faults", json=spec).status_code == 201
    assert len(faults(client)) == 2


def test_yaml_fixtures_and_an_empty_form_post_pass(client: Client) -> None:
    merged = client.post(
        "/_emulator/fixtures", content=b"enos: {}\n", headers={"Content-Type": "text/yaml"}
    )
    assert merged.status_code == 200, merged.text
    # curl -X POST -d '' sends a form type with no body.
    empty = client.post(
        "/_emulator/reset", headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert empty.status_code == 200


def test_vendor_paths_ignore_origin(client: Client) -> None:
    response = client.post(
        devices_url("get", deviceKey="none", productKey="p"),
        headers={**HEADERS, "Origin": EVIL},
    )
    assert response.status_code == 200
    assert response.json()["code"] != 0  # the vendor's own answer (no such device)


# --- Host, on a real loopback socket --------------------------------------------------------


@pytest.fixture(scope="module")
def loopback_url() -> Iterator[str]:
    app = create_app(Settings(db=":memory:", host="127.0.0.1"))
    try:
        with serve_in_thread(app, host="127.0.0.1") as url:
            yield url
    finally:
        app.state.emulator.dispose()


def test_a_rebound_host_name_is_refused_on_a_loopback_bind(loopback_url: str) -> None:
    # What a page at evil.example sends once its name points at 127.0.0.1.
    response = calls.get(
        f"{loopback_url}/_emulator/requests", headers={"Host": "evil.example:8080"}
    )
    assert response.status_code == 403
    assert "Host" in response.json()["error"]["message"]


@pytest.mark.parametrize("name", ["localhost", "127.0.0.1", "[::1]"])
def test_loopback_host_names_pass_on_a_loopback_bind(loopback_url: str, name: str) -> None:
    port = loopback_url.rpartition(":")[2]
    response = calls.get(f"{loopback_url}/_emulator/health", headers={"Host": f"{name}:{port}"})
    assert response.status_code == 200


def test_any_host_name_passes_on_an_all_interfaces_bind() -> None:
    app = create_app(Settings(db=":memory:", host="0.0.0.0"))
    try:
        with serve_in_thread(app, host="127.0.0.1") as url:
            response = calls.get(f"{url}/_emulator/health", headers={"Host": "emulator:8080"})
    finally:
        app.state.emulator.dispose()
    assert response.status_code == 200
