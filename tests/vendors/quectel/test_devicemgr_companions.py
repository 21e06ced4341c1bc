"""Quectel SaaS OpenAPI companions of createBatch (REAL-CLIENTS.md §3): Add Device (Single),
Query Device Details, Query Device List Under Product, Delete Device, Query Product List and
Query Product Details, with the documents' samples as golden shapes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Client
from tests.shapes import load_sample, missing_paths, shape
from tests.vendors.quectel.devicemgr_helpers import (
    AEP_PRODUCT,
    CREATE,
    DELETE,
    DETAIL,
    GATEWAY_PRODUCT,
    OVERVIEW,
    PRODUCT,
    PRODUCT_DETAIL,
    PRODUCTS,
    create_batch,
    device,
    get,
    post,
)

SAMPLES = Path(__file__).parent / "samples"


def single(**fields: Any) -> dict[str, Any]:
    return {"productKey": PRODUCT, "deviceKey": "single-1", **fields}


def control(client: Client, device_key: str, state: str, product_key: str = PRODUCT) -> None:
    response = client.post(f"/_emulator/devices/quectel/{product_key}/{device_key}/{state}")
    assert response.status_code == 200


class TestCreateDevice:
    def test_create_device_doc_sample_succeeds(self, client: Client) -> None:
        sample = load_sample(SAMPLES / "devicemgr_device_create.request.json")

        body = post(client, CREATE, sample)

        assert (body["code"], body["msg"]) == (200, "")
        assert body["data"]["deviceKey"] == "DK00001"
        assert len(body["data"]["deviceSecret"]) == 20
        assert get(client, DETAIL, productKey=PRODUCT, deviceKey="DK00001")["code"] == 200

    def test_create_device_twice_returns_50005(self, client: Client) -> None:
        post(client, CREATE, single())

        body = post(client, CREATE, single())

        assert body["code"] == 50005
        assert "already exists" in body["msg"]

    def test_create_device_x509_without_fingerprint_returns_50005(self, client: Client) -> None:
        body = post(client, CREATE, single(authMode=2))

        assert body["code"] == 50005
        assert "fingerPrint" in body["msg"]

    def test_create_device_on_aep_without_psk_returns_50005(self, client: Client) -> None:
        body = post(client, CREATE, single(productKey=AEP_PRODUCT))

        assert body["code"] == 50005
        assert "psk" in body["msg"]

    @pytest.mark.parametrize("value", [None, "", "missing"], ids=repr)
    def test_create_device_without_product_key_returns_50006(
        self, client: Client, value: Any
    ) -> None:
        payload = single(productKey=value, deviceKey=value)
        if value == "missing":
            payload = {}

        # productKey is checked before deviceKey.
        assert post(client, CREATE, payload)["code"] == 50006

    @pytest.mark.parametrize("value", [None, "", "missing"], ids=repr)
    def test_create_device_without_device_key_returns_50007(
        self, client: Client, value: Any
    ) -> None:
        payload = single(deviceKey=value)
        if value == "missing":
            del payload["deviceKey"]

        body = post(client, CREATE, payload)

        assert (body["code"], body["msg"]) == (
            50007,
            "The deviceID, ProductKey or DeviceKey is empty.",
        )

    def test_create_device_with_unknown_product_returns_70017(self, client: Client) -> None:
        assert post(client, CREATE, single(productKey="NOPE"))["code"] == 70017

    @pytest.mark.parametrize("mode", [5, "x", True])
    def test_create_device_with_invalid_auth_mode_returns_50005(
        self, client: Client, mode: Any
    ) -> None:
        body = post(client, CREATE, single(authMode=mode))

        assert body["code"] == 50005
        assert "authMode" in body["msg"]

    def test_create_device_then_batch_reports_it_as_existing(self, client: Client) -> None:
        post(client, CREATE, single())

        body = create_batch(client, [device("single-1")])

        assert body["data"]["failureList"][0]["msg"] == "The device already exists"


class TestDetail:
    def test_device_detail_has_the_doc_sample_shape_once_connected(self, client: Client) -> None:
        expected = load_sample(SAMPLES / "devicemgr_device_detail.response.json")
        create_batch(client, [device("DK00001", deviceName="DdevicName01", sn="SN00001")])
        for state in ("online", "offline", "online"):
            control(client, "DK00001", state)

        body = get(client, DETAIL, productKey=PRODUCT, deviceKey="DK00001")

        assert missing_paths(shape(expected), body) == []
        data = body["data"]
        assert (data["deviceStatus"], data["isActived"], data["sn"]) == (1, 1, "SN00001")
        assert data["firstConnTime"] == data["activedTime"] <= data["lastConnTime"]
        assert data["lastOfflineTime"] is not None

    def test_device_detail_of_a_new_device_is_inactive_and_offline(self, client: Client) -> None:
        create_batch(client, [device("fresh-1", authMode=1)])

        data = get(client, DETAIL, productKey=PRODUCT, deviceKey="fresh-1")["data"]

        assert (data["deviceStatus"], data["isActived"], data["authMode"]) == (0, 0, 1)
        assert (data["activedTime"], data["firstConnTime"], data["lastConnTime"]) == (None,) * 3
        assert data["dataFmt"] == 3
        assert data["createTime"] == data["updateTime"]

    def test_device_detail_follows_the_simulated_connection(self, client: Client) -> None:
        create_batch(client, [device("conn-1")])

        control(client, "conn-1", "online")
        online = get(client, DETAIL, productKey=PRODUCT, deviceKey="conn-1")["data"]
        control(client, "conn-1", "offline")
        offline = get(client, DETAIL, productKey=PRODUCT, deviceKey="conn-1")["data"]

        assert (online["deviceStatus"], offline["deviceStatus"]) == (1, 0)
        assert offline["isActived"] == 1

    def test_device_detail_of_unknown_device_returns_70130(self, client: Client) -> None:
        body = get(client, DETAIL, productKey=PRODUCT, deviceKey="ghost")

        assert (body["code"], body["msg"], body["data"]) == (70130, "Non-existent device", None)

    def test_device_detail_without_product_key_returns_50006(self, client: Client) -> None:
        assert get(client, DETAIL, deviceKey="DK00001")["code"] == 50006
        assert get(client, DETAIL, productKey="", deviceKey="DK00001")["code"] == 50006

    def test_device_detail_without_device_key_returns_50007(self, client: Client) -> None:
        assert get(client, DETAIL, productKey=PRODUCT)["code"] == 50007
        assert get(client, DETAIL, productKey=PRODUCT, deviceKey="")["code"] == 50007


class TestOverview:
    def test_device_overview_has_the_doc_sample_shape(self, client: Client) -> None:
        expected = load_sample(SAMPLES / "devicemgr_device_overview.response.json")
        create_batch(client, [device("DK00001", sn="SN1"), device("DK00002", sn="SN2")])
        for key in ("DK00001", "DK00002"):
            for state in ("online", "offline", "online"):
                control(client, key, state)

        body = get(client, OVERVIEW, productKey=PRODUCT)

        assert missing_paths(shape(expected), body) == []
        assert (body["pageNum"], body["pageSize"], body["pages"], body["total"]) == (1, 10, 1, 2)
        assert [d["deviceKey"] for d in body["data"]] == ["DK00001", "DK00002"]

    def test_device_overview_pages_in_creation_order(self, client: Client) -> None:
        create_batch(client, [device(f"p-{i:02d}") for i in range(25)])

        last = get(client, OVERVIEW, productKey=PRODUCT, pageNum=3, pageSize=10)
        beyond = get(client, OVERVIEW, productKey=PRODUCT, pageNum=4, pageSize=10)

        assert [d["deviceKey"] for d in last["data"]] == [f"p-{i:02d}" for i in range(20, 25)]
        assert (last["pages"], last["total"], last["pageNum"]) == (3, 25, 3)
        assert beyond["data"] == []

    def test_device_overview_filters(self, client: Client) -> None:
        create_batch(client, [device("f-1"), device("f-2"), device("f-3")])
        control(client, "f-1", "online")
        control(client, "f-2", "online")
        control(client, "f-2", "offline")

        def keys(**query: Any) -> list[str]:
            body = get(client, OVERVIEW, productKey=PRODUCT, **query)
            return [d["deviceKey"] for d in body["data"]]

        assert keys(deviceKey="f-2") == ["f-2"]
        assert keys(deviceStatus=1) == ["f-1"]
        assert keys(deviceStatus=0) == ["f-2", "f-3"]
        assert keys(activeStatus=1) == ["f-1", "f-2"]
        assert keys(activeStatus=0) == ["f-3"]

    def test_device_overview_of_a_product_without_devices_is_empty(self, client: Client) -> None:
        body = get(client, OVERVIEW, productKey=GATEWAY_PRODUCT)

        assert (body["code"], body["data"], body["total"], body["pages"]) == (200, [], 0, 0)

    @pytest.mark.parametrize(
        "query",
        [
            {"pageNum": "x"}, {"pageNum": 0}, {"pageNum": 2**31}, {"pageNum": 10**30},
            {"pageSize": 0}, {"pageSize": 1001},
            {"pageSize": "1.5"}, {"deviceStatus": 2}, {"activeStatus": "yes"},
        ],
        ids=repr,
    )  # fmt: skip
    def test_device_overview_with_bad_paging_or_filter_returns_50005(
        self, client: Client, query: dict[str, Any]
    ) -> None:
        assert get(client, OVERVIEW, productKey=PRODUCT, **query)["code"] == 50005

    def test_device_overview_without_product_key_returns_50006(self, client: Client) -> None:
        assert get(client, OVERVIEW)["code"] == 50006

    def test_device_overview_of_unknown_product_returns_70017(self, client: Client) -> None:
        assert get(client, OVERVIEW, productKey="NOPE")["code"] == 70017


class TestDelete:
    def test_delete_device_doc_sample_then_detail_returns_70130(self, client: Client) -> None:
        create_batch(client, [device("DK00001")])
        sample = load_sample(SAMPLES / "devicemgr_device_delete.request.json")

        body = post(client, DELETE, sample)

        assert (body["code"], body["msg"], body["data"]) == (200, "", None)
        assert get(client, DETAIL, productKey=PRODUCT, deviceKey="DK00001")["code"] == 70130

    def test_delete_unknown_device_returns_70130(self, client: Client) -> None:
        body = post(client, DELETE, {"productKey": PRODUCT, "deviceKey": "ghost"})

        assert body["code"] == 70130

    def test_deleted_device_key_can_be_created_again(self, client: Client) -> None:
        first = create_batch(client, [device("again-1")])
        post(client, DELETE, {"productKey": PRODUCT, "deviceKey": "again-1"})

        second = create_batch(client, [device("again-1")])

        assert second["data"]["failureList"] == []
        secrets = [b["data"]["successList"][0]["data"]["deviceSecret"] for b in (first, second)]
        assert secrets[0] != secrets[1]

    def test_delete_device_without_product_key_returns_50006(self, client: Client) -> None:
        assert post(client, DELETE, {"deviceKey": "DK00001"})["code"] == 50006

    def test_delete_device_without_device_key_returns_50007(self, client: Client) -> None:
        assert post(client, DELETE, {"productKey": PRODUCT, "deviceKey": None})["code"] == 50007

    def test_delete_device_with_malformed_body_returns_50005(self, client: Client) -> None:
        response = client.post(
            DELETE, content=b"{", headers={"Authorization": "QJWT t", "Content-Type": "x"}
        )

        assert response.json()["code"] == 50005


class TestProducts:
    def test_product_list_has_the_doc_sample_shape(self, client: Client) -> None:
        expected = load_sample(SAMPLES / "devicemgr_product_list.response.json")

        body = get(client, PRODUCTS)

        assert missing_paths(shape(expected), body) == []
        products = {p["productKey"]: p for p in body["data"]}
        assert {PRODUCT, AEP_PRODUCT, GATEWAY_PRODUCT} <= set(products)
        assert products[AEP_PRODUCT]["connectPlatform"] == 1
        assert products[PRODUCT]["connectPlatform"] == 0
        assert products[GATEWAY_PRODUCT]["accessType"] == 1

    def test_product_list_pages_and_filters(self, client: Client) -> None:
        page = get(client, PRODUCTS, pageNum=2, pageSize=1)
        one = get(client, PRODUCTS, productKey=AEP_PRODUCT)

        assert (page["pageNum"], page["pageSize"], page["total"]) == (2, 1, page["pages"])
        assert len(page["data"]) == 1
        assert [p["productKey"] for p in one["data"]] == [AEP_PRODUCT]

    @pytest.mark.parametrize("query", [{"pageSize": "ten"}, {"pageNum": 10**30}], ids=repr)
    def test_product_list_with_bad_paging_returns_50005(
        self, client: Client, query: dict[str, Any]
    ) -> None:
        assert get(client, PRODUCTS, **query)["code"] == 50005

    def test_product_detail_has_the_doc_sample_shape(self, client: Client) -> None:
        expected = load_sample(SAMPLES / "devicemgr_product_detail.response.json")

        body = get(client, PRODUCT_DETAIL, productKey=PRODUCT)

        assert missing_paths(shape(expected), body) == []
        assert body["data"]["productName"] == "Demo product"

    def test_product_detail_of_unknown_product_returns_70017(self, client: Client) -> None:
        assert get(client, PRODUCT_DETAIL, productKey="NOPE")["code"] == 70017

    def test_product_detail_without_product_key_returns_50006(self, client: Client) -> None:
        assert get(client, PRODUCT_DETAIL)["code"] == 50006

    def test_products_need_a_token_returns_91001(self, client: Client) -> None:
        assert get(client, PRODUCTS, headers={})["code"] == 91001


@pytest.mark.parametrize(
    "path", ["/v2/devicemgr/r3/openapi/device/nope", "/v2/quecproductmgr/r3/openapi/nope"]
)
def test_unknown_path_answers_in_the_quectel_envelope(client: Client, path: str) -> None:
    response = client.get(path, headers={"Authorization": "QJWT t"})

    assert response.status_code == 200
    body = response.json()
    assert (body["code"], body["data"]) == (50005, None)
