"""The published contract as the fuzz tests read it: every operation of ``/openapi.json``,
its request schema with references inlined, and the check every answer must pass."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import jsonschema

from emulator.app import create_app
from emulator.config import Settings
from emulator.core.journal import vendor_code

# Well-formed credentials for lenient auth: an EnOS access token, and one Authorization value
# every bearer-taking vendor accepts (Quectel takes a JWT with or without "Bearer ", MCS any
# bearer token).
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJmdXp6In0.c2lnbmF0dXJl"
AUTHORIZATIONS = (f"Bearer {JWT}", JWT, "Basic YXBwS2V5OmFwcFNlY3JldA==", None)
VENDORS = frozenset({"enos", "quectel", "mcs"})
ENOS_TOKEN = {"apim-accesstoken": "any-well-formed-token"}


class Answer(Protocol):
    """An HTTP answer of either test client (Starlette's in process, httpx against a server)."""

    @property
    def status_code(self) -> int: ...
    @property
    def headers(self) -> Mapping[str, str]: ...
    @property
    def text(self) -> str: ...
    def json(self) -> Any: ...


@dataclass(frozen=True)
class Op:
    method: str
    path: str
    operation_id: str
    spec: dict[str, Any]

    @property
    def vendor(self) -> bool:
        """A vendor operation: tagged with its vendor (``enos``, ``quectel end-user``...)."""
        return any(tag.split()[0] in VENDORS for tag in self.spec.get("tags", []))

    def __str__(self) -> str:
        return self.operation_id


def published() -> dict[str, Any]:
    app = create_app(Settings(db=":memory:"))
    try:
        schema: dict[str, Any] = app.openapi()
    finally:
        app.state.emulator.engine.dispose()
    return schema


SCHEMA = published()
OPERATIONS_PUBLISHED = [
    Op(method.upper(), path, spec["operationId"], spec)
    for path, item in SCHEMA["paths"].items()
    for method, spec in item.items()
]


def inline(node: Any, local: dict[str, Any] | None = None, depth: int = 0) -> Any:
    """The schema with every ``$ref`` replaced by its target (recursion cut at a depth)."""
    if isinstance(node, dict):
        if "$defs" in node:
            local = node
        if "$ref" in node:
            if depth > 8:
                return {}
            ref: str = node["$ref"]
            target: Any = local if ref.startswith("#/$defs/") and local else SCHEMA
            for part in ref.lstrip("#/").split("/"):
                target = target[part]
            return inline(target, local, depth + 1)
        return {k: inline(v, local, depth) for k, v in node.items() if k != "$defs"}
    if isinstance(node, list):
        return [inline(v, local, depth) for v in node]
    return node


def body_schema(op: Op) -> dict[str, Any] | None:
    content = op.spec.get("requestBody", {}).get("content", {})
    media = content.get("application/json")
    if media is None or "schema" not in media:
        return None
    schema: dict[str, Any] = inline(media["schema"])
    return schema


def _is_json(answer: Answer) -> bool:
    return answer.headers.get("content-type", "").startswith("application/json")


def check_answer(op: Op, answer: Answer) -> None:
    """No 5xx, and the answer in the operation's own envelope.

    No fault is armed while fuzzing, so even MCS's documented 500 (fault only) must not
    appear: a 5xx here is an emulator bug.
    """
    assert answer.status_code < 500, f"{op}: {answer.status_code} {answer.text[:500]}"
    if op.operation_id in ("control.metrics", "control.export_state", "control.conformance"):
        return  # text formats (Prometheus, YAML, the text report) on request
    assert _is_json(answer), f"{op}: {answer.headers.get('content-type')} {answer.text[:200]}"
    body = answer.json()
    if not op.vendor:
        if answer.status_code >= 400:
            assert set(body) == {"error"}, f"{op}: {body}"
            assert body["error"]["status"] == answer.status_code
        return
    assert isinstance(body, dict), f"{op}: {body!r}"
    # No fault is armed: a code only a fault (or an emulator bug) produces must not appear.
    codes = op.spec.get("x-error-codes", [])
    fault_only = {c["code"] for c in codes if c["coverage"] == "fault only"}
    code = vendor_code(body)
    assert code not in fault_only, f"{op}: fault-only code {code}: {json.dumps(body)[:300]}"
    published_answer = op.spec.get("responses", {}).get(str(answer.status_code))
    assert published_answer is not None, f"{op}: unpublished status {answer.status_code}: {body}"
    schema = published_answer.get("content", {}).get("application/json", {}).get("schema")
    assert schema is not None, f"{op}: status {answer.status_code} without a schema"
    schema = inline(schema)
    # HTTP 200 carries the success model or the error envelope. One dispatching route
    # publishes one success model for several actions, so a success is checked on its
    # envelope only: its error shape without the code's value.
    options = schema.get("anyOf", [schema])
    errors = []
    for option in options:
        try:
            jsonschema.validate(body, option)
            return
        except jsonschema.ValidationError as exc:
            errors.append(exc.message)
    envelope = options[-1]
    relaxed = {**envelope, "required": [k for k in envelope.get("required", []) if k != "data"]}
    if _success(body):
        jsonschema.validate(body, relaxed)
        return
    raise AssertionError(f"{op}: {answer.status_code} {json.dumps(body)[:500]}: {errors}")


def _success(body: dict[str, Any]) -> bool:
    code = body.get("code", body.get("status"))
    return bool(code in (0, 200))
