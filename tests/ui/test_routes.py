"""The dashboard's routes, and the read-only control endpoints it added (no browser needed).

- ``GET /_emulator/ui`` and its assets (shipped in the package, nothing from a CDN);
- ``GET /_emulator/devices/{vendor}/{productKey}/{deviceKey}``, ``GET /_emulator/products``,
  ``GET /_emulator/dps/devices``;
- the journal's ``response`` (each request's answer, its secrets masked).
"""

from __future__ import annotations

import re
import tomllib
from fnmatch import fnmatch
from pathlib import Path

import pytest

from emulator.core import journal
from emulator.ui.routes import STATIC
from tests.conftest import Client
from tests.ui import scenario

ROOT = Path(__file__).resolve().parents[2]


def test_the_page_is_html_that_loads_its_own_module_and_stylesheet(client: Client) -> None:
    response = client.get("/_emulator/ui")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert '<script type="module" src="/_emulator/ui/static/main.js">' in response.text
    assert client.get("/_emulator/ui/").text == response.text


@pytest.mark.parametrize(
    ("name", "media_type"),
    [
        ("main.js", "text/javascript; charset=utf-8"),
        ("api.js", "text/javascript; charset=utf-8"),
        ("app.css", "text/css; charset=utf-8"),
        ("favicon.svg", "image/svg+xml"),
    ],
)
def test_assets_are_served_with_the_type_a_browser_requires(
    client: Client, name: str, media_type: str
) -> None:
    response = client.get(f"/_emulator/ui/static/{name}")
    assert response.status_code == 200
    assert response.headers["content-type"] == media_type
    assert response.content == (STATIC / name).read_bytes()


@pytest.mark.parametrize(
    "name", ["nope.js", "..%2Froutes.py", "routes.py", "%2E%2E%2F__init__.py", ".hidden.js"]
)
def test_unknown_or_outside_assets_answer_404_in_control_json(client: Client, name: str) -> None:
    response = client.get(f"/_emulator/ui/static/{name}")
    assert response.status_code == 404
    assert response.json()["error"]["status"] == 404


def test_every_module_import_is_a_shipped_file() -> None:
    for script in STATIC.glob("*.js"):
        for target in re.findall(r'from "\./([^"]+)"', script.read_text()):
            assert (STATIC / target).is_file(), f"{script.name} imports a missing {target}"


def test_no_asset_refers_to_another_origin() -> None:
    # Offline: no CDN, no web font, no analytics.
    for asset in STATIC.iterdir():
        # An XML namespace is a name, not something fetched.
        text = asset.read_text().replace('xmlns="http://www.w3.org/2000/svg"', "")
        assert not re.search(r"https?://|//[a-z0-9.-]+\.[a-z]{2,}/", text), asset.name


def test_package_data_ships_every_asset() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["package-data"]["emulator"]
    for asset in STATIC.iterdir():
        relative = asset.relative_to(ROOT / "emulator").as_posix()
        assert any(fnmatch(relative, p) for p in patterns), f"{relative} is not package data"


def test_the_page_is_served_under_a_namespace_prefix_too(client: Client) -> None:
    # ``client`` is bound to /ns/<name>: the page opened there shows that namespace.
    assert client.get("/_emulator/ui").status_code == 200


# --- one device ---------------------------------------------------------------------------


def test_get_device_answers_the_device_as_the_list_shows_it(client: Client) -> None:
    scenario.create_quectel_devices(client, "RD-1")
    listed = client.get("/_emulator/devices").json()["devices"][0]
    one = client.get("/_emulator/devices/quectel/PK0001/RD-1")
    assert one.status_code == 200
    assert one.json() == listed


def test_get_unknown_device_answers_404(client: Client) -> None:
    response = client.get("/_emulator/devices/quectel/PK0001/absent")
    assert response.status_code == 404
    assert response.json()["error"]["message"] == "no quectel device PK0001/absent"


def test_get_device_of_unknown_vendor_answers_400(client: Client) -> None:
    assert client.get("/_emulator/devices/acme/PK0001/DK1").status_code == 400


def test_device_tables_are_the_vendors_and_none_for_a_vendor_without(client: Client) -> None:
    scenario.create_quectel_devices(client, "RD-2")
    assert client.get("/_emulator/devices/quectel/PK0001/RD-2/tables").json() == {"tables": []}
    scenario.create_enos_device(client, "RD-3")
    # Nothing posted yet: no measure-point tables.
    assert client.get("/_emulator/devices/enos/Vu82Agp3/RD-3/tables").json() == {"tables": []}
    absent = client.get("/_emulator/devices/quectel/PK0001/absent/tables")
    assert absent.status_code == 404


# --- products -----------------------------------------------------------------------------


