"""EnOS DPS, Allocate DPS Device: shared/vendor-docs/enos-dps-allocate.md.

With the companions on the same path (create, get, search, update, delete,
resetAllocationStatus; REAL-CLIENTS.md §1.7), the deprecated v4.0 alias, and the lifecycle
inventory -> allocated -> connected -> reset, including the device that allocation creates in
the connection service.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from emulator.config import DEFAULT_FIXTURES
from emulator.core.clock import Clock
from emulator.core.operations import OPERATIONS
from emulator.vendors.enos.dps.errors import DpsError
from tests.conftest import Client, ClientFactory, Emulators
from tests.reached import reached_codes
from tests.shapes import load_sample, missing_paths, shape
from tests.vendors.enos.helpers import HEADERS

SAMPLES = Path(__file__).parent / "samples"
SCENARIOS = Path(__file__).parents[2] / "fixtures" / "enos_dps_scenarios.yaml"
ORG = "yourOrgId"
SN = "yourSn"
GROUP = "yourGroupId"
PRODUCT = "yourProductKey"
SCENARIO_ORG = "oDpsScenario01"
MISSING = object()


def dps_url(action: str | None, version: str = "v2.5", **query: str) -> str:
    params = {"orgId": ORG, **query}
    if action is not None:
        params = {"action": action, **params}
    return f"/dps-service/{version}/pvs/device?" + urlencode(params)


def call(client: Client, action: str | None, body: Any = None, *, method: str = "POST",
         version: str = "v2.5", **query: str) -> dict[str, Any]:  # fmt: skip
    kwargs: dict[str, Any] = {"headers": HEADERS}
    if body is not None:
        kwargs["json"] = body
    response = client.request(method, dps_url(action, version, **query), **kwargs)
    # EnOS answers business errors at HTTP 200 (REAL-CLIENTS.md §1.5).
    assert response.status_code == 200
    result: dict[str, Any] = response.json()
    return result


def allocate(client: Client, sn: str = SN, **body: Any) -> dict[str, Any]:
    return call(client, "allocate", {"sn": sn, **body})


def get(client: Client, sn: str = SN, org: str = ORG) -> dict[str, Any]:
    return call(client, "get", method="GET", sn=sn, orgId=org)


def connect_get(client: Client, asset_id: str, org: str = ORG) -> dict[str, Any]:
    query = urlencode({"action": "get", "orgId": org, "assetId": asset_id})
    result: dict[str, Any] = client.get(
        f"/connect-service/v2.1/devices?{query}", headers=HEADERS
    ).json()
    return result


def set_online(client: Client, device: dict[str, Any], online: bool) -> None:
    state = "online" if online else "offline"
    path = f"/_emulator/devices/enos/{device['productKey']}/{device['deviceKey']}/{state}"
    assert client.post(path).status_code == 200


@pytest.fixture
def clock(emulators: Emulators) -> Iterator[Clock]:
    """The shared emulator's clock, frozen for the test and released after it."""
    app, _ = emulators.get()
    emulator_clock: Clock = app.state.emulator.clock
    emulator_clock.freeze(1_700_000_000_000)
    yield emulator_clock
    emulator_clock.release()


@pytest.fixture
def scenario(make_client: ClientFactory) -> Client:
    return make_client(fixtures=[DEFAULT_FIXTURES, SCENARIOS])


