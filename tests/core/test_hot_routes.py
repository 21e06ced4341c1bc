"""Vendor routes served directly once routed (emulator/core/asgi.py HotRoutes).

Each test builds its own emulator, so the first request of a test is the first that emulator
ever routes. Every test runs in process and over a real socket, like the rest of the suite.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import APIRouter, Request

from emulator.app import EmulatorApp, create_app
from emulator.config import Settings
from emulator.core import conformance
from emulator.core.asgi import HotRoutes
from emulator.core.responses import JsonResponse
from emulator.core.routing import VendorRoute, hot
from emulator.vendors.enos.connect.routes import ConnectRoute
from tests.conftest import Client, Emulators
from tests.control.helpers import CREATE, create_body
from tests.vendors.enos.helpers import HEADERS, devices_url

DEVICES = "/connect-service/v2.1/devices"


class OwnEmulator:
    def __init__(self, app: EmulatorApp, client: Client) -> None:
        self.app = app
        self.client = client

    @property
    def table(self) -> dict[tuple[str, str], Any]:
        hot = self.app.hot_routes
        assert isinstance(hot, HotRoutes), "the middleware stack is built by the first request"
        return hot.table

    def create(self, device_key: str | None = None, **headers: str) -> dict[str, Any]:
        response = self.client.post(
            devices_url("create"), json=create_body(device_key), headers={**HEADERS, **headers}
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body


@pytest.fixture
def own(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OwnEmulator]:
    emulators = Emulators(tmp_path_factory)
    app, _url = emulators.get()
    assert isinstance(app, EmulatorApp)
    client = emulators.client()
    try:
        yield OwnEmulator(app, client)
    finally:
        client.close()
        emulators.close()


def test_the_second_request_is_served_directly_with_the_answer_the_router_gave(
    own: OwnEmulator,
) -> None:
    routed = own.create()
    assert ("POST", DEVICES) in own.table
    own.client.post("/_emulator/reset")  # the ids start over: the same request, the same ids

    direct = own.create()

    assert direct == routed
    assert direct["code"] == 0
    assert direct["data"]["deviceKey"]


def test_errors_faults_and_the_journal_are_the_same_when_served_directly(
    own: OwnEmulator,
) -> None:
    own.create("dup-key")
    assert ("POST", DEVICES) in own.table

    duplicate = own.create("dup-key")
    armed = own.client.post("/_emulator/faults", json={"operation": CREATE, "code": 11714})
    assert armed.status_code == 201
    injected = own.create("other-key")
    missing_token = own.client.post(devices_url("create"), json=create_body("k"))

    assert duplicate["code"] == 11702
    assert injected["code"] == 11714
    assert missing_token.json()["code"] != 0
    entries = own.client.get("/_emulator/requests", params={"operation": CREATE}).json()
    codes = [e["vendorCode"] for e in entries["requests"]]
    assert codes[:3] == [missing_token.json()["code"], 11714, 11702]
    assert entries["requests"][1]["injected"] is True
    metrics = own.client.get("/_emulator/metrics").text
    assert f'emulator_requests_total{{code="11702",operation="{CREATE}",status="200"}} 1.0' in (
        metrics
    )


def test_the_namespace_of_a_directly_served_request_comes_from_its_prefix_or_header(
    own: OwnEmulator,
) -> None:
    own.create("in-default")
    assert ("POST", DEVICES) in own.table

    by_prefix = own.client.post(
        f"/ns/hot-a{DEVICES}?action=create&orgId=o15475450989191",
        json=create_body("in-a"), headers=HEADERS,
    )  # fmt: skip
    own.create("in-b", **{"X-Emulator-Namespace": "hot-b"})

    assert by_prefix.json()["code"] == 0
    keys = {
        ns: [
            d["deviceKey"] for d in own.client.get(f"{prefix}/_emulator/devices").json()["devices"]
        ]
        for ns, prefix in (("default", ""), ("hot-a", "/ns/hot-a"), ("hot-b", "/ns/hot-b"))
    }
    assert "in-default" in keys["default"]
    assert "in-a" not in keys["default"]
    assert "in-a" in keys["hot-a"]
    assert "in-b" not in keys["hot-a"]
    assert "in-b" in keys["hot-b"]
    assert "in-a" not in keys["hot-b"]


def test_another_method_on_a_cached_path_still_goes_through_the_router(
    own: OwnEmulator,
) -> None:
    own.create()

    put = own.client.put(devices_url("create"), json=create_body(), headers=HEADERS)

    assert ("PUT", DEVICES) not in own.table
    # The EnOS fallback answers an unknown method in its envelope, as before any caching.
    assert put.json()["code"] == 99400


def test_only_literal_vendor_paths_enter_the_table(own: OwnEmulator) -> None:
    own.create()
    own.client.get("/_emulator/health")
    own.client.get("/_emulator/devices")
    own.client.get("/mcs/v2/devices/nope", headers={"Authorization": "Bearer x"})

    assert all(not path.startswith(("/_emulator", "/mcs/v2/devices/")) for _m, path in own.table)


def test_a_route_with_path_parameters_is_never_cached(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    # No hot vendor route has a path parameter today; this one does, so a request per
    # distinct path would otherwise grow the table and lose its parameters.
    emulators = Emulators(tmp_path_factory)
    app, _url = emulators.get()
    router = APIRouter(route_class=ConnectRoute)

    @router.post("/connect-service/v2.1/things/{key}", name=CREATE)
    @hot
    async def thing(request: Request) -> JsonResponse:
        return JsonResponse({"code": 0, "key": request.path_params["key"]})

    app.include_router(router)
    try:
        with emulators.client() as client:
            keys = [
                client.post(f"/connect-service/v2.1/things/{key}", headers=HEADERS).json()["key"]
                for key in ("a", "b", "a", "b")
            ]
        assert keys == ["a", "b", "a", "b"]
        assert isinstance(app, EmulatorApp)
        assert app.hot_routes is not None
        assert not any("things" in path for _m, path in app.hot_routes.table)
    finally:
        emulators.close()


def test_a_failing_fault_book_answers_the_vendors_internal_error_routed_or_direct(
    own: OwnEmulator, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*_args: Any, **_kwargs: Any) -> None:
        raise RuntimeError("the fault table is unreachable")

    monkeypatch.setattr(own.app.emulator.faults, "take", broken)

    answers = [
        own.client.post(devices_url("create"), json=create_body(), headers=HEADERS)
        for _ in range(2)
    ]

    assert ("POST", DEVICES) in own.table
    for answer in answers:
        assert answer.status_code == 200
        assert (answer.json()["code"], answer.json()["msg"]) == (99500, "Internal Server Error")
    assert "faults: cannot check" in caplog.text


def test_an_error_escaping_the_route_answers_the_vendors_internal_error_routed_or_direct(
    own: OwnEmulator, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    own.create()
    assert ("POST", DEVICES) in own.table

    def broken(*_args: Any, **_kwargs: Any) -> None:
        raise RuntimeError("the clock's row is unreachable")

    monkeypatch.setattr(own.app.emulator.clock, "one_read", broken)
    answers = [
        own.client.post(devices_url("create"), json=create_body(), headers=HEADERS)
        for _ in range(2)
    ]
    monkeypatch.undo()

    for answer in answers:
        assert answer.status_code == 200
        assert (answer.json()["code"], answer.json()["msg"]) == (99500, "Internal Server Error")
    assert "unhandled error on POST /connect-service/v2.1/devices" in caplog.text
    assert own.create()["code"] == 0  # the same client, its connection kept


def test_a_hot_endpoint_with_another_parameter_fails_when_its_route_is_built() -> None:
    router = APIRouter(route_class=ConnectRoute)

    with pytest.raises(TypeError, match="takes only the request"):

        @router.post("/connect-service/v2.1/other/{key}", name=CREATE)
        @hot
        async def other(request: Request, key: str) -> JsonResponse:
            return JsonResponse({"key": key})


def test_an_endpoint_not_declared_hot_is_never_served_directly(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    emulators = Emulators(tmp_path_factory)
    app, _url = emulators.get()
    router = APIRouter(route_class=ConnectRoute)

    @router.post("/connect-service/v2.1/plain", name=CREATE)
    async def plain(request: Request) -> JsonResponse:
        return JsonResponse({"code": 0})

    app.include_router(router)
    try:
        with emulators.client() as client:
            for _ in range(2):
                assert client.post("/connect-service/v2.1/plain", headers=HEADERS).json() == {
                    "code": 0
                }
        assert isinstance(app, EmulatorApp)
        assert app.hot_routes is not None
        assert ("POST", "/connect-service/v2.1/plain") not in app.hot_routes.table
    finally:
        emulators.close()


def test_every_documented_operation_is_served_by_a_hot_route() -> None:
    app = create_app(Settings(db=":memory:"))
    spec = app.openapi()
    hot_paths = {
        route.path
        for route in conformance.api_routes(app.routes)
        if isinstance(route, VendorRoute) and getattr(route.endpoint, "__emulator_hot__", False)
    }
    served: dict[str, set[str]] = {}
    for path, item in spec["paths"].items():
        for op in item.values():
            served.setdefault(op.get("x-operation", ""), set()).add(path)
    for operation in conformance.doc_operations().values():
        # A later API version of the same operation may be a plain route (DPS v4.0).
        assert served[operation] & hot_paths, operation
