"""The vendor contract end to end: Acme, a vendor that lives only in this folder, is served
with everything a built-in vendor gets, from one registration (``registered(VENDOR)``).

Always in process: the registration is this process's (a server started by the suite runs
the built-in vendors only).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from emulator.app import create_app
from emulator.cli import main
from emulator.config import DEFAULT_FIXTURES, Settings
from emulator.core import fixtures, masking
from emulator.core.ids import Ids
from emulator.core.journal import MASK
from emulator.core.operations import OPERATIONS
from emulator.core.vendor import registered
from tests.acme.errors import AcmeError
from tests.acme.routes import CREATE_DEVICE
from tests.acme.vendor import VENDOR

ACME_FIXTURES = Path(__file__).resolve().parent / "acme.yaml"
URL = "/acme/v1/devices"
# Well formed, as lenient auth (the default) asks; test_acme_auth.py covers the modes.
TOKEN = {"X-Acme-Token": "acme-lenient0001"}


@pytest.fixture
def acme() -> Iterator[None]:
    with registered(VENDOR):
        yield


@pytest.fixture
def client(acme: None) -> Iterator[TestClient]:
    # mqtt=False: the app's lifespan runs here, and the default MQTT port is one per machine.
    settings = Settings(
        db=":memory:", seed=7, fixtures=[DEFAULT_FIXTURES, ACME_FIXTURES], mqtt=False
    )
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def create(client: TestClient, device_key: str, product_key: str = "AcmeP1") -> Any:
    return client.post(
        URL, json={"productKey": product_key, "deviceKey": device_key}, headers=TOKEN
    )


def test_the_operation_answers_in_the_vendors_envelope(client: TestClient) -> None:
    answer = create(client, "acme-0002")
    assert answer.status_code == 200
    body = answer.json()
    assert (body["code"], body["data"]["deviceKey"]) == (0, "acme-0002")
    assert create(client, "acme-0002").json()["code"] == AcmeError.DEVICE_EXISTS.code
    assert create(client, "x", "NoSuchProduct").json()["code"] == 4004
    assert create(client, "").json()["code"] == AcmeError.INVALID_ARGUMENT.code


def test_an_unknown_path_under_its_prefix_answers_in_its_envelope(client: TestClient) -> None:
    answer = client.get("/acme/v1/nothing-here")
    assert answer.json()["code"] == AcmeError.INVALID_ARGUMENT.code


def test_the_journal_records_its_operation(client: TestClient) -> None:
    create(client, "journaled")
    (entry,) = client.get("/_emulator/requests", params={"operation": CREATE_DEVICE}).json()[
        "requests"
    ]
    assert (entry["operation"], entry["vendorCode"]) == (CREATE_DEVICE, 0)


def test_the_journal_masks_the_credentials_it_declares(client: TestClient) -> None:
    code = create(client, "masked").json()["data"]["pairingCode"]
    (entry,) = client.get("/_emulator/requests", params={"operation": CREATE_DEVICE}).json()[
        "requests"
    ]
    assert code not in json.dumps(entry)
    assert entry["response"]["data"]["pairingCode"] == MASK


def test_a_fault_injects_its_fault_only_code(client: TestClient) -> None:
    armed = client.post(
        "/_emulator/faults", json={"operation": CREATE_DEVICE, "code": 5000, "times": 1}
    )
    assert armed.status_code == 201, armed.text
    answer = create(client, "never")
    assert (answer.status_code, answer.json()["code"]) == (500, 5000)
    assert create(client, "after-the-fault").json()["code"] == 0


def test_openapi_publishes_its_operation_and_codes(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    (operation,) = [
        op for path in spec["paths"].values() for op in path.values()
        if op.get("operationId") == CREATE_DEVICE
    ]  # fmt: skip
    assert {row["code"] for row in operation["x-error-codes"]} == {m.code for m in AcmeError}


def test_the_conformance_report_lists_its_doc(client: TestClient) -> None:
    report = client.get("/_emulator/conformance").json()
    (doc,) = [d for d in report["docs"] if d["doc"] == "acme-create-device.md"]
    (operation,) = doc["operations"]
    codes = {c["code"]: c["coverage"] for c in operation["codes"]}
    assert codes[5000] == "fault only"
    assert codes[4009] == "real input"


def test_the_coverage_report_sees_its_calls(client: TestClient) -> None:
    create(client, "covered")
    create(client, "covered")
    report = client.get("/_emulator/coverage", params={"vendor": "acme"}).json()
    (operation,) = report["operations"]
    assert operation["id"] == CREATE_DEVICE
    assert (operation["requests"], operation["successes"]) == (2, 1)
    assert [c["code"] for c in operation["seen"]] == [AcmeError.DEVICE_EXISTS.code]


def test_its_fixture_section_loads_and_checks_references(client: TestClient) -> None:
    device = client.get("/_emulator/devices/acme/AcmeP1/acme-0001").json()
    assert (device["vendor"], device["online"]) == ("acme", True)
    with pytest.raises(fixtures.FixtureError, match=r"acme\.devices\[0\]\.productKey"):
        fixtures.parse_document(
            {"acme": {"devices": [{"productKey": "missing", "deviceKey": "d"}]}}, "test"
        )


def test_its_state_exports_and_imports_back(client: TestClient) -> None:
    create(client, "exported")
    client.post("/_emulator/devices/acme/AcmeP1/exported/online")
    state = client.get("/_emulator/state").json()
    keys = [d["deviceKey"] for d in state["acme"]["devices"]]
    assert keys == ["acme-0001", "exported"]
    client.post("/_emulator/reset")
    assert client.get("/_emulator/devices/acme/AcmeP1/exported").status_code == 404
    assert client.put("/_emulator/state", json=state).status_code == 200
    assert client.get("/_emulator/state").json() == state
    assert client.get("/_emulator/devices/acme/AcmeP1/exported").json()["online"] is True


def test_the_dashboards_lists_show_its_devices(client: TestClient) -> None:
    listed = client.get("/_emulator/devices", params={"vendor": "acme"}).json()
    assert [d["deviceKey"] for d in listed["devices"]] == ["acme-0001"]
    products = client.get("/_emulator/products", params={"vendor": "acme"}).json()["products"]
    assert [(p["productKey"], p["devices"], p["online"]) for p in products] == [("AcmeP1", 1, 1)]


def test_the_fleet_generator_fills_its_products(acme: None, tmp_path: Path) -> None:
    db = tmp_path / "fleet.db"
    result = CliRunner().invoke(
        main,
        ["fleet", "--vendor", "acme", "--product", "AcmeP1", "--count", "3", "--quiet",
         "--db", str(db), "--fixtures", str(DEFAULT_FIXTURES), "--fixtures", str(ACME_FIXTURES)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    settings = Settings(db=str(db), fixtures=[DEFAULT_FIXTURES, ACME_FIXTURES], mqtt=False)
    with TestClient(create_app(settings)) as client:
        listed = client.get("/_emulator/devices", params={"vendor": "acme"}).json()
    assert listed["total"] == 4


def test_unregistered_it_is_gone() -> None:
    assert CREATE_DEVICE not in OPERATIONS
    assert masking.of_operation(CREATE_DEVICE) is masking.GENERIC
    with pytest.raises(fixtures.FixtureError, match="acme"):
        fixtures.parse_document({"acme": {}}, "test")
    doc = fixtures.parse_document({}, "test")
    assert fixtures.build_baseline(doc, Ids(1, "x"), 0).rows == {}