class TestAllocate:
    def test_allocate_doc_sample_succeeds_with_the_sample_shape(self, client: Client) -> None:
        request = load_sample(SAMPLES / "dps_allocate.request.json")
        expected = load_sample(SAMPLES / "dps_allocate.response.json")
        # deviceData is a map of the org's master data: its keys are data, not shape.
        expected["data"]["deviceData"] = {}

        body = call(client, "allocate", request)

        assert (body["code"], body["msg"]) == (0, "OK")
        assert missing_paths(shape(expected), body) == []
        assert set(body["data"]) == set(expected["data"])
        data = body["data"]
        assert (data["sn"], data["groupId"], data["regionId"], data["orgId"]) == (
            SN, GROUP, "regionId", ORG,
        )  # fmt: skip
        assert (data["productKey"], data["batchOrder"], data["desc"]) == (
            PRODUCT, 723, "yourDevice",
        )  # fmt: skip
        assert data["batchTag"] == {"defaultValue": "yourDevice", "i18nValue": {}}
        assert (data["status"]["currentStatus"], data["allocateStatus"]) == (
            "allocated",
            "allocated",
        )
        assert (data["connectStatus"], data["reprovisioning"]) == ("init", False)
        assert data["status"]["connectedTime"] is None

    def test_allocate_stamps_allocated_time_on_the_emulator_clock(
        self, client: Client, clock: Clock
    ) -> None:
        data = allocate(client)["data"]

        assert data["status"]["allocatedTime"] == 1_700_000_000_000
        assert data["updateTime"] == 1_700_000_000_000

    def test_allocate_merges_stored_master_data_with_the_request(self, client: Client) -> None:
        data = allocate(client, deviceData={"max_capacity": 1.0, "scale": 1, "capacity": 99})[
            "data"
        ]["deviceData"]

        # Stored in the inventory, overridden by the request, added by the request.
        assert (data["commDeviceSn"], data["date"], data["enum"]) == (
            "yourDevice", "2023-06-08", "DISTRIBUTED",
        )  # fmt: skip
        assert (data["capacity"], data["max_capacity"], data["scale"]) == (99, 1, 1)
        assert isinstance(data["assetId"], str)

    def test_allocate_accepts_device_data_keys_with_no_definition(self, client: Client) -> None:
        body = allocate(client, deviceData={"optSN": ["a", "b"], "regcode": "x"})

        assert body["code"] == 0
        assert body["data"]["deviceData"]["optSN"] == ["a", "b"]

    @pytest.mark.parametrize(
        ("key", "value"),
        [
            pytest.param("scale", "1", id="Integer-as-string"),
            pytest.param("scale", 1.5, id="Integer-fraction"),
            pytest.param("scale", True, id="Integer-as-bool"),
            pytest.param("commDeviceSn", 42, id="String-as-number"),
            pytest.param("enum", "NUCLEAR", id="Enum-unknown-value"),
            pytest.param("enum", 1, id="Enum-as-number"),
            pytest.param("date", "08/06/2023", id="Date-not-iso"),
            pytest.param("date", 20230608, id="Date-as-number"),
        ],
    )
    def test_allocate_with_device_data_not_matching_master_data_returns_99400(
        self, client: Client, key: str, value: Any
    ) -> None:
        body = allocate(client, deviceData={key: value})

        assert body["code"] == 99400
        assert body["msg"].startswith(f"Invalid Argument deviceData.{key}:")
        assert body["data"] is None
        assert get(client)["data"]["allocateStatus"] == "init"

    @pytest.mark.parametrize(
        ("query", "body"),
        [
            pytest.param({"orgId": ""}, {"sn": SN}, id="orgId-blank"),
            pytest.param({"orgId": "   "}, {"sn": SN}, id="orgId-spaces"),
            pytest.param({"orgId": "oNoSuchOrg"}, {"sn": SN}, id="orgId-invalid"),
            pytest.param({}, {}, id="sn-missing"),
            pytest.param({}, {"sn": ""}, id="sn-blank"),
            pytest.param({}, {"sn": "  "}, id="sn-spaces"),
        ],
    )
    def test_allocate_without_org_or_sn_returns_35400(
        self, client: Client, query: dict[str, str], body: dict[str, Any]
    ) -> None:
        result = call(client, "allocate", body, **query)

        assert (result["code"], result["msg"]) == (35400, "OrgId/sn is required")
        assert result["data"] is None

    def test_allocate_without_org_id_parameter_returns_35400(self, client: Client) -> None:
        response = client.post(
            "/dps-service/v2.5/pvs/device?action=allocate", json={"sn": SN}, headers=HEADERS
        )

        assert response.json()["code"] == 35400

    @pytest.mark.parametrize(
        ("sn", "org"),
        [
            pytest.param("noSuchSn", ORG, id="unknown-sn"),
            # The org exists (connection-service sample) but holds no SN inventory.
            pytest.param(SN, "o15475450989191", id="sn-of-another-org"),
        ],
    )
    def test_allocate_with_unknown_sn_returns_35601(
        self, client: Client, sn: str, org: str
    ) -> None:
        body = call(client, "allocate", {"sn": sn}, orgId=org)

        assert (body["code"], body["msg"]) == (35601, "Verify not pass/sn not found")

    def test_allocate_when_the_master_data_group_does_not_exist_returns_35404(
        self, scenario: Client
    ) -> None:
        body = call(scenario, "allocate", {"sn": "SCENARIO-RETIRED-01"}, orgId=SCENARIO_ORG)

        assert (body["code"], body["msg"]) == (35404, "Device group not found")

    def test_allocate_checks_device_data_against_its_group_master_data_only(
        self, scenario: Client
    ) -> None:
        def send(data: dict[str, Any]) -> int:
            body = {"sn": "SCENARIO-STRICT-01", "deviceData": data}
            return int(call(scenario, "allocate", body, orgId=SCENARIO_ORG)["code"])

        # "scale" is defined in another master-data group of the org: not checked here.
        assert (send({"rated_power": "high"}), send({"scale": "x", "rated_power": 5})) == (
            99400,
            0,
        )

    def test_allocate_into_a_full_product_answers_11739_and_keeps_the_sn_in_inventory(
        self, scenario: Client
    ) -> None:
        body = call(scenario, "allocate", {"sn": "SCENARIO-FULL-01"}, orgId=SCENARIO_ORG)
        after = get(scenario, "SCENARIO-FULL-01", SCENARIO_ORG)["data"]

        assert (body["code"], body["msg"]) == (11739, "Exceed max device size")
        assert (after["allocateStatus"], after["status"]["currentStatus"]) == ("init", "init")

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            pytest.param({"sn": 42}, "sn", id="sn-not-string"),
            pytest.param({"sn": SN, "deviceData": [1]}, "deviceData", id="deviceData-not-map"),
            pytest.param([{"sn": SN}], "", id="body-is-array"),
        ],
    )
    def test_allocate_with_invalid_argument_returns_99400(
        self, client: Client, body: Any, field: str
    ) -> None:
        result = call(client, "allocate", body)

        assert result["code"] == 99400
        assert result["msg"].startswith("Invalid Argument")
        assert field in result["msg"]

    def test_allocate_without_access_token_returns_1202(self, client: Client) -> None:
        response = client.post(dps_url("allocate"), json={"sn": SN})

        assert response.status_code == 200
        assert response.json()["code"] == 1202

    def test_deprecated_v4_activate_and_allocate_are_aliases(self, client: Client) -> None:
        activated = call(client, "activate", {"sn": SN}, version="v4.0")
        allocated = call(client, "allocate", {"sn": SN}, version="v4.0")

        assert (activated["code"], activated["data"]["allocateStatus"]) == (0, "allocated")
        assert (allocated["code"], allocated["data"]["reprovisioning"]) == (0, True)

    def test_deprecated_v4_path_serves_no_other_action(self, client: Client) -> None:
        assert call(client, "get", method="GET", version="v4.0", sn=SN)["code"] == 99400


