"""EnOS connection service, Create Device: shared/vendor-docs/enos-connect-create-device.md.

With the companions get and delete (REAL-CLIENTS.md §1.7).
"""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from psycopg import pq
from sqlalchemy import event

from emulator.config import DEFAULT_FIXTURES
from emulator.core.context import Emulator
from emulator.core.operations import OPERATIONS
from emulator.vendors.enos.connect.errors import ConnectError
from tests.conftest import Client, ClientFactory, Emulators
from tests.reached import reached_codes
from tests.shapes import load_sample, missing_paths, shape
from tests.vendors.enos.helpers import HEADERS, ORG, PRODUCT, devices_url
from tests.vendors.mcs import helpers as mcs

SAMPLES = Path(__file__).parent / "samples"
QUOTA_FIXTURES = Path(__file__).parents[2] / "fixtures" / "enos_small_quota.yaml"


def _emulator(emulators: Emulators, **overrides: Any) -> Emulator:
    """The emulator built with ``overrides``, in process or behind a socket alike (a client
    over a socket has no ``app``)."""
    emulator: Emulator = emulators.get(**overrides)[0].state.emulator
    return emulator


MISSING = object()


def create_body(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "productKey": PRODUCT,
        "timezone": "+08:00",
        "deviceName": {"defaultValue": "inverter-1", "i18nValue": {}},
    }
    for key, value in changes.items():
        if value is MISSING:
            body.pop(key, None)
        else:
            body[key] = value
    return body


def create(client: Client, body: Any, **query: str) -> dict[str, Any]:
    response = client.post(devices_url("create", **query), json=body, headers=HEADERS)
    assert response.status_code == 200
    result: dict[str, Any] = response.json()
    return result


