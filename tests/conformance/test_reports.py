"""The conformance report (``GET /_emulator/conformance``, ``iot-emulator conformance``) and
the client coverage report (``GET /_emulator/coverage``)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from click.testing import CliRunner

from emulator.cli import main
from emulator.core import conformance
from emulator.core.operations import OPERATIONS
from emulator.vendors.enos.connect.errors import ConnectError
from tests.conftest import Client
from tests.control.helpers import CREATE, create_body
from tests.vendors.enos.helpers import HEADERS, devices_url


def report(client: Client) -> dict[str, Any]:
    answer = client.get("/_emulator/conformance")
    assert answer.status_code == 200
    data: dict[str, Any] = answer.json()
    return data


def operations_of(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {op["id"]: op for doc in data["docs"] for op in doc["operations"]}


# --- conformance --------------------------------------------------------------------------


def test_conformance_report_names_the_five_docs(client: Client) -> None:
    docs = [doc["doc"] for doc in report(client)["docs"]]
    assert docs[:5] == list(conformance.doc_operations())
    # Then the device protocol's document (EnOS over MQTT), then the companions'.
    assert docs[5:] == ["ENOS-DEVICES.md", conformance.COMPANION_DOC]


def test_conformance_report_lists_the_mqtt_messages_under_their_document(client: Client) -> None:
    (devices,) = [doc for doc in report(client)["docs"] if doc["doc"] == "ENOS-DEVICES.md"]
    listed = {op["id"]: op for op in devices["operations"]}
    assert all(op_id.startswith("enos.mqtt.") for op_id in listed)
    assert {"enos.mqtt.login", "enos.mqtt.event_post", "enos.mqtt.topo_add"} <= set(listed)
    post = listed["enos.mqtt.measurepoint_post"]
    assert (post["method"], post["path"]) == (
        "PUBLISH",
        "/sys/{productKey}/{deviceKey}/thing/measurepoint/post",
    )
    assert listed["enos.mqtt.combine_login"]["path"].startswith("/ext/session/{productKey}/")
    login = listed["enos.mqtt.login"]
    assert login["method"] == "CONNECT"
    coverage = {c["code"]: c["coverage"] for c in login["codes"]}
    assert coverage == {3: conformance.FAULT_ONLY, 5: conformance.REAL_INPUT}
    # Their codes travel in a packet, not under an HTTP status.
    assert {(c["answer"], c["httpStatus"]) for c in login["codes"]} == {("CONNACK", None)}
    reply = "PUBLISH /sys/{productKey}/{deviceKey}/thing/measurepoint/post_reply"
    assert {(c["answer"], c["httpStatus"]) for c in post["codes"]} == {(reply, None)}
    # The topics not served: one operation, 1009 its answer to real input.
    unsupported = listed["enos.mqtt.unsupported_topic"]
    assert (unsupported["method"], unsupported["path"]) == ("PUBLISH", "{unsupported topic}")
    coverage = {c["code"]: c["coverage"] for c in unsupported["codes"]}
    assert coverage[1009] == conformance.REAL_INPUT
    assert coverage[1260] == coverage[99500] == conformance.FAULT_ONLY


def test_conformance_text_shows_the_packet_of_an_mqtt_code_and_no_http_status(
    client: Client,
) -> None:
    text = client.get("/_emulator/conformance", params={"format": "text"}).text
    mqtt = text[text.index("== ENOS-DEVICES.md") : text.index(f"== {conformance.COMPANION_DOC}")]
    assert "HTTP" not in mqtt
    assert "     5  CONNACK  real input" in mqtt
    assert "  1220  PUBLISH /sys/{productKey}/{deviceKey}/thing/measurepoint/post_reply  " in mqtt


def test_conformance_report_lists_every_operation_and_every_documented_code(
    client: Client,
) -> None:
    listed = operations_of(report(client))
    assert set(listed) == set(OPERATIONS)
    for op_id, operation in OPERATIONS.items():
        codes = {c["code"]: c["coverage"] for c in listed[op_id]["codes"]}
        assert sorted(codes) == operation.codes(), op_id
        for code in operation.fault_only:
            assert codes[code] == conformance.FAULT_ONLY, (op_id, code)
        assert set(codes.values()) <= {conformance.REAL_INPUT, conformance.FAULT_ONLY}


def test_conformance_report_marks_11714_fault_only_and_11702_real_input(client: Client) -> None:
    create = operations_of(report(client))[CREATE]
    coverage = {c["code"]: c["coverage"] for c in create["codes"]}
    assert coverage[ConnectError.DEVICE_KEY_GENERATION_FAILED.code] == conformance.FAULT_ONLY
    assert coverage[ConnectError.DEVICE_KEY_EXISTS.code] == conformance.REAL_INPUT
    # An emulator bug answered in the vendor's envelope: no correct input reaches it.
    assert coverage[ConnectError.EMULATOR_INTERNAL_ERROR.code] == conformance.FAULT_ONLY


def test_conformance_report_follows_the_error_tables(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Generated, not written: a change of the registration shows at once.
    original = OPERATIONS[CREATE]
    changed = type(original)(
        original.id, original.vendor, original.errors,
        fault_only=original.fault_only | {ConnectError.DEVICE_KEY_EXISTS.code},
    )  # fmt: skip
    monkeypatch.setitem(OPERATIONS, CREATE, changed)
    coverage = {c["code"]: c["coverage"] for c in operations_of(report(client))[CREATE]["codes"]}
    assert coverage[ConnectError.DEVICE_KEY_EXISTS.code] == conformance.FAULT_ONLY


def test_conformance_report_gives_fields_and_limits_from_the_schemas(client: Client) -> None:
    listed = operations_of(report(client))
    create = {f["name"]: f for f in listed[CREATE]["fields"]}
    assert create["deviceKey"]["limits"] == {"minLength": 1, "maxLength": 64}
    assert create["productKey"]["required"] is True
    assert create["deviceName.defaultValue"]["in"] == "body"
    batch = {f["name"]: f for f in listed["quectel.devicemgr.create_batch"]["fields"]}
    assert batch["devices"]["limits"]["maxItems"] == 500
    register = {f["name"] for f in listed["mcs.register_device"]["fields"]}
    assert {"prodId", "devices", "devices[].prodId"} <= register


def test_conformance_report_summary_adds_up(client: Client) -> None:
    data = report(client)
    summary = data["summary"]
    codes = [c for op in operations_of(data).values() for c in op["codes"]]
    assert summary["codes"] == len(codes) == summary["realInput"] + summary["faultOnly"]
    assert summary["faultOnly"] == sum(c["coverage"] == conformance.FAULT_ONLY for c in codes)
    assert summary["notEmulated"] == len(data["notEmulated"])


def test_conformance_report_as_text(client: Client) -> None:
    answer = client.get("/_emulator/conformance", params={"format": "text"})
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    assert "== enos-connect-create-device.md" in answer.text
    assert "11714  HTTP 200  fault only" in answer.text


def test_cli_conformance_prints_the_table_and_the_json() -> None:
    runner = CliRunner()
    table = runner.invoke(main, ["conformance"])
    assert table.exit_code == 0, table.output
    for doc in conformance.doc_operations():
        assert f"== {doc}" in table.output
    as_json = runner.invoke(main, ["conformance", "--json"])
    assert as_json.exit_code == 0
    assert set(operations_of(json.loads(as_json.output))) == set(OPERATIONS)


# --- coverage -----------------------------------------------------------------------------


def scripted_run(client: Client) -> None:
    """A client's test run: a create, a duplicate (11702), a bad body (99400), a forced
    11714, and a device lookup."""
    create = devices_url("create")
    assert client.post(create, json=create_body("cov-1"), headers=HEADERS).json()["code"] == 0
    assert client.post(create, json=create_body("cov-1"), headers=HEADERS).json()["code"] == 11702
    assert client.post(create, content=b"{", headers=HEADERS).json()["code"] == 99400
    armed = client.post("/_emulator/faults", json={"operation": CREATE, "code": 11714})
    assert armed.status_code == 201
    assert client.post(create, json=create_body("cov-2"), headers=HEADERS).json()["code"] == 11714
    got = client.get(devices_url("get", deviceKey="cov-1", productKey="Vu82Agp3"), headers=HEADERS)
    assert got.json()["code"] == 0


def coverage(client: Client, **params: str) -> dict[str, Any]:
    answer = client.get("/_emulator/coverage", params=params)
    assert answer.status_code == 200
    data: dict[str, Any] = answer.json()
    return data


def test_coverage_report_of_a_scripted_run(client: Client) -> None:
    scripted_run(client)

    data = coverage(client)

    by_id = {op["id"]: op for op in data["operations"]}
    assert set(by_id) == {CREATE, "enos.connect.get_device"}
    create = by_id[CREATE]
    assert (create["requests"], create["successes"]) == (4, 1)
    seen = {c["code"]: c for c in create["seen"]}
    assert set(seen) == {11702, 11714, 99400}
    assert seen[11714]["injected"] == 1
    assert seen[11714]["faultOnly"] is True
    assert seen[11702]["injected"] == 0
    documented = OPERATIONS[CREATE].codes()
    assert create["neverSeen"] == [c for c in documented if c not in seen]
    assert 11739 in create["neverSeenRealInput"]
    assert create["exercised"] == 3
    assert create["documented"] == len(documented)
    never = ", ".join(str(c) for c in create["neverSeen"][:-1])
    expected = f"{CREATE}: your client never saw {never} or {create['neverSeen'][-1]}"
    assert expected in data["gaps"]
    assert data["summary"]["requests"] == 5
    assert data["summary"]["exercisedCodes"] == 3


def test_coverage_report_lists_operations_never_called(client: Client) -> None:
    scripted_run(client)
    data = coverage(client, vendor="enos")
    not_called = {op["id"] for op in data["notCalled"]}
    assert "enos.dps.allocate" in not_called
    assert all(op["vendor"] == "enos" for op in [*data["operations"], *data["notCalled"]])
    assert data["summary"]["operationsCalled"] + data["summary"]["operationsNotCalled"] == len(
        [op for op in OPERATIONS.values() if op.vendor == "enos"]
    )


def test_coverage_report_of_a_fresh_namespace_is_empty(client: Client) -> None:
    data = coverage(client)
    assert data["operations"] == []
    assert data["summary"]["requests"] == 0
    assert len(data["notCalled"]) == len(OPERATIONS)


def test_coverage_report_sees_only_its_namespace(client: Client, root_client: Client) -> None:
    scripted_run(client)
    own = coverage(client)
    assert own["summary"]["requests"] == 5
    other = coverage(root_client, namespace="no-run-here")
    assert other["summary"]["requests"] == 0