class TestLifecycle:
    def test_allocate_creates_the_device_in_the_connection_service(self, client: Client) -> None:
        asset_id = allocate(client)["data"]["deviceData"]["assetId"]

        device = connect_get(client, asset_id)

        assert device["code"] == 0
        data = device["data"]
        assert (data["orgId"], data["assetId"], data["productKey"]) == (ORG, asset_id, PRODUCT)
        assert len(data["deviceSecret"]) == 20
        assert data["status"] == "inactive"
        # The SN's stored master data name the device's timezone.
        assert data["timezone"] == "+14:00"

    def test_reallocating_an_allocated_sn_reprovisions_the_same_device(
        self, client: Client
    ) -> None:
        first = allocate(client)["data"]
        second = allocate(client)["data"]

        listed = client.get(
            "/_emulator/devices", params={"vendor": "enos", "productKey": PRODUCT}
        ).json()
        assert (first["reprovisioning"], second["reprovisioning"]) == (False, True)
        assert second["deviceData"]["assetId"] == first["deviceData"]["assetId"]
        assert listed["total"] == 1

    def test_lifecycle_inventory_allocated_connected_reset(
        self, client: Client, clock: Clock
    ) -> None:
        def status() -> tuple[str, str, str, int | None, int | None]:
            data = get(client)["data"]
            return (
                data["status"]["currentStatus"],
                data["allocateStatus"],
                data["connectStatus"],
                data["status"]["allocatedTime"],
                data["status"]["connectedTime"],
            )

        t0 = 1_700_000_000_000
        assert status() == ("init", "init", "init", None, None)

        asset_id = allocate(client)["data"]["deviceData"]["assetId"]
        device = connect_get(client, asset_id)["data"]
        assert status() == ("allocated", "allocated", "init", t0, None)

        clock.advance(60)
        set_online(client, device, True)
        assert status() == ("connected", "allocated", "connected", t0, t0 + 60_000)

        clock.advance(60)
        set_online(client, device, False)
        assert status() == ("connected", "allocated", "disconnected", t0, t0 + 60_000)
        set_online(client, device, True)
        assert status() == ("connected", "allocated", "connected", t0, t0 + 60_000)

        reset = call(client, "resetAllocationStatus", {"groupId": GROUP, "sns": [SN]})
        assert (reset["code"], reset["data"]) == (0, [SN])
        assert status() == ("init", "init", "init", None, None)

        clock.advance(60)
        again = allocate(client)["data"]
        assert again["reprovisioning"] is True
        assert again["deviceData"]["assetId"] == asset_id
        assert status() == ("allocated", "allocated", "init", t0 + 180_000, None)

    def test_a_device_deleted_from_the_connection_service_is_provisioned_anew(
        self, client: Client
    ) -> None:
        first = allocate(client)["data"]["deviceData"]["assetId"]
        query = urlencode({"action": "delete", "orgId": ORG, "assetId": first})
        client.post(f"/connect-service/v2.1/devices?{query}", headers=HEADERS)

        second = allocate(client)["data"]["deviceData"]["assetId"]

        assert second != first
        assert connect_get(client, second)["code"] == 0