class TestCreateDevice:
    def test_create_device_doc_sample_succeeds_with_the_sample_shape(self, client: Client) -> None:
        request = load_sample(SAMPLES / "create_device.request.json")
        expected = load_sample(SAMPLES / "create_device.response.json")

        body = create(client, request)

        assert (body["code"], body["msg"]) == (0, "OK")
        assert missing_paths(shape(expected), body) == []
        assert body["data"]["productKey"] == "Vu82Agp3"

    def test_create_device_returns_real_field_and_the_sample_typo_with_one_secret(
        self, client: Client
    ) -> None:
        data = create(client, create_body())["data"]

        assert set(data) == {"productKey", "deviceKey", "deviceSecret", "assetId", "deviceSecrete"}
        assert data["deviceSecret"] == data["deviceSecrete"]

    def test_create_device_generates_keys_in_the_vendor_format(self, client: Client) -> None:
        data = create(client, create_body())["data"]

        assert re.fullmatch(r"[a-z0-9]{10}", data["deviceKey"])
        assert re.fullmatch(r"[A-Za-z0-9]{8}", data["assetId"])
        assert re.fullmatch(r"[A-Za-z0-9]{20}", data["deviceSecret"])

    def test_create_device_answers_a_uuid_request_id_per_call(self, client: Client) -> None:
        first = create(client, create_body())["requestId"]
        second = create(client, create_body())["requestId"]

        uuid = r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"
        assert re.fullmatch(uuid, first)
        assert first != second

    def test_create_device_keeps_a_given_device_key(self, client: Client) -> None:
        data = create(client, create_body(deviceKey="my-inverter-01"))["data"]

        assert data["deviceKey"] == "my-inverter-01"

    def test_create_device_with_existing_device_key_returns_11702(self, client: Client) -> None:
        create(client, create_body(deviceKey="dup-key"))

        body = create(client, create_body(deviceKey="dup-key"))

        assert (body["code"], body["msg"]) == (11702, "DeviceKey existed")
        assert body["data"] is None

    def test_create_device_with_a_nul_in_its_key_is_created_once(self, client: Client) -> None:
        # PostgreSQL text cannot hold NUL: it is stored replaced (core/db.py), the same way
        # for every statement, so the key is still one device.
        first = create(client, create_body(deviceKey="nul\x00key"))
        again = create(client, create_body(deviceKey="nul\x00key"))

        assert (first["code"], again["code"]) == (0, 11702)

    def test_create_device_same_key_in_another_product_succeeds(
        self, make_client: ClientFactory
    ) -> None:
        client = make_client(fixtures=[DEFAULT_FIXTURES, QUOTA_FIXTURES])
        query = {"orgId": "oQuotaOrg0001"}
        first = create(client, create_body(productKey="SmallQuota", deviceKey="k1"), **query)
        second = create(client, create_body(productKey="OtherProduct", deviceKey="k1"), **query)

        assert (first["code"], second["code"]) == (0, 0)

    def test_create_device_over_product_quota_returns_11739(
        self, make_client: ClientFactory
    ) -> None:
        client = make_client(fixtures=[DEFAULT_FIXTURES, QUOTA_FIXTURES])
        query = {"orgId": "oQuotaOrg0001"}
        codes = [
            create(client, create_body(productKey="SmallQuota"), **query)["code"] for _ in range(3)
        ]

        assert codes == [0, 0, 11739]
        body = create(client, create_body(productKey="SmallQuota"), **query)
        assert body["msg"] == "Exceed max device size"

    def test_create_device_existing_key_in_a_full_product_returns_11702(
        self, make_client: ClientFactory
    ) -> None:
        client = make_client(fixtures=[DEFAULT_FIXTURES, QUOTA_FIXTURES])
        query = {"orgId": "oQuotaOrg0001"}
        codes = [
            create(client, create_body(productKey="SmallQuota", deviceKey=key), **query)["code"]
            for key in ("k1", "k2", "k1", "k3")
        ]

        assert codes == [0, 0, 11702, 11739]

    def test_create_device_at_once_never_exceeds_the_quota(
        self, make_client: ClientFactory, emulators: Emulators
    ) -> None:
        fixtures = [DEFAULT_FIXTURES, QUOTA_FIXTURES]
        clients = [make_client(fixtures=fixtures) for _ in range(6)]
        if _emulator(emulators, fixtures=fixtures).settings.db == ":memory:":
            # One connection that every thread shares: no isolation between their requests.
            pytest.skip("an in-memory database serves one request at a time")
        query = {"orgId": "oQuotaOrg0001"}

        def create_one(client: Client) -> int:
            body = create(client, create_body(productKey="SmallQuota"), **query)
            return int(body["code"])

        with ThreadPoolExecutor(len(clients)) as pool:
            codes = sorted(pool.map(create_one, clients))

        assert codes == [0, 0, 11739, 11739, 11739, 11739]
        listed = (
            clients[0]
            .get("/_emulator/devices", params={"vendor": "enos", "productKey": "SmallQuota"})
            .json()
        )
        assert len(listed["devices"]) == 2, listed

    def test_create_device_after_a_full_product_gets_the_ids_it_did_before(
        self, make_client: ClientFactory
    ) -> None:
        # A refused create draws its ids (only an unknown org or product gives them back).
        client = make_client(fixtures=[DEFAULT_FIXTURES, QUOTA_FIXTURES])
        query = {"orgId": "oQuotaOrg0001"}

        def next_device(refused: int) -> dict[str, Any]:
            client.post("/_emulator/reset").raise_for_status()
            for _ in range(2):
                assert create(client, create_body(productKey="SmallQuota"), **query)["code"] == 0
            for _ in range(refused):
                body = create(client, create_body(productKey="SmallQuota"), **query)
                assert body["code"] == 11739
            return dict(create(client, create_body(productKey="OtherProduct"), **query)["data"])

        assert next_device(1) != next_device(0)
        assert next_device(1) == next_device(1)

    @pytest.mark.parametrize(
        ("body", "query"),
        [
            pytest.param(create_body(productKey="NoSuchProduct"), {}, id="product-unknown"),
            pytest.param(create_body(), {"orgId": "oNoSuchOrg"}, id="org-unknown"),
        ],
    )
    def test_create_device_in_unknown_org_or_product_draws_no_seeded_ids(
        self, client: Client, body: dict[str, Any], query: dict[str, str]
    ) -> None:
        # Like a create refused for its body, it draws only its answer's requestId: the next
        # device gets the keys it would have got (the seed makes them comparable).
        def next_device_after(refused: dict[str, Any], **refused_query: str) -> dict[str, Any]:
            client.post("/_emulator/reset").raise_for_status()
            assert create(client, refused, **refused_query)["code"] == 99400
            return dict(create(client, create_body())["data"])

        assert next_device_after(body, **query) == next_device_after(create_body(timezone=None))

    def test_create_device_makes_the_device_visible_in_the_control_plane(
        self, client: Client
    ) -> None:
        data = create(client, create_body(deviceKey="seen-1"))["data"]

        listed = client.get(
            "/_emulator/devices", params={"vendor": "enos", "productKey": PRODUCT}
        ).json()

        assert [(d["deviceKey"], d["assetId"]) for d in listed["devices"]] == [
            ("seen-1", data["assetId"])
        ]


