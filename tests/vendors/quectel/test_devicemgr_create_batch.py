"""Quectel SaaS OpenAPI, Add Devices (Batch): shared/vendor-docs/devicemgr-createBatch.md.

``data`` follows DESIGN.md: ``{"successList":[{"data":{...}}],"failureList":[{"data":{pk,dk},
"msg"}]}``. Companions and the token service have their own files; the completeness test over
the SaaS error tables is at the bottom of this one.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from emulator.core.errors import ErrorCode
from emulator.core.operations import OPERATIONS
from emulator.vendors.quectel.devicemgr import service
from emulator.vendors.quectel.devicemgr.errors import SaasAuthError, SaasError, SaasTokenError
from emulator.vendors.quectel.devicemgr.schemas import DeviceItem
from tests.conftest import Client, ClientFactory, Emulators
from tests.shapes import load_sample, missing_paths, shape
from tests.vendors.quectel import test_devicemgr_companions, test_devicemgr_token
from tests.vendors.quectel.devicemgr_helpers import (
    AEP_PRODUCT,
    CREATE_BATCH,
    GATEWAY_PRODUCT,
    HEADERS,
    OVERVIEW,
    PRODUCT,
    create_batch,
    created,
    device,
    failures,
    get,
)

SAMPLES = Path(__file__).parent / "samples"
SECRET = re.compile(r"^[A-Za-z0-9]{20}$")


class TestDocSample:
    def test_create_batch_doc_sample_succeeds_verbatim_with_the_sample_shape(
        self, client: Client
    ) -> None:
        raw = (SAMPLES / "devicemgr_create_batch.request.json").read_bytes()
        expected = load_sample(SAMPLES / "devicemgr_create_batch.response.json")

        response = client.post(CREATE_BATCH, content=raw, headers=HEADERS)

        assert response.status_code == 200
        body = response.json()
        assert missing_paths(shape(expected), body) == []
        assert (body["code"], body["msg"]) == (200, "")
        assert created(body) == ["DK00001", "DK00002"]
        assert body["data"]["failureList"] == []

    def test_create_batch_reports_the_credentials_of_each_created_device(
        self, client: Client
    ) -> None:
        body = create_batch(
            client,
            [
                device("dyn-1", authMode=0, deviceName="n1", sn="S1"),
                device("static-1", authMode=1),
                device("x509-1", authMode=2, fingerPrint="ab12"),
            ],
        )

        dyn, static, x509 = (s["data"] for s in body["data"]["successList"])
        assert dyn == {
            "productKey": PRODUCT, "deviceKey": "dyn-1", "deviceName": "n1", "sn": "S1",
            "authMode": 0, "deviceSecret": dyn["deviceSecret"], "fingerPrint": None, "psk": None,
        }  # fmt: skip
        assert SECRET.match(dyn["deviceSecret"])
        assert SECRET.match(static["deviceSecret"])
        assert dyn["deviceSecret"] != static["deviceSecret"]
        # X.509 devices authenticate with their certificate: no secret is issued.
        assert (x509["authMode"], x509["deviceSecret"], x509["fingerPrint"]) == (2, None, "ab12")

    def test_create_batch_auth_mode_defaults_to_dynamic(self, client: Client) -> None:
        body = create_batch(client, [device("d-1"), device("d-2", authMode=None)])

        modes = [s["data"]["authMode"] for s in body["data"]["successList"]]
        assert modes == [0, 0]

    def test_create_batch_device_name_defaults_to_the_device_key(self, client: Client) -> None:
        body = create_batch(client, [device("nameless-1")])

        assert body["data"]["successList"][0]["data"]["deviceName"] == "nameless-1"

    def test_create_batch_devices_are_visible_in_the_control_plane(self, client: Client) -> None:
        create_batch(client, [device("cp-1", authMode=1, sn="SN-CP-1")])

        listed = client.get(
            "/_emulator/devices", params={"vendor": "quectel", "productKey": PRODUCT}
        ).json()

        (found,) = [d for d in listed["devices"] if d["deviceKey"] == "cp-1"]
        assert found["productKey"] == PRODUCT
        assert (found["attrs"]["authMode"], found["attrs"]["sn"]) == (1, "SN-CP-1")
        assert SECRET.match(found["secret"])

    def test_created_device_can_go_online_through_the_control_plane(self, client: Client) -> None:
        create_batch(client, [device("online-1")])

        response = client.post(f"/_emulator/devices/quectel/{PRODUCT}/online-1/online")

        assert response.status_code == 200
        assert response.json()["online"] is True


class TestLimits:
    def test_create_batch_of_500_devices_creates_them_all(self, client: Client) -> None:
        body = create_batch(client, [device(f"bulk-{i:03d}") for i in range(500)])

        assert len(created(body)) == 500
        assert body["data"]["failureList"] == []
        assert get(client, OVERVIEW, productKey=PRODUCT, pageSize=1)["total"] == 500

    def test_create_batch_of_501_devices_returns_50005(self, client: Client) -> None:
        body = create_batch(client, [device(f"over-{i:03d}") for i in range(501)])

        assert body["code"] == 50005
        assert body["data"] is None
        assert "devices" in body["msg"]
        assert get(client, OVERVIEW, productKey=PRODUCT)["total"] == 0

    @pytest.mark.parametrize("devices", [[], None, "DK00001", {"deviceKey": "DK00001"}], ids=repr)
    def test_create_batch_without_a_device_list_returns_50005(
        self, client: Client, devices: Any
    ) -> None:
        response = client.post(
            CREATE_BATCH, json={"productKey": PRODUCT, "devices": devices}, headers=HEADERS
        )

        assert response.json()["code"] == 50005

    def test_create_batch_missing_devices_returns_50005(self, client: Client) -> None:
        response = client.post(CREATE_BATCH, json={"productKey": PRODUCT}, headers=HEADERS)

        assert response.json()["code"] == 50005

    @pytest.mark.parametrize("entry", [1, "DK1", None, ["DK1"]], ids=repr)
    def test_create_batch_with_a_non_object_device_returns_50005(
        self, client: Client, entry: Any
    ) -> None:
        body = create_batch(client, [device("fine-1"), entry])

        assert body["code"] == 50005
        assert get(client, OVERVIEW, productKey=PRODUCT)["total"] == 0


class TestProduct:
    @pytest.mark.parametrize("product", ["", None, "missing"], ids=repr)
    def test_create_batch_without_product_key_returns_50006(
        self, client: Client, product: Any
    ) -> None:
        payload: dict[str, Any] = {"devices": [device("DK1")]}
        if product != "missing":
            payload["productKey"] = product

        body = client.post(CREATE_BATCH, json=payload, headers=HEADERS).json()

        assert body["code"] == 50006

    def test_create_batch_with_empty_body_returns_50006(self, client: Client) -> None:
        body = client.post(CREATE_BATCH, content=b"", headers=HEADERS).json()

        assert (body["code"], body["msg"]) == (50006, "The productID or ProductKey is empty.")

    def test_create_batch_with_unknown_product_returns_70017(self, client: Client) -> None:
        body = create_batch(client, [device("DK1")], product_key="NOPE")

        assert (body["code"], body["msg"], body["data"]) == (70017, "Product does not exist.", None)

    def test_create_batch_same_device_key_in_another_product_succeeds(self, client: Client) -> None:
        first = create_batch(client, [device("shared-1")])
        second = create_batch(client, [device("shared-1")], product_key=GATEWAY_PRODUCT)

        assert created(first) == created(second) == ["shared-1"]


class TestPerDeviceRules:
    def test_create_batch_x509_device_without_fingerprint_fails_that_device(
        self, client: Client
    ) -> None:
        body = create_batch(
            client,
            [
                device("x-ok", authMode=2, fingerPrint="d30075fefc2c86d1"),
                device("x-none", authMode=2),
                device("x-empty", authMode=2, fingerPrint=""),
            ],
        )

        assert body["code"] == 200
        assert created(body) == ["x-ok"]
        assert set(failures(body)) == {"x-none", "x-empty"}
        assert "fingerPrint" in failures(body)["x-none"]

    def test_create_batch_on_aep_product_without_psk_fails_that_device(
        self, client: Client
    ) -> None:
        body = create_batch(
            client,
            [device("aep-ok", psk="0123456789abcdef"), device("aep-none"), device("aep-e", psk="")],
            product_key=AEP_PRODUCT,
        )

        assert created(body) == ["aep-ok"]
        assert body["data"]["successList"][0]["data"]["psk"] == "0123456789abcdef"
        assert set(failures(body)) == {"aep-none", "aep-e"}
        assert "psk" in failures(body)["aep-none"]

    def test_create_batch_psk_is_not_required_off_aep(self, client: Client) -> None:
        body = create_batch(client, [device("no-psk-1")])

        assert created(body) == ["no-psk-1"]

    def test_create_batch_duplicate_inside_one_request_creates_the_first_only(
        self, client: Client
    ) -> None:
        body = create_batch(
            client, [device("dup-1", sn="first"), device("dup-1", sn="second"), device("dup-2")]
        )

        assert created(body) == ["dup-1", "dup-2"]
        assert body["data"]["successList"][0]["data"]["sn"] == "first"
        assert failures(body) == {"dup-1": "Duplicate deviceKey in the request"}

    def test_create_batch_duplicate_of_a_registered_device_is_reported(
        self, client: Client
    ) -> None:
        create_batch(client, [device("old-1")])

        body = create_batch(client, [device("old-1"), device("new-1")])

        assert created(body) == ["new-1"]
        assert failures(body) == {"old-1": "The device already exists"}

    def test_create_batch_answers_in_the_request_order_around_registered_devices(
        self, client: Client
    ) -> None:
        create_batch(client, [device("old-1"), device("old-2")])

        keys = ["new-3", "old-2", "new-1", "bad", "old-1", "new-2"]
        body = create_batch(
            client, [device(k, authMode=7) if k == "bad" else device(k) for k in keys]
        )

        assert created(body) == ["new-3", "new-1", "new-2"]
        listed = [f["data"]["deviceKey"] for f in body["data"]["failureList"]]
        assert listed == ["old-2", "bad", "old-1"]

    def test_create_batch_all_devices_failing_still_answers_200(self, client: Client) -> None:
        body = create_batch(client, [device("bad", authMode=7)])

        assert (body["code"], body["data"]["successList"]) == (200, [])
        assert len(body["data"]["failureList"]) == 1

    @pytest.mark.parametrize("key", [None, "", 12345, "missing"], ids=repr)
    def test_create_batch_device_without_device_key_fails_that_device(
        self, client: Client, key: Any
    ) -> None:
        entry: dict[str, Any] = {"deviceName": "no key"}
        if key != "missing":
            entry["deviceKey"] = key

        body = create_batch(client, [entry, device("keyed-1")])

        assert created(body) == ["keyed-1"]
        (failure,) = body["data"]["failureList"]
        assert failure["data"] == {"productKey": PRODUCT, "deviceKey": ""}
        if key in (None, "", "missing"):
            assert failure["msg"] == SaasError.DEVICE_KEY_EMPTY.message

    @pytest.mark.parametrize("mode", [3, -1, "x", True, 1.5, [0]], ids=repr)
    def test_create_batch_device_with_invalid_auth_mode_fails_that_device(
        self, client: Client, mode: Any
    ) -> None:
        body = create_batch(client, [device("mode-1", authMode=mode), device("mode-2")])

        assert created(body) == ["mode-2"]
        assert "authMode" in failures(body)["mode-1"]

    @pytest.mark.parametrize("field", ["deviceName", "sn", "fingerPrint", "psk"])
    def test_create_batch_device_with_non_string_field_fails_that_device(
        self, client: Client, field: str
    ) -> None:
        body = create_batch(client, [device("typed-1", **{field: {"a": 1}})])

        assert field in failures(body)["typed-1"]

    def test_create_batch_keeps_the_request_order_in_both_lists(self, client: Client) -> None:
        keys = [f"o-{i}" for i in range(10)]
        devices = [device(k, authMode=7 if i % 3 == 0 else 0) for i, k in enumerate(keys)]

        body = create_batch(client, devices)

        assert created(body) == [k for i, k in enumerate(keys) if i % 3]
        assert list(failures(body)) == [k for i, k in enumerate(keys) if i % 3 == 0]


# Entries of every kind: the plain ones the batch checks by hand, and every way an entry can
# differ from plain (snake_case names, other fields, text or float modes, wrong types, nulls).
ENTRIES: list[dict[str, Any]] = [
    {"deviceKey": "p1"},
    {
        "deviceKey": "p2",
        "authMode": 0,
        "deviceName": "n",
        "sn": "s",
        "psk": "k",
        "fingerPrint": "f",
    },
    {"deviceKey": "p3", "authMode": 2, "fingerPrint": "f", "deviceName": None, "sn": None},
    {"deviceKey": "p4", "authMode": None, "deviceName": "名前", "sn": "", "psk": ""},
    {"deviceKey": " p5 "},
    {"device_key": "q1", "auth_mode": 1},
    {"deviceKey": "q2", "device_key": "q2b"},
    {"deviceKey": "q3", "color": "blue"},
    {"deviceKey": "q4", "authMode": "1"},
    {"deviceKey": "q5", "authMode": 1.0},
    {"deviceKey": "q6", "authMode": 1.5},
    {"deviceKey": "q7", "authMode": True},
    {"deviceKey": "q8", "authMode": 3},
    {"deviceKey": "q9", "authMode": -1},
    {"deviceKey": ""},
    {"deviceKey": None},
    {"deviceKey": 5},
    {},
    {"deviceKey": "q10", "deviceName": 5},
    {"deviceKey": "q11", "sn": ["s"]},
    {"deviceKey": "q12", "psk": False},
    {"deviceKey": "q13", "fingerPrint": {"a": 1}},
    {"deviceKey": "\ud800"},
    {"deviceKey": "k\u00e9"},
]


class TestEntryChecks:
    """An entry is checked by hand when it plainly is valid and by its pydantic model
    otherwise: either way the device, or the error, is the model's."""

    @pytest.mark.parametrize("raw", ENTRIES, ids=lambda raw: str(raw)[:40])
    def test_an_entry_is_what_its_model_makes_of_it(self, raw: dict[str, Any]) -> None:
        try:
            item = DeviceItem.model_validate(raw)
        except ValidationError as exc:
            with pytest.raises(ValidationError) as caught:
                service._device(raw)
            got, want = caught.value, exc
            assert got.errors(include_context=False) == want.errors(include_context=False)
        else:
            fields = item.device_key, item.auth_mode, item.device_name, item.finger_print
            assert tuple(service._device(raw)) == (*fields, item.psk, item.sn)

    def test_plain_entries_are_checked_by_hand(self) -> None:
        plain = [raw for raw in ENTRIES if service._plain_device(raw) is not None]

        assert [raw.get("deviceKey") for raw in plain] == [
            "p1",
            "p2",
            "p3",
            "p4",
            " p5 ",
            "k\u00e9",
        ]

    def test_a_batch_of_every_kind_of_entry_answers_each_in_order(self, client: Client) -> None:
        # Half a character cannot be sent as UTF-8 (the body refusing it is tested below).
        sent = [raw for raw in ENTRIES if raw.get("deviceKey") != "\ud800"]

        body = create_batch(client, sent)

        made = ["p1", "p2", "p3", "p4", " p5 ", "q1", "q2", "q3", "q4", "q5", "k\u00e9"]
        assert created(body) == made
        assert len(body["data"]["failureList"]) == len(sent) - len(made)
        listed = client.get(
            "/_emulator/devices", params={"vendor": "quectel", "productKey": PRODUCT}
        ).json()
        attrs = {d["deviceKey"]: d["attrs"] for d in listed["devices"]}
        assert attrs["p2"] == {"authMode": 0, "sn": "s", "fingerPrint": "f", "psk": "k"}
        assert attrs["q1"] == {"authMode": 1, "sn": None, "fingerPrint": None, "psk": None}