def create(client: Client, **body: Any) -> dict[str, Any]:
    payload = {"groupId": GROUP, "count": 1, **body}
    return call(client, "create", {k: v for k, v in payload.items() if v is not MISSING})


class TestCreate:
    def test_create_mints_count_new_sns_in_a_new_batch(self, client: Client) -> None:
        body = create(client, count=3, desc="batch", batchTag={"defaultValue": "b2"})

        assert body["code"] == 0
        assert len(set(body["data"])) == 3
        for sn in body["data"]:
            data = get(client, sn)["data"]
            assert (data["groupId"], data["batchOrder"], data["desc"]) == (GROUP, 724, "batch")
            assert data["batchTag"] == {"defaultValue": "b2", "i18nValue": {}}
            assert data["status"]["currentStatus"] == "init"

    def test_created_sn_can_be_allocated(self, client: Client) -> None:
        sn = create(client, deviceData={"scale": 2})["data"][0]

        data = allocate(client, sn)["data"]

        assert (data["allocateStatus"], data["deviceData"]["scale"]) == ("allocated", 2)

    @pytest.mark.parametrize(
        ("changes", "message"),
        [
            pytest.param({"groupId": MISSING}, "groupId:groupId is missing", id="groupId-missing"),
            pytest.param({"groupId": ""}, "groupId:groupId is missing", id="groupId-blank"),
            pytest.param({"count": MISSING}, "count:count is missing", id="count-missing"),
            pytest.param(
                {"count": 0}, "count of PvsDeviceCreateInfo must between 1 to 1000000", id="zero"
            ),
            pytest.param(
                {"count": 1_000_001},
                "count of PvsDeviceCreateInfo must between 1 to 1000000",
                id="over-a-million",
            ),
            pytest.param({"deviceData": {"scale": "big"}}, "deviceData.scale", id="bad-data"),
        ],
    )
    def test_create_with_invalid_argument_returns_99400(
        self, client: Client, changes: dict[str, Any], message: str
    ) -> None:
        body = create(client, **changes)

        assert body["code"] == 99400
        assert message in body["msg"]

    def test_create_in_unknown_group_returns_35404(self, client: Client) -> None:
        body = create(client, groupId="noSuchGroup")

        assert (body["code"], body["msg"]) == (35404, "Group not found")