INVALID = [
    pytest.param(create_body(productKey=MISSING), "productKey", id="productKey-missing"),
    pytest.param(create_body(productKey=""), "productKey", id="productKey-blank"),
    pytest.param(create_body(productKey=7), "productKey", id="productKey-not-string"),
    pytest.param(create_body(timezone=MISSING), "timezone", id="timezone-missing"),
    pytest.param(create_body(deviceName=MISSING), "deviceName", id="deviceName-missing"),
    pytest.param(create_body(deviceName="plain"), "deviceName", id="deviceName-not-StringI18n"),
    pytest.param(
        create_body(deviceName={"i18nValue": {}}), "defaultValue", id="deviceName-no-default"
    ),
    pytest.param(create_body(deviceAttributes=[1]), "deviceAttributes", id="attributes-not-map"),
    pytest.param(create_body(deviceKey=""), "deviceKey", id="deviceKey-blank"),
    pytest.param(create_body(deviceKey="k" * 65), "deviceKey", id="deviceKey-too-long"),
    pytest.param(create_body(productKey="NoSuchProduct"), "productKey", id="product-unknown"),
    pytest.param([create_body()], "", id="body-is-array"),
    pytest.param(None, "", id="body-is-null"),
]


@pytest.mark.parametrize(("body", "field"), INVALID)
def test_create_device_with_invalid_argument_returns_99400(
    client: Client, body: Any, field: str
) -> None:
    result = create(client, body)

    assert result["code"] == 99400
    assert result["msg"].startswith("Invalid Argument")
    assert field in result["msg"]
    assert result["data"] is None


@pytest.mark.parametrize(
    "query",
    [
        pytest.param("action=create", id="orgId-missing"),
        pytest.param("action=create&orgId=", id="orgId-blank"),
        pytest.param("action=create&orgId=oNoSuchOrg", id="org-unknown"),
        pytest.param("orgId=" + ORG, id="action-missing"),
        pytest.param("action=explode&orgId=" + ORG, id="action-unknown"),
    ],
)
def test_devices_with_bad_query_returns_99400(client: Client, query: str) -> None:
    response = client.post(
        f"/connect-service/v2.1/devices?{query}", json=create_body(), headers=HEADERS
    )

    assert response.status_code == 200
    assert response.json()["code"] == 99400


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        pytest.param(b"{not json", "application/json", id="malformed"),
        pytest.param(b'{"productKey": "Vu82', "application/json", id="truncated"),
        pytest.param(b"\xff\xfe\x00", "application/json", id="not-utf8"),
        pytest.param(b"productKey=Vu82Agp3", "application/x-www-form-urlencoded", id="form"),
        pytest.param(b"", "application/json", id="empty"),
    ],
)
def test_create_device_with_unreadable_body_returns_99400(
    client: Client, content: bytes, content_type: str
) -> None:
    response = client.post(
        devices_url("create"), content=content, headers={**HEADERS, "Content-Type": content_type}
    )

    assert response.status_code == 200
    assert response.json()["code"] == 99400