def test_products_count_devices_and_online_devices(client: Client) -> None:
    scenario.create_quectel_devices(client, "PC-1", "PC-2")
    scenario.set_online(client, "quectel", "PK0001", "PC-1")
    products = client.get("/_emulator/products", params={"vendor": "quectel"}).json()["products"]
    assert {p["productKey"] for p in products} == {"PK0001", "PKAEP01", "PKGW01"}
    pk0001 = next(p for p in products if p["productKey"] == "PK0001")
    assert pk0001 == {
        "vendor": "quectel",
        "productKey": "PK0001",
        "name": "Demo product",
        "orgId": None,
        "devices": 2,
        "online": 1,
    }


def test_products_of_every_vendor_by_default(client: Client) -> None:
    products = client.get("/_emulator/products").json()["products"]
    assert {p["vendor"] for p in products} == {"quectel", "enos", "mcs"}


# --- DPS inventory ------------------------------------------------------------------------


def test_dps_inventory_shows_the_baseline_sn_not_allocated(client: Client) -> None:
    body = client.get("/_emulator/dps/devices").json()
    assert body["total"] == 1
    assert body["groups"] == [
        {
            "orgId": "yourOrgId",
            "groupId": "yourGroupId",
            "productKey": "yourProductKey",
            "regionId": "regionId",
            "masterDataGroup": None,
        }
    ]
    (sn,) = body["devices"]
    assert (sn["sn"], sn["currentStatus"], sn["allocateStatus"], sn["connectStatus"]) == (
        "yourSn",
        "init",
        "init",
        "init",
    )
    assert sn["provisioned"] is None


def test_dps_inventory_matches_what_the_dps_get_answers(client: Client) -> None:
    scenario.allocate_dps(client)
    (sn,) = client.get("/_emulator/dps/devices").json()["devices"]
    got = client.post(
        scenario.DPS,
        params={"action": "get", "orgId": "yourOrgId", "sn": "yourSn"},
        headers=scenario.ENOS,
    ).json()["data"]
    assert {k: v for k, v in sn.items() if k in got} == got
    assert sn["provisioned"]["online"] is False
    assert sn["provisioned"]["exists"] is True


def test_dps_inventory_filters_by_status_and_follows_the_connection(client: Client) -> None:
    scenario.create_dps_batch(client, 2)
    scenario.allocate_dps(client)

    def sns(**params: str) -> list[str]:
        return [
            d["sn"] for d in client.get("/_emulator/dps/devices", params=params).json()["devices"]
        ]

    assert len(sns(status="init")) == 2
    assert sns(status="allocated") == ["yourSn"]
    assert sns(status="connected") == []
    (sn,) = client.get("/_emulator/dps/devices", params={"status": "allocated"}).json()["devices"]
    device = sn["provisioned"]
    scenario.set_online(client, "enos", device["productKey"], device["deviceKey"])
    assert sns(status="connected") == ["yourSn"]
    assert sns(groupId="absent") == []
    assert client.get("/_emulator/dps/devices", params={"status": "nope"}).status_code == 400


# --- the journal keeps each answer --------------------------------------------------------


def test_journal_entries_carry_the_answer_with_secrets_masked(client: Client) -> None:
    scenario.create_quectel_devices(client, "JR-1")
    (entry,) = client.get("/_emulator/requests").json()["requests"]
    assert entry["responseTruncated"] is False
    (created,) = entry["response"]["data"]["successList"]
    assert created["data"]["deviceKey"] == "JR-1"
    assert created["data"]["deviceSecret"] == "***"


def test_journal_answer_of_an_injected_fault_is_the_vendor_envelope(client: Client) -> None:
    client.post(
        "/_emulator/faults", json={"operation": "enos.connect.create_device", "code": 11714}
    )
    scenario.create_enos_device(client, "jr-enos")
    (entry,) = client.get("/_emulator/requests").json()["requests"]
    assert entry["injected"] is True
    assert entry["response"]["code"] == 11714


def test_journal_answer_masks_issued_tokens(client: Client) -> None:
    answer = client.post(
        "/oauth/login/thirdpart",
        auth=("demoAppKey0001", "demo-app-secret-0001"),
        data={"email": "developer@example.com", "password": "mcs-demo-password"},
    )
    assert answer.status_code == 200
    (entry,) = client.get("/_emulator/requests").json()["requests"]
    assert entry["response"]["token"] == entry["response"]["access_token"] == "***"
    assert entry["response"]["code"] == 200


def test_journal_answer_that_is_not_json_is_kept_as_text() -> None:
    entry = journal.Entry(
        id=1, at=0, namespace="n", operation="op", method="GET", path="/", query={},
        headers={}, body=None, status=200, vendor_code=None, duration_ms=0.0,
        response=journal.answer_body(b"plain text"),
    )  # fmt: skip
    assert entry.to_json()["response"] == "plain text"
    deep = b'{"a":' * 5000 + b"1" + b"}" * 5000
    entry.response = journal.answer_body(deep)
    assert entry.to_json()["response"] == deep.decode()