class TestGetSearchUpdate:
    @pytest.mark.parametrize("method", ["GET", "POST"])
    def test_get_answers_the_inventory_sn(self, client: Client, method: str) -> None:
        body = call(client, "get", method=method, sn=SN)

        assert body["code"] == 0
        assert (body["data"]["sn"], body["data"]["status"]["currentStatus"]) == (SN, "init")

    def test_get_without_sn_returns_35400(self, client: Client) -> None:
        assert call(client, "get", method="GET")["code"] == 35400

    def test_get_unknown_sn_returns_35601(self, client: Client) -> None:
        assert get(client, "noSuchSn")["code"] == 35601

    def test_search_filters_on_status_and_product(self, client: Client) -> None:
        fresh = create(client, count=2)["data"]
        allocate(client)

        def sns(expression: str) -> list[str]:
            body = call(client, "search", {"expression": expression})
            assert body["code"] == 0
            return sorted(d["sn"] for d in body["data"])

        assert sns("status = 'allocated'") == [SN]
        assert sns("status = 'init' and productKey = \"yourProductKey\"") == sorted(fresh)
        assert sns(f"sn = '{SN}' AND groupId = '{GROUP}'") == [SN]
        assert sns("batchOrder = 723") == [SN]
        assert sns("deviceData.enum = 'DISTRIBUTED'") == [SN]
        assert sns("productKey = 'other'") == []

    def test_search_pages_the_results(self, client: Client) -> None:
        create(client, count=4)

        body = call(
            client,
            "search",
            {"expression": f"groupId = '{GROUP}'", "pagination": {"pageNo": 2, "pageSize": 2}},
        )

        assert body["pagination"] == {"pageNo": 2, "pageSize": 2, "totalSize": 5}
        assert len(body["data"]) == 2

    @pytest.mark.parametrize(
        "expression",
        [
            pytest.param("sn ~ 'x'", id="operator"),
            pytest.param("color = 'red'", id="unknown-field"),
            pytest.param("sn = 'a' or sn = 'b'", id="or"),
            pytest.param("batchOrder = 'x'", id="batchOrder-not-integer"),
        ],
    )
    def test_search_with_unsupported_expression_returns_99400(
        self, client: Client, expression: str
    ) -> None:
        body = call(client, "search", {"expression": expression})

        assert body["code"] == 99400
        assert "expression" in body["msg"]

    def test_update_changes_desc_tag_and_merges_device_data(self, client: Client) -> None:
        body = call(
            client,
            "update",
            {
                "sn": SN,
                "desc": "moved",
                "batchTag": {"defaultValue": "t"},
                "deviceData": {"scale": 3},
            },
        )

        data = get(client)["data"]
        assert (body["code"], body["data"]) == (0, SN)
        assert (data["desc"], data["batchTag"]["defaultValue"]) == ("moved", "t")
        assert (data["deviceData"]["scale"], data["deviceData"]["capacity"]) == (3, 12)

    @pytest.mark.parametrize(
        ("body", "code"),
        [
            pytest.param({"desc": "x"}, 35400, id="sn-missing"),
            pytest.param({"sn": "noSuchSn", "desc": "x"}, 35601, id="sn-unknown"),
            pytest.param({"sn": SN, "deviceData": {"enum": "X"}}, 99400, id="bad-data"),
        ],
    )
    def test_update_errors(self, client: Client, body: dict[str, Any], code: int) -> None:
        assert call(client, "update", body)["code"] == code