def test_create_device_with_oversized_body_returns_99400(make_client: ClientFactory) -> None:
    client = make_client(max_body_bytes=512)

    body = create(client, create_body(deviceDesc="x" * 1024))

    assert body["code"] == 99400
    assert "512 bytes" in body["msg"]


def test_unknown_path_under_the_service_answers_in_the_enos_envelope(client: Client) -> None:
    response = client.post("/connect-service/v2.1/gadgets?action=create", json={}, headers=HEADERS)

    assert response.status_code == 200
    assert set(response.json()) == {"code", "msg", "requestId", "data"}
    assert response.json()["code"] == 99400


class TestGetAndDelete:
    @pytest.mark.parametrize("method", ["GET", "POST"])
    def test_get_device_by_asset_id(self, client: Client, method: str) -> None:
        created = create(client, create_body(deviceDesc="roof"))["data"]

        body = client.request(
            method, devices_url("get", assetId=created["assetId"]), headers=HEADERS
        ).json()

        assert body["code"] == 0
        device = body["data"]
        assert (device["orgId"], device["deviceKey"], device["deviceSecret"]) == (
            ORG, created["deviceKey"], created["deviceSecret"],
        )  # fmt: skip
        assert device["deviceName"] == {"defaultValue": "inverter-1", "i18nValue": {}}
        assert (device["deviceDesc"], device["timezone"], device["status"]) == (
            "roof",
            "+08:00",
            "inactive",
        )

    def test_get_device_by_product_and_device_key(self, client: Client) -> None:
        created = create(client, create_body(deviceKey="by-keys"))["data"]

        url = devices_url("get", productKey=PRODUCT, deviceKey="by-keys")
        body = client.get(url, headers=HEADERS).json()

        assert body["data"]["assetId"] == created["assetId"]

    def test_get_device_status_follows_the_simulated_connection(self, client: Client) -> None:
        created = create(client, create_body(deviceKey="blinky"))["data"]
        url = devices_url("get", assetId=created["assetId"])

        client.post(f"/_emulator/devices/enos/{PRODUCT}/blinky/online")
        online = client.get(url, headers=HEADERS).json()["data"]["status"]
        client.post(f"/_emulator/devices/enos/{PRODUCT}/blinky/offline")
        offline = client.get(url, headers=HEADERS).json()["data"]["status"]

        assert (online, offline) == ("online", "offline")

    def test_get_unknown_device_returns_11404(self, client: Client) -> None:
        body = client.get(devices_url("get", assetId="NoSuchId"), headers=HEADERS).json()

        assert (body["code"], body["msg"]) == (11404, "Device cannot be found")

    def test_get_device_without_selector_returns_99400(self, client: Client) -> None:
        assert client.get(devices_url("get"), headers=HEADERS).json()["code"] == 99400

    @pytest.mark.parametrize("method", ["GET", "POST"])
    def test_delete_device_then_get_returns_11404(self, client: Client, method: str) -> None:
        created = create(client, create_body())["data"]

        deleted = client.request(
            method, devices_url("delete", assetId=created["assetId"]), headers=HEADERS
        )
        after = client.get(devices_url("get", assetId=created["assetId"]), headers=HEADERS).json()

        assert (deleted.json()["code"], deleted.json()["data"]) == (0, None)
        assert after["code"] == 11404

    def test_delete_unknown_device_returns_11404(self, client: Client) -> None:
        body = client.post(devices_url("delete", assetId="NoSuchId"), headers=HEADERS).json()

        assert body["code"] == 11404

    def test_deleted_device_key_can_be_created_again(self, client: Client) -> None:
        created = create(client, create_body(deviceKey="reborn"))["data"]
        client.post(devices_url("delete", assetId=created["assetId"]), headers=HEADERS)

        assert create(client, create_body(deviceKey="reborn"))["code"] == 0


