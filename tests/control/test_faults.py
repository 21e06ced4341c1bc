"""Fault injection: ``POST/GET/DELETE /_emulator/faults``.

Codes no real input can trigger are tested here: 11714 for EnOS create device.
"""

from __future__ import annotations

from typing import Any

import pytest

from emulator.core.operations import OPERATIONS
from emulator.vendors.enos.connect.errors import ConnectError
from tests.conftest import Client
from tests.control.helpers import CREATE, create_body, create_device, enos_device_keys
from tests.vendors.enos.helpers import HEADERS, devices_url
from tests.vendors.quectel.devicemgr_helpers import create_batch, created, device, failures


def arm(client: Client, **rule: Any) -> dict[str, Any]:
    response = client.post("/_emulator/faults", json={"operation": CREATE, **rule})
    assert response.status_code == 201, response.text
    armed: dict[str, Any] = response.json()
    return armed


def post_create(client: Client, device_key: str) -> dict[str, Any]:
    response = client.post(devices_url("create"), json=create_body(device_key), headers=HEADERS)
    body: dict[str, Any] = response.json()
    return {"status": response.status_code, **body}


def test_create_device_fault_returns_11714_in_the_enos_envelope(client: Client) -> None:
    arm(client, code=11714)

    answer = post_create(client, "never")

    assert answer["status"] == 200  # EnOS business errors are HTTP 200
    assert (answer["code"], answer["msg"], answer["data"]) == (
        11714,
        "Generate deviceKey failed",
        None,
    )
    assert isinstance(answer["requestId"], str)
    assert "never" not in enos_device_keys(client)


def test_every_fault_only_code_of_create_device_is_injectable(client: Client) -> None:
    for code in sorted(OPERATIONS[CREATE].fault_only):
        arm(client, code=code, times=1)
        assert post_create(client, f"fault-{code}")["code"] == code


def test_an_injected_answer_is_marked_in_the_journal(client: Client) -> None:
    rule = arm(client, code=ConnectError.DEVICE_KEY_GENERATION_FAILED.code)
    post_create(client, "marked")

    (entry,) = client.get("/_emulator/requests").json()["requests"]

    assert (entry["injected"], entry["faultId"], entry["vendorCode"]) == (True, rule["id"], 11714)


def test_a_fault_with_times_fires_that_many_times_then_disarms(client: Client) -> None:
    arm(client, code=11714, times=2)

    codes = [post_create(client, f"t{i}")["code"] for i in range(3)]

    assert codes == [11714, 11714, 0]
    assert client.get("/_emulator/faults").json()["faults"] == []


def test_a_fault_answers_before_auth_and_validation(client: Client) -> None:
    arm(client, code=11714)

    response = client.post(devices_url("create"), content=b"{not json")

    assert response.json()["code"] == 11714


def test_a_fault_only_hits_its_operation(client: Client) -> None:
    create_device(client, "present")
    arm(client, code=11714)

    got = client.get(
        devices_url("get", productKey="Vu82Agp3", deviceKey="present"), headers=HEADERS
    )

    assert got.json()["code"] == 0


def test_a_fault_only_hits_its_namespace(
    client: Client, root_client: Client, namespace: str
) -> None:
    arm(client, code=11714)
    other = {**HEADERS, "X-Emulator-Namespace": f"{namespace}-clean"}

    response = root_client.post(devices_url("create"), json=create_body("elsewhere"), headers=other)

    assert response.json()["code"] == 0


def test_a_seeded_probability_fails_the_same_calls_twice_in_a_row(client: Client) -> None:
    def run() -> list[bool]:
        client.delete("/_emulator/faults")
        arm(client, code=11714, probability=0.5, seed=42)
        return [post_create(client, f"p{i}")["code"] == 11714 for i in range(20)]

    first, second = run(), run()

    assert first == second
    assert 0 < sum(first) < 20  # some calls fail, some pass