class TestDeleteAndReset:
    def test_delete_answers_deleted_and_unknown_sns(self, client: Client) -> None:
        fresh = create(client, count=2)["data"]

        body = call(client, "delete", {"groupId": GROUP, "snList": [*fresh, "noSuchSn"]})

        assert (body["code"], body["data"]) == (0, [*fresh, "noSuchSn"])
        assert [get(client, sn)["code"] for sn in fresh] == [35601, 35601]

    def test_delete_leaves_sns_of_other_groups(self, scenario: Client) -> None:
        body = call(
            scenario,
            "delete",
            {"groupId": "strictGroup", "snList": ["SCENARIO-RETIRED-01", "SCENARIO-STRICT-01"]},
            orgId=SCENARIO_ORG,
        )

        assert body["data"] == ["SCENARIO-STRICT-01"]
        assert get(scenario, "SCENARIO-RETIRED-01", SCENARIO_ORG)["code"] == 0

    def test_delete_in_unknown_group_returns_35404(self, client: Client) -> None:
        body = call(client, "delete", {"groupId": "noSuchGroup", "snList": [SN]})

        assert body["code"] == 35404

    @pytest.mark.parametrize(
        ("body", "code"),
        [
            pytest.param({"groupId": "noSuchGroup", "sns": [SN]}, 35404, id="group-unknown"),
            pytest.param({"groupId": GROUP, "sns": [SN, "noSuchSn"]}, 35404, id="sn-unknown"),
            pytest.param({"sns": [SN]}, 99400, id="groupId-missing"),
            pytest.param({"groupId": " ", "sns": [SN]}, 99400, id="groupId-blank"),
            pytest.param({"groupId": GROUP}, 99400, id="sns-missing"),
        ],
    )
    def test_reset_allocation_status_errors(
        self, client: Client, body: dict[str, Any], code: int
    ) -> None:
        result = call(client, "resetAllocationStatus", body)

        assert result["code"] == code
        if code == 35404:
            assert result["msg"] == "Group/sn not found"

    def test_reset_of_an_sn_in_another_group_returns_35404(self, scenario: Client) -> None:
        body = call(
            scenario,
            "resetAllocationStatus",
            {"groupId": "strictGroup", "sns": ["SCENARIO-RETIRED-01"]},
            orgId=SCENARIO_ORG,
        )

        assert body["code"] == 35404


@pytest.mark.parametrize(
    "action", ["allocate", "create", "get", "search", "update", "delete", "resetAllocationStatus"]
)
@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        pytest.param(b"{not json", "application/json", id="malformed"),
        pytest.param(b"\xff\xfe\x00", "application/json", id="not-utf8"),
        pytest.param(b"[]", "application/json", id="array"),
        pytest.param(b"null", "application/json", id="null"),
        pytest.param(b'{"sn": {"a": 1}, "groupId": 5, "sns": "x"}', "application/json", id="types"),
        pytest.param(b"sn=yourSn", "application/x-www-form-urlencoded", id="form"),
    ],
)
def test_no_input_gives_a_server_error(
    client: Client, action: str, content: bytes, content_type: str
) -> None:
    response = client.post(
        dps_url(action, sn=SN), content=content, headers={**HEADERS, "Content-Type": content_type}
    )

    assert response.status_code == 200
    assert set(response.json()) >= {"code", "msg", "requestId", "data"}
    assert response.json()["code"] != 99500


@pytest.mark.parametrize(
    "action", [pytest.param(None, id="missing"), pytest.param("explode", id="unknown")]
)
def test_pvs_device_with_bad_action_returns_99400(client: Client, action: str | None) -> None:
    assert call(client, action, {"sn": SN})["code"] == 99400


def test_unknown_path_under_the_service_answers_in_the_enos_envelope(client: Client) -> None:
    response = client.post("/dps-service/v2.5/pvs/gadget?action=allocate", json={}, headers=HEADERS)

    assert response.status_code == 200
    assert set(response.json()) == {"code", "msg", "requestId", "data"}
    assert response.json()["code"] == 99400


# The codes no real input reaches, with the reason; every other code needs a case above that
# names it (tests/reached.py), so deleting a case fails the table's test.
NOT_BY_INPUT = {
    DpsError.UNAUTHORIZED.code,  # no DPS role in the emulator: fault-only
    DpsError.EMULATOR_INTERNAL_ERROR.code,  # an emulator bug, never a documented answer
}


def test_every_dps_error_code_has_a_case() -> None:
    codes = {member.code for member in DpsError}
    assert NOT_BY_INPUT <= codes
    assert codes - NOT_BY_INPUT <= reached_codes(globals())


def test_every_dps_operation_is_registered_with_its_fault_only_codes() -> None:
    ids = {
        "enos.dps.allocate", "enos.dps.create", "enos.dps.get", "enos.dps.search",
        "enos.dps.update", "enos.dps.delete", "enos.dps.reset_allocation_status",
    }  # fmt: skip
    assert ids <= set(OPERATIONS)
    # 35603, an emulator bug (99500), and the token codes no API call triggers.
    expected = {35603, 99500, 1001, 1002, 1005, 1204}
    assert OPERATIONS["enos.dps.reset_allocation_status"].fault_only == expected
    assert all(35400 in OPERATIONS[i].codes() for i in ids)