class TestTransaction:
    def test_create_batch_crash_during_insert_leaves_no_device_and_returns_50000(
        self, client: Client, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        create_batch(client, [device("taken-1")])
        # The duplicate check misses: the insert itself hits the unique key, mid-batch.
        monkeypatch.setattr(service, "_existing_keys", lambda *args: set())

        body = create_batch(client, [device("new-a"), device("taken-1"), device("new-b")])

        assert (body["code"], body["data"]) == (50000, None)
        listed = get(client, OVERVIEW, productKey=PRODUCT)
        assert [d["deviceKey"] for d in listed["data"]] == ["taken-1"]

    def test_create_batch_retries_when_a_concurrent_writer_takes_a_key(
        self, client: Client, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        create_batch(client, [device("raced-1")])
        real = service._existing_keys
        calls: list[int] = []

        def first_check_misses(*args: Any) -> set[str]:
            calls.append(1)
            return set() if len(calls) == 1 else real(*args)

        monkeypatch.setattr(service, "_existing_keys", first_check_misses)

        body = create_batch(client, [device("raced-1"), device("raced-2")])

        assert len(calls) == 2
        assert created(body) == ["raced-2"]
        assert failures(body) == {"raced-1": "The device already exists"}


def test_create_batch_device_fault_fails_only_that_device(
    make_client: ClientFactory, emulators: Emulators, namespace: str
) -> None:
    client = make_client()
    app, _ = emulators.get()
    emulator = app.state.emulator
    emulator.faults.arm(
        namespace, operation="quectel.devicemgr.create_batch", code=50000, times=1,
        device_key="faulty-1", now_ms=emulator.clock.now_ms(),
    )  # fmt: skip

    body = create_batch(client, [device("healthy-1"), device("faulty-1")])

    assert created(body) == ["healthy-1"]
    assert failures(body) == {"faulty-1": SaasError.SERVICE_EXCEPTION.message}


class TestRequestShape:
    @pytest.mark.parametrize(
        ("content", "content_type"),
        [
            (b"{bad json", "application/json"),
            (b"[1, 2]", "application/json"),
            (b"\xff\xfe", "application/json"),
            (b"productKey=PK0001", "application/x-www-form-urlencoded"),
            (b"null", "text/plain"),
            # Half a character: no database stores it, no answer can echo it.
            (rb'{"productKey":"PK0001","devices":[{"deviceKey":"\ud800"}]}', "application/json"),
            (
                rb'{"productKey":"PK0001","devices":[{"deviceKey":"s1","deviceName":"\udc00"}]}',
                "application/json",
            ),
        ],
        ids=["malformed", "array", "not-utf8", "form", "null", "lone-key", "lone-name"],
    )
    def test_create_batch_with_unreadable_body_returns_50005(
        self, client: Client, content: bytes, content_type: str
    ) -> None:
        headers = {**HEADERS, "Content-Type": content_type}

        response = client.post(CREATE_BATCH, content=content, headers=headers)

        assert response.status_code == 200
        assert response.json()["code"] == 50005

    def test_create_batch_with_oversized_body_returns_50005(
        self, make_client: ClientFactory
    ) -> None:
        client = make_client(max_body_bytes=1024)

        body = create_batch(client, [device(f"big-{i}", deviceName="x" * 100) for i in range(20)])

        assert body["code"] == 50005

    def test_create_batch_takes_a_character_written_as_two_escapes(self, client: Client) -> None:
        content = (
            rb'{"productKey":"PK0001","devices":[{"deviceKey":"e1","deviceName":"\ud83d\ude00"}]}'
        )

        body = client.post(CREATE_BATCH, content=content, headers=HEADERS).json()

        assert body["data"]["successList"][0]["data"]["deviceName"] == "\U0001f600"

    def test_create_batch_ignores_unknown_fields(self, client: Client) -> None:
        body = create_batch(client, [device("extra-1", color="blue")])

        assert created(body) == ["extra-1"]

    def test_create_batch_answers_get_in_the_quectel_envelope(self, client: Client) -> None:
        response = client.get(CREATE_BATCH, headers=HEADERS)

        assert response.status_code == 200
        assert response.json()["code"] == 50005


class TestAuth:
    def test_create_batch_without_token_returns_91001(self, client: Client) -> None:
        body = create_batch(client, [device("DK1")], headers={})

        assert (body["code"], body["msg"]) == (91001, "Token does not exist")

    @pytest.mark.parametrize("token", ["garbage", "Bearer", "QJWT", "a.b"])
    def test_create_batch_with_malformed_token_returns_91004(
        self, client: Client, token: str
    ) -> None:
        body = create_batch(client, [device("DK1")], headers={"Authorization": token})

        assert (body["code"], body["msg"]) == (91004, "Token incorrect")

    @pytest.mark.parametrize(
        "token",
        [HEADERS["Authorization"], "Bearer " + HEADERS["Authorization"], "QJWT opaque-token"],
        ids=["as-issued", "bearer", "opaque"],
    )
    def test_create_batch_lenient_accepts_a_well_formed_token(
        self, client: Client, token: str
    ) -> None:
        body = create_batch(client, [device("DK1")], headers={"Authorization": token})

        assert body["code"] == 200

    def test_create_batch_with_auth_off_needs_no_token(self, make_client: ClientFactory) -> None:
        body = create_batch(make_client(auth="off"), [device("DK1")], headers={})

        assert body["code"] == 200

    def test_create_batch_strict_refuses_a_token_it_did_not_issue_returns_91004(
        self, make_client: ClientFactory
    ) -> None:
        body = create_batch(make_client(auth="strict"), [device("DK1")])

        assert body["code"] == 91004


# --- completeness ---------------------------------------------------------------------------


def _reached_codes() -> set[int]:
    """Codes named by a test of the three SaaS test files (``..._returns_<code>``)."""
    import sys

    modules = [sys.modules[__name__], test_devicemgr_companions, test_devicemgr_token]
    reached: set[int] = set()
    for module in modules:
        for name, value in vars(module).items():
            targets = [value]
            if isinstance(value, type):
                targets = [getattr(value, n) for n in vars(value)]
                name = ""
            for target in targets:
                test_name = name or getattr(target, "__name__", "")
                match = re.search(r"_returns_(\d+)$", test_name)
                if test_name.startswith("test_") and match:
                    reached.add(int(match.group(1)))
    return reached


SAAS_TABLES: list[type[ErrorCode]] = [SaasError, SaasAuthError, SaasTokenError]


@pytest.mark.parametrize("table", SAAS_TABLES, ids=lambda t: t.__name__)
def test_every_saas_error_code_has_a_case_or_is_fault_only(table: type[ErrorCode]) -> None:
    reached = _reached_codes()
    ops = [op for op in OPERATIONS.values() if table in op.errors and op.vendor == "quectel"]
    fault_only_everywhere = {
        member.code for member in table if ops and all(member.code in op.fault_only for op in ops)
    }

    uncovered = {member.code for member in table} - reached - fault_only_everywhere

    assert uncovered == set()


def test_every_saas_operation_is_registered_with_its_tables() -> None:
    ids = {
        "quectel.devicemgr.create_batch", "quectel.devicemgr.create_device",
        "quectel.devicemgr.device_detail", "quectel.devicemgr.device_overview",
        "quectel.devicemgr.delete_device", "quectel.devicemgr.product_list",
        "quectel.devicemgr.product_detail", "quectel.auth.access_key_login",
        "quectel.auth.refresh_token",
    }  # fmt: skip

    assert ids <= set(OPERATIONS)
    batch = OPERATIONS["quectel.devicemgr.create_batch"]
    assert batch.errors == (SaasError, SaasAuthError)
    assert batch.fault_only == {50000, 50007, 70000, 70089, 70130, 91005, 91006, 91007}