def test_a_different_seed_fails_other_calls(client: Client) -> None:
    def run(seed: int) -> list[bool]:
        client.delete("/_emulator/faults")
        arm(client, code=11714, probability=0.5, seed=seed)
        return [post_create(client, f"s{seed}-{i}")["code"] == 11714 for i in range(20)]

    assert run(1) != run(2)


def test_a_latency_rule_without_code_delays_and_answers_normally(client: Client) -> None:
    rule = arm(client, latencyMs=20, times=1)

    answer = post_create(client, "slow")
    (entry,) = client.get("/_emulator/requests").json()["requests"]

    assert answer["code"] == 0
    assert (entry["injected"], entry["faultId"]) == (False, rule["id"])


def test_a_device_key_rule_leaves_whole_requests_alone(client: Client) -> None:
    # deviceKey rules fail one device inside a batch (see tests/core/test_faults.py).
    arm(client, code=11714, deviceKey="batch-device")

    assert post_create(client, "batch-device")["code"] == 0


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ({"code": 12345}, "valid codes: "),
        ({"operation": "enos.connect.create_devise", "code": 11714}, "known operations: "),
        ({}, "needs a code, a latencyMs, or both"),
        ({"deviceKey": "d1"}, "needs the code"),
        ({"code": 11714, "deviceKey": "d1", "latencyMs": 5}, "latencyMs delays whole requests"),
    ],
)
def test_an_invalid_rule_returns_400_saying_why(
    client: Client, rule: dict[str, Any], message: str
) -> None:
    response = client.post("/_emulator/faults", json={"operation": CREATE, **rule})

    assert response.status_code == 400
    assert message in response.json()["error"]["message"]


def test_an_undocumented_code_is_refused_naming_the_valid_ones(client: Client) -> None:
    response = client.post("/_emulator/faults", json={"operation": CREATE, "code": 404})

    message = response.json()["error"]["message"]
    assert "11714" in message
    assert "11702" in message


@pytest.mark.parametrize(
    "rule",
    [
        {"operation": CREATE, "code": 11714, "probability": 0},
        {"operation": CREATE, "code": 11714, "probability": 1.5},
        {"operation": CREATE, "code": 11714, "times": 0},
        {"operation": CREATE, "code": "11714x"},
        {"operation": CREATE, "code": 11714, "tims": 1},
        {"code": 11714},
    ],
)
def test_a_malformed_rule_returns_400(client: Client, rule: dict[str, Any]) -> None:
    assert client.post("/_emulator/faults", json=rule).status_code == 400


def test_faults_are_listed_and_deleted_one_by_one(client: Client) -> None:
    first = arm(client, code=11714)
    second = arm(client, code=11702, times=3)

    listed = client.get("/_emulator/faults").json()["faults"]
    deleted = client.delete(f"/_emulator/faults/{first['id']}")
    after = client.get("/_emulator/faults").json()["faults"]

    assert [f["id"] for f in listed] == [first["id"], second["id"]]
    assert deleted.status_code == 200
    assert [f["id"] for f in after] == [second["id"]]
    assert post_create(client, "x")["code"] == 11702


def test_delete_unknown_fault_returns_404(client: Client) -> None:
    assert client.delete("/_emulator/faults/f999999").status_code == 404


def test_delete_faults_disarms_all(client: Client) -> None:
    arm(client, code=11714)
    arm(client, code=11702)

    assert client.delete("/_emulator/faults").json() == {"cleared": 2}
    assert post_create(client, "fine")["code"] == 0


def test_operations_lists_codes_and_fault_only_codes(client: Client) -> None:
    listed = {op["id"]: op for op in client.get("/_emulator/operations").json()["operations"]}

    assert 11714 in listed[CREATE]["codes"]
    assert listed[CREATE]["faultOnly"] == [1001, 1002, 1005, 1204, 11714, 99500]