def test_namespaces_are_isolated(make_client: ClientFactory, emulators: Any) -> None:
    mine = make_client()
    theirs = emulators.client("other-" + str(id(mine)))
    try:
        assert create(mine, create_body(deviceKey="shared-key"))["code"] == 0
        assert create(theirs, create_body(deviceKey="shared-key"))["code"] == 0
        listed = mine.get("/_emulator/devices", params={"vendor": "enos"}).json()
        assert [d["deviceKey"] for d in listed["devices"]] == ["shared-key"]
    finally:
        theirs.close()


# The codes no real input reaches, with the reason; every other code needs a case above that
# names it (tests/reached.py), so deleting a case fails the table's test.
NOT_BY_INPUT = {
    ConnectError.DEVICE_KEY_GENERATION_FAILED.code,  # fault-only, tested with the faults
    ConnectError.EMULATOR_INTERNAL_ERROR.code,  # an emulator bug, never a documented answer
}


def test_every_connect_error_code_has_a_case() -> None:
    codes = {member.code for member in ConnectError}
    assert NOT_BY_INPUT <= codes
    assert codes - NOT_BY_INPUT <= reached_codes(globals())


def test_fault_only_codes_are_declared_on_the_operation() -> None:
    # 11714, an emulator bug (99500), and the token codes no API call triggers.
    expected = {11714, 99500, 1001, 1002, 1005, 1204}
    assert OPERATIONS["enos.connect.create_device"].fault_only == expected


def test_create_device_on_postgresql_is_one_round_trip(
    make_client: ClientFactory, emulators: Emulators, tmp_path: Path
) -> None:
    # BEGIN and COMMIT would each wait a round trip of their own: the one statement of a
    # create is atomic alone. libpq's trace of the emulator's connections counts what
    # waits for an answer: a simple Query, or a Sync ending an extended-protocol statement.
    client = make_client(header_timeout=10.25)  # an emulator of its own, traced from its start
    emulator = _emulator(emulators, header_timeout=10.25)
    if emulator.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL only (EMULATOR_TEST_DATABASE_URL)")
    trace = (tmp_path / "trace").open("w")

    def traced(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        dbapi_connection.pgconn.trace(trace.fileno())
        dbapi_connection.pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS)

    # Every connection handed out from now on (the worker thread's kept one included).
    event.listen(emulator.engine, "checkout", traced)
    try:
        assert create(client, create_body(deviceKey="traced-0"))["code"] == 0
        trace.flush()
        start = (tmp_path / "trace").stat().st_size
        assert create(client, create_body(deviceKey="traced-1"))["code"] == 0
        trace.flush()
    finally:
        event.remove(emulator.engine, "checkout", traced)
        trace.close()
    sent = (tmp_path / "trace").read_text()[start:].splitlines()
    waits = [line for line in sent if re.match(r"F\t\d+\t(Query|Sync)\b", line)]

    assert len(waits) == 1, sent


def test_create_device_after_a_refused_mcs_register_on_postgresql_succeeds(
    make_client: ClientFactory, emulators: Emulators
) -> None:
    # A refused register read its product on the worker thread's kept connection and left
    # that connection's PostgreSQL transaction open; the worker's next create, one statement
    # in autocommit, could not switch to it (99500). Requests one after another run on the
    # same worker thread (core/offload.py).
    client = make_client(header_timeout=10.5)  # an emulator of its own: a worker may break
    if _emulator(emulators, header_timeout=10.5).engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL only (EMULATOR_TEST_DATABASE_URL)")
    assert create(client, create_body(deviceKey="before"))["code"] == 0
    refused = client.post(
        mcs.DEVICES_URL, json=mcs.device(prodId="z0000000000"), headers=mcs.HEADERS
    )
    assert refused.status_code == 404, refused.text

    codes = [create(client, create_body(deviceKey=f"after-{n}"))["code"] for n in range(3)]

    assert codes == [0, 0, 0]
