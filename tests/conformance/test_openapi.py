"""The published contract: ``/openapi.json`` and ``/docs``."""

from __future__ import annotations

import json
import re
import warnings
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from emulator.app import create_app
from emulator.config import Settings
from emulator.core import conformance
from emulator.core.operations import OPERATIONS
from tests.conformance.contract import OPERATIONS_PUBLISHED
from tests.conftest import Client

VENDOR_TAGS = {"enos", "quectel", "mcs"}


def openapi(client: Client) -> dict[str, Any]:
    answer = client.get("/openapi.json")
    assert answer.status_code == 200
    schema: dict[str, Any] = answer.json()
    return schema


def test_openapi_is_generated_without_duplicate_operation_id_warnings() -> None:
    app = create_app(Settings(db=":memory:"))
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            app.openapi()
    finally:
        app.state.emulator.engine.dispose()
    assert [str(w.message) for w in caught] == []


def test_every_operation_id_is_published_once(client: Client) -> None:
    ids = [
        spec["operationId"] for item in openapi(client)["paths"].values() for spec in item.values()
    ]
    assert [i for i, n in Counter(ids).items() if n > 1] == []


@pytest.mark.parametrize(
    ("path", "operation"),
    [
        ("/connect-service/v2.1/devices", "enos.connect.create_device"),
        ("/dps-service/v2.5/pvs/device", "enos.dps.allocate"),
        ("/v2/quecauth/accessKeyAuthrize/accessKeyLogin", "quectel.auth.access_key_login"),
    ],
)
def test_a_get_and_post_route_publishes_the_post_id_and_a_get_twin(
    client: Client, path: str, operation: str
) -> None:
    item = openapi(client)["paths"][path]
    assert item["post"]["operationId"] == operation
    assert item["get"]["operationId"] == f"{operation}.get"
    # The journal, faults and metrics still know one operation.
    assert item["get"]["x-operation"] == item["post"]["x-operation"]


def test_every_route_bound_vendor_operation_has_its_operation_id(client: Client) -> None:
    published = {
        conformance.base_operation(spec["operationId"])
        for item in openapi(client)["paths"].values()
        for spec in item.values()
    }
    # Device messages (MQTT) have no route at all.
    dispatched = {
        op for op, spec in OPERATIONS.items() if op not in published and spec.message is None
    }
    # Only ``?action=`` companions share another operation's route.
    report = client.get("/_emulator/conformance").json()
    paths = {op["id"]: op["path"] for doc in report["docs"] for op in doc["operations"]}
    for op in dispatched:
        assert "?action=" in paths[op], op


def test_vendor_operations_are_grouped_by_vendor(client: Client) -> None:
    for op in OPERATIONS_PUBLISHED:
        vendors = {tag.split()[0] for tag in op.spec.get("tags", [])} & VENDOR_TAGS
        if op.operation_id.startswith("control."):
            assert not vendors, op
        else:
            assert len(vendors) == 1, op
            assert op.operation_id.split(".")[0] in vendors, op


def test_vendor_operations_publish_their_documented_codes_with_examples(client: Client) -> None:
    for op in OPERATIONS_PUBLISHED:
        if not op.vendor:
            continue
        operation = OPERATIONS[op.spec["x-operation"]]
        codes = sorted(c["code"] for c in op.spec["x-error-codes"])
        assert codes == operation.codes(), op
        responses = op.spec["responses"]
        assert "422" not in responses, op  # vendor validation errors are vendor codes
        examples = {
            name: example
            for answer in responses.values()
            for name, example in answer.get("content", {})
            .get("application/json", {})
            .get("examples", {})
            .items()
        }
        assert {int(name.split()[0]) for name in examples} == set(codes), op


def test_the_examples_are_the_vendors_envelopes(client: Client) -> None:
    paths = openapi(client)["paths"]
    enos = paths["/connect-service/v2.1/devices"]["post"]["responses"]["200"]
    example = enos["content"]["application/json"]["examples"]["11702 DEVICE_KEY_EXISTS"]["value"]
    assert set(example) == {"code", "msg", "requestId", "data"}
    assert example["code"] == 11702
    mcs = paths["/mcs/v2/devices"]["post"]["responses"]["401"]
    value = mcs["content"]["application/json"]["examples"]["1002 NO_ACCESS_RIGHT"]["value"]
    assert value["results"]["code"] == 1002
    quectel = paths["/v2/devicemgr/r3/openapi/device/createBatch"]["post"]["responses"]["200"]
    assert "70017" in quectel["description"]


def test_dispatching_routes_publish_their_query_and_body(client: Client) -> None:
    create = openapi(client)["paths"]["/connect-service/v2.1/devices"]["post"]
    assert {p["name"] for p in create["parameters"]} >= {"action", "orgId"}
    assert "requestBody" in create
    register = openapi(client)["paths"]["/mcs/v2/devices"]["post"]
    assert len(register["requestBody"]["content"]["application/json"]["schema"]["oneOf"]) == 2


def test_docs_page_is_served(client: Client) -> None:
    answer = client.get("/docs")
    assert answer.status_code == 200
    assert "openapi.json" in answer.text


# --- the contract resolves and describes what the server answers ---------------------------


def test_openapi_is_a_valid_openapi_document(client: Client) -> None:
    from openapi_spec_validator import validate

    validate(openapi(client))


def control_operations(schema: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, spec)
        for path, item in schema["paths"].items()
        if path.startswith("/_emulator")
        for method, spec in item.items()
    ]