def test_a_device_key_rule_puts_that_device_of_a_batch_in_the_failure_list(client: Client) -> None:
    client.post(
        "/_emulator/faults",
        json={"operation": "quectel.devicemgr.create_batch", "code": 50000, "deviceKey": "bad-1"},
    )

    body = create_batch(client, [device("good-1"), device("bad-1"), device("good-2")])
    (entry,) = client.get("/_emulator/requests").json()["requests"]

    assert body["code"] == 200
    assert created(body) == ["good-1", "good-2"]
    assert list(failures(body)) == ["bad-1"]
    assert (entry["injected"], entry["faultedDevices"]) == (False, ["bad-1"])
    assert entry["faultId"] is not None


MQTT_LOGIN, MQTT_POST = "enos.mqtt.login", "enos.mqtt.measurepoint_post"


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ({"operation": CREATE, "code": 11714, "action": "dropReply"}, "does not apply to"),
        ({"operation": MQTT_LOGIN, "action": "dropReply"}, "does not apply to"),
        ({"operation": MQTT_POST, "code": 1220, "action": "dropReply"}, "leave code out"),
        ({"operation": MQTT_POST, "deviceKey": "d1"}, "needs a code, a latencyMs or an action"),
        ({"operation": MQTT_LOGIN, "code": 1220}, "valid codes: 3, 5"),
    ],
)
def test_a_device_message_rule_that_cannot_apply_returns_400_saying_why(
    client: Client, rule: dict[str, Any], message: str
) -> None:
    response = client.post("/_emulator/faults", json=rule)

    assert response.status_code == 400
    assert message in response.json()["error"]["message"]


def test_an_unknown_action_is_a_malformed_rule(client: Client) -> None:
    rule = {"operation": MQTT_POST, "action": "dropEverything"}

    assert client.post("/_emulator/faults", json=rule).status_code == 400


def test_a_device_message_rule_names_its_device_with_a_delay_or_an_action(client: Client) -> None:
    delayed = arm(client, operation=MQTT_POST, latencyMs=100, deviceKey="d1")
    dropped = arm(client, operation=MQTT_POST, action="dropConnection", deviceKey="d1")
    refused = arm(client, operation=MQTT_LOGIN, code=3, deviceKey="d1")

    listed = {f["id"]: f for f in client.get("/_emulator/faults").json()["faults"]}

    assert (listed[delayed["id"]]["latencyMs"], listed[delayed["id"]]["action"]) == (100, None)
    assert (listed[dropped["id"]]["action"], listed[dropped["id"]]["code"]) == (
        "dropConnection",
        None,
    )
    assert (listed[refused["id"]]["code"], listed[refused["id"]]["deviceKey"]) == (3, "d1")


def test_operations_lists_the_mqtt_messages_with_what_a_fault_may_do(client: Client) -> None:
    listed = {op["id"]: op for op in client.get("/_emulator/operations").json()["operations"]}

    login = listed[MQTT_LOGIN]
    assert (login["codes"], login["faultOnly"], login["actions"]) == (
        [3, 5],
        [3],
        ["dropConnection"],
    )
    # 99500: a request the emulator failed to handle (only a bug of ours, or a fault).
    assert listed[MQTT_POST]["codes"] == [1008, 1009, 1220, 1251, 1260, 99500]
    assert listed[MQTT_POST]["faultOnly"] == [99500]
    assert listed[MQTT_POST]["actions"] == ["dropConnection", "dropReply"]
    assert listed["enos.mqtt.combine_login"]["codes"] == [
        1008,
        1009,
        1220,
        1246,
        1248,
        1251,
        1260,
        99500,
    ]
    # Every topic the platform does not serve: refused 1009 before its method is read.
    unsupported = listed["enos.mqtt.unsupported_topic"]
    assert unsupported["codes"] == [1008, 1009, 1220, 1251, 1260, 99500]
    assert unsupported["faultOnly"] == [1260, 99500]
    assert unsupported["actions"] == ["dropConnection", "dropReply"]
    assert listed[CREATE]["actions"] == []
