"""Fuzzing every operation of the published schema (``/openapi.json``): vendor and control.

Requests are drawn from each operation's own schema (parameters and JSON body, through
hypothesis-jsonschema) and from arbitrary JSON, with or without credentials. Whatever comes
in, the answer is never a 5xx and always the operation's envelope, valid against the
published schema for its status (``contract.check_answer``).

Bounded for CI: ``EXAMPLES`` requests per operation, derandomized (the same requests on every
run, no example database), so a failure reproduces and the suite's time stays flat. The
fuzzing runs in its own emulator (a distinct setting), since it moves the clock and resets
state, which are shared by every namespace of one emulator.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conformance.contract import (
    AUTHORIZATIONS,
    ENOS_TOKEN,
    OPERATIONS_PUBLISHED,
    Op,
    body_schema,
    check_answer,
    inline,
)
from tests.conftest import Client, Emulators

EXAMPLES = int(os.environ.get("EMULATOR_FUZZ_EXAMPLES", "25"))
# Its own emulator: fuzzing the clock, seed and reset must not reach the other tests.
FUZZ_SETTINGS: dict[str, Any] = {"journal_size": 2000}

JSON_LEAF = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=40)
ANY_JSON = st.recursive(
    JSON_LEAF,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)
PARAM_TEXT = st.text(max_size=30)


def from_schema(schema: Any, depth: int = 0) -> st.SearchStrategy[Any]:
    """Values valid against a (references inlined) JSON schema, mostly: limits are honoured,
    formats and patterns are not (an invalid value is a fine fuzz input too)."""
    if not isinstance(schema, dict) or depth > 5:
        return ANY_JSON
    if "const" in schema:
        return st.just(schema["const"])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    for key in ("anyOf", "oneOf", "allOf"):
        if key in schema:
            return st.one_of([from_schema(s, depth + 1) for s in schema[key]])
    kind = schema.get("type")
    if isinstance(kind, list):
        return st.one_of([from_schema({**schema, "type": k}, depth + 1) for k in kind])
    if kind == "object" or "properties" in schema:
        properties = schema.get("properties", {})
        required = [k for k in schema.get("required", []) if k in properties]
        optional = [k for k in properties if k not in required]
        return st.fixed_dictionaries(
            {k: from_schema(properties[k], depth + 1) for k in required},
            optional={k: from_schema(properties[k], depth + 1) for k in optional},
        )
    if kind == "array":
        low = schema.get("minItems", 0)
        high = min(schema.get("maxItems", low + 3), low + 3)
        return st.lists(
            from_schema(schema.get("items", {}), depth + 1), min_size=low, max_size=high
        )
    if kind == "string":
        low = schema.get("minLength", 0)
        return st.text(min_size=low, max_size=max(low, min(schema.get("maxLength", 40), 80)))
    if kind == "integer":
        return st.integers(schema.get("minimum"), schema.get("maximum"))
    if kind == "number":
        return st.floats(schema.get("minimum"), schema.get("maximum"), allow_nan=False)
    if kind == "boolean":
        return st.booleans()
    if kind == "null":
        return st.none()
    return ANY_JSON


@pytest.fixture(scope="module")
def fuzz_client(emulators: Emulators) -> Iterator[Client]:
    client = emulators.client(f"fuzz-{os.getpid()}", **FUZZ_SETTINGS)
    yield client
    client.delete("/_emulator/clock")
    client.close()


def _param_value(param: dict[str, Any]) -> st.SearchStrategy[Any]:
    name = param["name"]
    if name == "wait":
        return st.just(0)  # the command long-poll waits on the wall clock
    description = param.get("description") or ""
    if name == "action" and "|" in description:
        actions = [a.strip() for a in description.split("|")]
        return st.sampled_from(actions) | PARAM_TEXT
    schema = inline(param.get("schema", {}))
    return from_schema(schema) | PARAM_TEXT if schema else PARAM_TEXT


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    return json.dumps(value)


@st.composite
def requests(draw: st.DrawFn, op: Op) -> dict[str, Any]:
    path = op.path
    query: dict[str, str] = {}
    for param in op.spec.get("parameters", []):
        value = draw(_param_value(param))
        if param["in"] == "path":
            text = _as_text(value) or "x"
            path = path.replace("{" + param["name"] + "}", quote(text, safe=""))
        elif param["in"] == "query" and (param.get("required") or draw(st.booleans())):
            query[param["name"]] = _as_text(value)
    headers = dict(ENOS_TOKEN)
    authorization = draw(st.sampled_from(AUTHORIZATIONS))
    if authorization is not None:
        headers["Authorization"] = authorization
    content: bytes | None = None
    if op.method in ("POST", "PUT", "PATCH") or "requestBody" in op.spec:
        schema = body_schema(op)
        strategy = ANY_JSON if schema is None else from_schema(schema) | ANY_JSON
        content = json.dumps(draw(strategy)).encode()
        headers["Content-Type"] = "application/json"
    return {
        "method": op.method,
        "url": path,
        "params": query,
        "headers": headers,
        "content": content,
    }


def _fuzz(op: Op) -> Any:
    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(request=requests(op))
    def run(client: Client, request: dict[str, Any]) -> None:
        check_answer(op, client.request(**request))

    return run


@pytest.mark.parametrize("op", OPERATIONS_PUBLISHED, ids=str)
def test_fuzzed_requests_never_get_a_5xx_and_stay_in_the_envelope(
    fuzz_client: Client, op: Op
) -> None:
    _fuzz(op)(fuzz_client)


def test_every_vendor_operation_is_published_and_fuzzed() -> None:
    from emulator.core.conformance import base_operation
    from emulator.core.operations import OPERATIONS

    published = {base_operation(op.operation_id) for op in OPERATIONS_PUBLISHED}
    # Dispatched actions share their route's published operation (``?action=``).
    routes = {op for op in OPERATIONS if op in published}
    assert routes >= {
        "enos.connect.create_device", "enos.dps.allocate", "quectel.devicemgr.create_batch",
        "quectel.enduser.batch_control_device", "mcs.register_device",
    }  # fmt: skip
    assert any(op.operation_id.startswith("control.") for op in OPERATIONS_PUBLISHED)