def test_the_control_plane_documents_its_own_400_not_fastapis_422(client: Client) -> None:
    schema = openapi(client)
    for method, path, spec in control_operations(schema):
        responses = spec["responses"]
        assert "422" not in responses, f"{method} {path}"
        for status in ("401", "403", "503"):
            answer = responses[status]["content"]["application/json"]["schema"]
            assert answer == {"$ref": "#/components/schemas/ControlError"}, f"{method} {path}"
        if spec.get("parameters") or spec.get("requestBody"):
            assert "400" in responses, f"{method} {path}"
        if spec.get("requestBody"):
            assert {"413", "415"} <= set(responses), f"{method} {path}"


def test_a_control_error_matches_its_published_schema(client: Client) -> None:
    import jsonschema

    schema = openapi(client)
    error_schema = schema["components"]["schemas"]["ControlError"]
    answer = client.get("/_emulator/devices", params={"limit": 0})
    assert answer.status_code == 400
    jsonschema.validate(answer.json(), error_schema)


@pytest.mark.parametrize(
    ("operation", "status"),
    [
        ("control.verify_requests", "409"),
        ("control.import_state", "409"),
        ("control.ack_command", "409"),
        ("control.delete_fault", "404"),
        ("control.device_online", "404"),
        ("control.get_command", "404"),
    ],
)
def test_404_and_409_are_documented_where_they_are_answered(
    client: Client, operation: str, status: str
) -> None:
    specs = {s["operationId"]: s for _, _, s in control_operations(openapi(client))}
    assert status in specs[operation]["responses"]


@pytest.mark.parametrize(
    ("operation", "query", "kind"),
    [
        ("control.export_state", {"format": "yaml"}, "application/yaml"),
        ("control.conformance", {"format": "text"}, "text/plain"),
    ],
)
def test_other_formats_are_documented_content_types(
    client: Client, operation: str, query: dict[str, str], kind: str
) -> None:
    specs = {(s["operationId"]): (p, s) for _, p, s in control_operations(openapi(client))}
    path, spec = specs[operation]
    assert kind in spec["responses"]["200"]["content"]
    answer = client.get(path, params=query)
    assert answer.headers["content-type"].startswith(kind)


def test_fixture_documents_are_documented_bodies(client: Client) -> None:
    specs = {s["operationId"]: s for _, _, s in control_operations(openapi(client))}
    for operation in ("control.import_state", "control.merge_fixtures"):
        content = specs[operation]["requestBody"]["content"]
        assert {"application/json", "application/yaml"} <= set(content)
        # No body is an empty document, as the server takes it.
        assert specs[operation]["requestBody"]["required"] is False


def test_no_fixture_document_is_an_empty_one(client: Client, namespace: str) -> None:
    merged = client.post("/_emulator/fixtures")
    assert merged.status_code == 200
    replaced = client.put(
        "/_emulator/state", content=b"null", headers={"content-type": "application/yaml"}
    )
    assert replaced.status_code == 200
    assert replaced.json() == {"namespace": namespace, "rows": {}}


def _referenced(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        if isinstance(node.get("$ref"), str):
            yield node["$ref"]
        for value in node.values():
            yield from _referenced(value)
    elif isinstance(node, list):
        for item in node:
            yield from _referenced(item)


def test_every_reference_of_the_document_resolves_from_its_root(client: Client) -> None:
    """A ``$ref`` of an OpenAPI document starts from the document: an inline model's
    ``#/$defs/X`` left there breaks ReDoc (and any tool that follows references)."""
    schema = openapi(client)
    unresolved = []
    for ref in set(_referenced(schema)):
        target: Any = schema
        for part in ref.removeprefix("#/").split("/"):
            target = target.get(part) if isinstance(target, dict) else None
        if not ref.startswith("#/") or target is None:
            unresolved.append(ref)
    assert unresolved == []
    assert "$defs" not in json.dumps(schema)


def test_hoisted_definitions_keep_a_taken_name_apart() -> None:
    schema: dict[str, Any] = {
        "components": {"schemas": {"Pkdk": {"type": "string"}}},
        "paths": {"/x": {"post": {"schema": {"$defs": {"Pkdk": {"type": "object"}},
                                             "items": {"$ref": "#/$defs/Pkdk"}}}}},
    }  # fmt: skip
    hoisted = conformance.hoist_local_definitions(schema)
    assert hoisted["components"]["schemas"]["Pkdk2"] == {"type": "object"}
    assert hoisted["paths"]["/x"]["post"]["schema"] == {
        "items": {"$ref": "#/components/schemas/Pkdk2"}
    }


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_the_api_pages_load_their_assets_from_the_emulator_only(client: Client, page: str) -> None:
    answer = client.get(page)
    assert answer.status_code == 200
    assert "openapi.json" in answer.text
    sources = re.findall(r'(?:src|href)="([^"]+)"', answer.text)
    assert sources
    assert [s for s in sources if not s.startswith("/docs/assets/")] == []
    assert "http://" not in answer.text
    assert "https://" not in answer.text
    assert "default-src 'self'" in answer.headers["content-security-policy"]
    for source in sources:
        asset = client.get(source)
        assert asset.status_code == 200, source
        assert len(asset.content) > 1000, source


def test_an_asset_outside_the_shipped_set_is_not_found(client: Client) -> None:
    assert client.get("/docs/assets/core.py").status_code == 404
    assert client.get("/docs/assets/..%2Fcore.py").status_code == 404
