"""Hand-made hostile inputs against every vendor operation of the published schema.

Malformed and truncated JSON, wrong content types, a body over the limit (declared and
streamed), huge strings and arrays, deep nesting, unicode edge cases and nulls everywhere:
the answer is never a 5xx and always the operation's own envelope (``check_answer``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conformance.contract import (
    ENOS_TOKEN,
    JWT,
    OPERATIONS_PUBLISHED,
    Op,
    body_schema,
    check_answer,
)
from tests.conftest import Client, ClientFactory

VENDOR_OPS = [op for op in OPERATIONS_PUBLISHED if op.vendor]
BODY_OPS = [op for op in VENDOR_OPS if op.method in ("POST", "PUT")]
HEADERS = {**ENOS_TOKEN, "Authorization": f"Bearer {JWT}"}
# Over the default body limit (1 MiB).
OVER_LIMIT = 1_100_000
NESTING = 20_000


@pytest.fixture
def client(make_client: ClientFactory) -> Client:
    """Its own emulator: the hostile bodies stay out of the journal other tests list with
    ``namespace=*``."""
    return make_client(journal_size=3000)


def sample(schema: Any, depth: int = 0) -> Any:
    """A plausible body from a schema: every property, one item per list."""
    if not isinstance(schema, dict) or depth > 6:
        return "x"
    for key in ("anyOf", "oneOf"):
        if key in schema:
            options = [s for s in schema[key] if s.get("type") != "null"] or schema[key]
            return sample(options[-1], depth + 1)
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        return {k: sample(v, depth + 1) for k, v in schema.get("properties", {}).items()}
    if kind == "array":
        return [sample(schema.get("items", {}), depth + 1)]
    if kind == "integer":
        return schema.get("minimum", 1)
    if kind == "number":
        return 1.5
    if kind == "boolean":
        return True
    return "x" * max(1, schema.get("minLength", 1))


def map_leaves(value: Any, leaf: Any) -> Any:
    if isinstance(value, dict):
        return {k: map_leaves(v, leaf) for k, v in value.items()}
    if isinstance(value, list):
        return [map_leaves(v, leaf) for v in value]
    return leaf


def body_of(op: Op) -> Any:
    return sample(body_schema(op) or {"type": "object"})


def url(op: Op) -> str:
    path = op.path.replace("{device_id}", "dev1")
    if "action" in {p["name"] for p in op.spec.get("parameters", [])}:
        action = "activate" if "v4.0" in path else "create"
        if "dps" in path and "v2.5" in path:
            action = "allocate"
        path += f"?action={action}&orgId=o15475450989191"
    return path


UNICODE = [
    "\u0000",
    "\ud800",  # a lone surrogate: valid JSON escape, not encodable as UTF-8
    "\u202e\u0645\u0631\u062d\u0628\u0627",
    "\U0001f4a9" * 50,
    "\ufeff",
    "a\r\nb",
    "'; DROP TABLE devices; --",
]

RAW_BODIES: dict[str, bytes] = {
    "truncated object": b'{"productKey": "PK0001", ',
    "lone brace": b"{",
    "not JSON": b"this is not json",
    "invalid UTF-8": b"\xff\xfe\xfa",
    "JSON null": b"null",
    "JSON array": b"[]",
    "JSON string": b'"text"',
    "JSON number": b"42",
    "huge exponent": b"1e999999",
    "NaN": b'{"productKey": NaN}',
    "deep arrays": b"[" * NESTING + b"]" * NESTING,
    "deep objects": b'{"a":' * NESTING + b"1" + b"}" * NESTING,
    "duplicate keys": b'{"productKey": "a", "productKey": {"b": 1}}',
    "BOM first": b'\xef\xbb\xbf{"productKey": "x"}',
}


def _send(
    client: Client, op: Op, content: bytes | Iterator[bytes], content_type: str | None
) -> Any:
    headers = dict(HEADERS)
    if content_type is not None:
        headers["Content-Type"] = content_type
    return client.request(op.method, url(op), content=content, headers=headers)


@pytest.mark.parametrize("op", BODY_OPS, ids=str)
@pytest.mark.parametrize("case", list(RAW_BODIES))
def test_malformed_bodies_get_the_vendor_envelope(client: Client, op: Op, case: str) -> None:
    check_answer(op, _send(client, op, RAW_BODIES[case], "application/json"))


@pytest.mark.parametrize("op", BODY_OPS, ids=str)
@pytest.mark.parametrize(
    "content_type",
    [
        None,
        "text/plain",
        "application/xml",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/json; charset=utf-16",
        "image/png",
    ],
)
def test_wrong_content_types_get_the_vendor_envelope(
    client: Client, op: Op, content_type: str | None
) -> None:
    check_answer(op, _send(client, op, json.dumps(body_of(op)).encode(), content_type))


@pytest.mark.parametrize("op", BODY_OPS, ids=str)
def test_a_body_over_the_limit_gets_the_vendor_envelope(client: Client, op: Op) -> None:
    body = json.dumps({"productKey": "x" * OVER_LIMIT}).encode()
    check_answer(op, _send(client, op, body, "application/json"))


@pytest.mark.parametrize("op", BODY_OPS, ids=str)
def test_a_streamed_body_over_the_limit_gets_the_vendor_envelope(client: Client, op: Op) -> None:
    # No Content-Length: the limit must hold on the bytes read too.
    def chunks() -> Iterator[bytes]:
        yield b'{"productKey": "'
        for _ in range(OVER_LIMIT // 65536 + 1):
            yield b"x" * 65536
        yield b'"}'

    answer = _send(client, op, chunks(), "application/json")
    check_answer(op, answer)
    body = answer.json()
    # Refused: the vendor's parameter error, not a success and not a missing-field code.
    assert answer.status_code >= 400 or body.get("code", body.get("status")) not in (0, 200)
    assert "Please enter" not in answer.text


@pytest.mark.parametrize("op", BODY_OPS, ids=str)
@pytest.mark.parametrize("leaf", ["nulls", "huge strings", "huge numbers", "wrong types"])
def test_every_field_hostile_gets_the_vendor_envelope(client: Client, op: Op, leaf: str) -> None:
    value = {
        "nulls": None,
        "huge strings": "x" * 100_000,
        "huge numbers": 10**40,
        "wrong types": {"nested": [1, 2]},
    }[leaf]
    body = map_leaves(body_of(op), value)
    check_answer(op, _send(client, op, json.dumps(body).encode(), "application/json"))


@pytest.mark.parametrize("op", BODY_OPS, ids=str)
def test_nulls_for_the_whole_body_and_its_fields(client: Client, op: Op) -> None:
    sample_body = body_of(op)
    keys = sample_body if isinstance(sample_body, dict) else {}
    for body in (dict.fromkeys(keys), {"devices": None}, {"deviceList": [None, None]}):
        check_answer(op, _send(client, op, json.dumps(body).encode(), "application/json"))


@pytest.mark.parametrize("op", BODY_OPS, ids=str)
def test_huge_arrays_get_the_vendor_envelope(client: Client, op: Op) -> None:
    item = {"productKey": "PK0001", "deviceKey": "k", "prodId": "p", "name": "n"}
    body = {key: [item] * 5000 for key in ("devices", "deviceList")}
    check_answer(op, _send(client, op, json.dumps(body).encode(), "application/json"))


@pytest.mark.parametrize("op", BODY_OPS, ids=str)
@pytest.mark.parametrize("text", UNICODE, ids=lambda t: repr(t)[:20])
def test_unicode_in_every_string_gets_the_vendor_envelope(
    client: Client, op: Op, text: str
) -> None:
    body = json.dumps(map_leaves(body_of(op), text)).encode()
    check_answer(op, _send(client, op, body, "application/json"))


@pytest.mark.parametrize("op", VENDOR_OPS, ids=str)
@pytest.mark.parametrize(
    "value", ["", "x" * 8_000, "%00", "\u0000", "-1", "99999999999999999999999", "null"]
)
def test_hostile_query_values_get_the_vendor_envelope(client: Client, op: Op, value: str) -> None:
    params = {p["name"]: value for p in op.spec.get("parameters", []) if p["in"] == "query"}
    params.setdefault("orgId", value)
    answer = client.request(
        op.method, op.path.replace("{device_id}", "d"), params=params, headers=HEADERS
    )
    check_answer(op, answer)


@pytest.mark.parametrize(
    "update",
    [
        {"freeze": 10**20},
        {"freeze": -1},
        {"freeze": "0001-01-01T00:00:00"},
        {"advance": 1e300},
        {"freeze": True, "advance": -1e12},
    ],
)
def test_a_clock_beyond_representable_dates_is_refused(
    client: Client, update: dict[str, Any]
) -> None:
    before = client.get("/_emulator/clock").json()
    answer = client.post("/_emulator/clock", json=update)
    assert answer.status_code == 400
    assert answer.json()["error"]["status"] == 400
    assert client.get("/_emulator/clock").json()["frozen"] == before["frozen"]


CONTROL_BODY_OPS = [
    op
    for op in OPERATIONS_PUBLISHED
    if not op.vendor and op.method in ("POST", "PUT") and "{" not in op.path
]


@pytest.mark.parametrize("op", CONTROL_BODY_OPS, ids=str)
@pytest.mark.parametrize("case", list(RAW_BODIES))
def test_malformed_bodies_get_the_control_plane_error(client: Client, op: Op, case: str) -> None:
    answer = client.request(
        op.method, op.path, content=RAW_BODIES[case], headers={"Content-Type": "application/json"}
    )
    check_answer(op, answer)
    client.delete("/_emulator/clock")


def test_the_journal_lists_a_deeply_nested_body_as_text(client: Client) -> None:
    deep = RAW_BODIES["deep objects"]
    create = "/connect-service/v2.1/devices?action=create&orgId=o15475450989191"
    client.post(create, content=deep, headers={**HEADERS, "Content-Type": "application/json"})
    listed = client.get("/_emulator/requests")
    assert listed.status_code == 200
    (entry,) = listed.json()["requests"]
    assert entry["body"] == deep.decode()[: len(entry["body"])]
