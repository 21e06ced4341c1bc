"""The published contract and the conformance report, both generated from the code.

Nothing here is written by hand about a vendor: the error codes, their messages and HTTP
statuses come from the ``errors.py`` tables that each operation registers
(:mod:`emulator.core.operations`), the fault-only codes from the same registration, and the
fields and limits from the request schemas in ``/openapi.json`` (pydantic models). So the
report and the published schema cannot drift from what the emulator answers.

A documented code is covered in one of three ways:

* ``real input``: a request can produce it (tests exercise each one);
* ``fault only``: no real input reaches it (the platform failing inside, or an emulator bug
  answered in the vendor's envelope); ``POST /_emulator/faults`` injects it;
* ``not emulated``: a row of an error table that no operation answers.

A device-protocol operation (an MQTT message) has no route: its packet and topic stand for
the method and path, and it is listed under the vendor document that describes it
(``Operation.message``), after the API documents.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from fastapi import FastAPI, Request
from fastapi.routing import APIRoute
from pydantic import BaseModel
from starlette.routing import BaseRoute

from emulator.core.errors import ErrorCode, VendorError
from emulator.core.operations import OPERATIONS, Operation
from emulator.core.vendor import vendors

REAL_INPUT = "real input"
FAULT_ONLY = "fault only"
NOT_EMULATED = "not emulated"


def doc_operations() -> dict[str, str]:
    """The vendor documents and the operation each one describes (``Vendor.docs``), by file
    name. Every other operation of the same API (``<vendor>.<api>``) is one of that doc's
    companions; APIs of no doc (token services) come from REAL-CLIENTS.md."""
    listed = {doc: op for vendor in vendors() for doc, op in vendor.docs.items()}
    return dict(sorted(listed.items()))


COMPANION_DOC = "REAL-CLIENTS.md"

# Schema keywords that are limits a client can hit.
_LIMITS = (
    "minLength", "maxLength", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum",
    "minItems", "maxItems", "pattern", "enum", "const", "format",
)  # fmt: skip
# The GET twin of a GET-and-POST route publishes ``<operation id>.get``.
GET_TWIN = ".get"


def api_of(operation_id: str) -> str:
    """``enos.connect.create_device`` -> ``enos.connect``; ``mcs.register_device`` -> ``mcs``."""
    return operation_id.rsplit(".", 1)[0]


def base_operation(operation_id: str) -> str:
    if operation_id.endswith(GET_TWIN) and operation_id not in OPERATIONS:
        return operation_id[: -len(GET_TWIN)]
    return operation_id


def doc_of(operation_id: str) -> str:
    api = api_of(operation_id)
    for doc, main in doc_operations().items():
        if api_of(main) == api:
            return doc
    return COMPANION_DOC


# --- request bodies read by hand -----------------------------------------------------------


def request_body(*models: type[BaseModel]) -> dict[str, Any]:
    """``openapi_extra`` for a body a route reads by hand (``parse_body``, so bad JSON gets a
    vendor code): the model's schema, or ``oneOf`` the models when several shapes are taken."""
    schemas = [model.model_json_schema(by_alias=True) for model in models]
    schema = schemas[0] if len(schemas) == 1 else {"oneOf": schemas}
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


# --- the published contract ----------------------------------------------------------------


def api_routes(routes: Iterable[BaseRoute]) -> Iterator[APIRoute]:
    """The app's API routes, through included routers (FastAPI may keep those nested)."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        inner = getattr(route, "original_router", None)
        if inner is not None:
            yield from api_routes(inner.routes)


def _vendor_routes(app: FastAPI) -> Iterator[tuple[APIRoute, str]]:
    """Every published vendor route with the operation id its errors belong to."""
    for route in api_routes(app.routes):
        if not route.include_in_schema:
            continue
        published = route.operation_id or ""
        op_id = base_operation(published)
        if op_id not in OPERATIONS:
            op_id = route.name
        if op_id in OPERATIONS:
            yield route, op_id


def _internal_code(route: APIRoute) -> int | None:
    internal: ErrorCode | None = getattr(type(route), "internal_error", None)
    return internal.code if internal is not None else None


_PLACEHOLDER_ID = "00000000-0000-0000-0000-000000000000"


class _StubIds:
    def uuid(self) -> str:
        return _PLACEHOLDER_ID


class _StubEmulator:
    def ids(self, namespace: str) -> _StubIds:
        return _StubIds()


class _StubApp:
    """Enough of an app for a renderer: request ids come out as a placeholder, so rendering
    an example draws no id from any namespace."""

    def __init__(self) -> None:
        self.emulator = _StubEmulator()


def example(route: APIRoute, code: ErrorCode) -> Any:
    """The answer the route's own renderer gives for ``code``: the vendor's envelope."""
    render = getattr(type(route), "render", None)
    if render is None:
        return {"code": code.code, "message": code.message}
    scope = {
        "type": "http", "method": "POST", "path": route.path_format, "raw_path": b"",
        "query_string": b"", "headers": [], "app": _StubApp(), "state": {},
    }  # fmt: skip
    response = render(Request(scope), VendorError(code))
    return json.loads(bytes(response.body))


def shape_schema(value: Any) -> dict[str, Any]:
    """A JSON schema of a rendered envelope: its keys required, their JSON types."""
    if isinstance(value, dict):
        return {
            "type": "object",
            "required": sorted(value),
            "properties": {k: shape_schema(v) for k, v in value.items()},
        }
    if isinstance(value, bool):
        return {"type": "boolean"}
    if isinstance(value, int):
        return {"type": "integer"}
    if isinstance(value, float):
        return {"type": "number"}
    if isinstance(value, str):
        return {"type": "string"}
    if isinstance(value, list):
        return {"type": "array"}
    return {}


def coverage_of(operation: Operation, code: int, internal: int | None) -> str:
    if code in operation.fault_only or code == internal:
        return FAULT_ONLY
    return REAL_INPUT


def _members(operation: Operation) -> dict[int, ErrorCode]:
    """One member per code (a code may sit in two tables, e.g. MCS 1002 at 401 and 403)."""
    members: dict[int, ErrorCode] = {}
    for table in operation.errors:
        for member in table:
            members.setdefault(member.code, member)
    return members


def _statuses(operation: Operation) -> dict[int, list[ErrorCode]]:
    by_status: dict[int, list[ErrorCode]] = {}
    for table in operation.errors:
        for member in table:
            by_status.setdefault(member.http_status, []).append(member)
    return by_status


def decorate(schema: dict[str, Any], app: FastAPI) -> dict[str, Any]:
    """Publish each vendor operation's documented codes: an ``x-error-codes`` table, and one
    response per HTTP status the codes travel on, with the vendor's envelope as examples.
    FastAPI's 422 goes: a vendor route never answers it (its validation errors are codes)."""
    internal = {route.unique_id: _internal_code(route) for route, _ in _vendor_routes(app)}
    for route, op_id in _vendor_routes(app):
        operation = OPERATIONS[op_id]
        path_item = schema.get("paths", {}).get(route.path_format, {})
        for method in route.methods or ():
            spec = path_item.get(method.lower())
            if spec is None:
                continue
            spec.setdefault("tags", [operation.vendor])
            spec.setdefault("x-operation", op_id)
            responses = spec.setdefault("responses", {})
            responses.pop("422", None)
            spec["x-error-codes"] = [
                {
                    "code": member.code, "name": member.name, "message": member.message,
                    "httpStatus": member.http_status,
                    "coverage": coverage_of(operation, member.code, internal[route.unique_id]),
                }
                for member in sorted(_members(operation).values(), key=lambda m: m.code)
            ]  # fmt: skip
            for status, members in sorted(_statuses(operation).items()):
                listed = ", ".join(f"{m.code} {m.message}" for m in members)
                answer = responses.setdefault(str(status), {"description": ""})
                answer["description"] = (
                    (answer.get("description") or "").rstrip()
                    + ("\n\n" if answer.get("description") else "")
                    + f"Documented codes on HTTP {status}: {listed}."
                )
                content = answer.setdefault("content", {}).setdefault("application/json", {})
                examples = content.setdefault("examples", {})
                for member in members:
                    examples[f"{member.code} {member.name}"] = {
                        "summary": member.message,
                        "value": example(route, member),
                    }
                # The error envelope travels on this status too (HTTP 200: beside success).
                error_schema = shape_schema(example(route, members[0]))
                if "schema" in content:
                    content["schema"] = {"anyOf": [content["schema"], error_schema]}
                else:
                    content["schema"] = error_schema
    return schema


def hoist_local_definitions(schema: dict[str, Any]) -> dict[str, Any]:
    """Move the ``$defs`` of inline request schemas (pydantic's ``model_json_schema()``) into
    ``components/schemas``, and point their ``#/$defs/X`` at ``#/components/schemas/X``.

    In an OpenAPI document a ``$ref`` starts from the document's root, where no ``$defs`` is:
    tools that follow them to the letter (ReDoc) cannot render such an operation. A name
    already taken by another schema gets a numbered twin."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})

    def visit(node: Any) -> None:
        if isinstance(node, list):
            for item in node:
                visit(item)
            return
        if not isinstance(node, dict):
            return
        renamed: dict[str, str] = {}
        for name, definition in node.pop("$defs", {}).items():
            target, n = name, 1
            while target in components and components[target] != definition:
                n += 1
                target = f"{name}{n}"
            components[target] = definition
            renamed[name] = target
        if renamed:
            _rewrite_refs(node, renamed)
            for target in renamed.values():
                _rewrite_refs(components[target], renamed)
                visit(components[target])
        for value in node.values():
            visit(value)

    visit(schema.get("paths", {}))
    return schema


def _rewrite_refs(node: Any, renamed: dict[str, str]) -> None:
    if isinstance(node, list):
        for item in node:
            _rewrite_refs(item, renamed)
    elif isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/") and ref[8:] in renamed:
            node["$ref"] = f"#/components/schemas/{renamed[ref[8:]]}"
        for value in node.values():
            _rewrite_refs(value, renamed)


Decorator = Callable[[dict[str, Any]], dict[str, Any]]


def install_openapi(app: FastAPI, *also: Decorator) -> None:
    """Serve ``/openapi.json`` with the documented codes of every vendor operation, its
    definitions all in ``components``, and what ``also`` adds (the control plane's answers)."""
    build: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = hoist_local_definitions(decorate(build(), app))
            for step in also:
                schema = step(schema)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


# --- the conformance report ----------------------------------------------------------------


def _resolve(node: Any, root: dict[str, Any], local: dict[str, Any]) -> Any:
    """Follow ``$ref`` within an inline schema's ``$defs`` or the document's components."""
    seen = 0
    while isinstance(node, dict) and "$ref" in node and seen < 32:
        ref: str = node["$ref"]
        target: Any = local if ref.startswith("#/$defs/") and "$defs" in local else root
        for part in ref.lstrip("#/").split("/"):
            target = target.get(part, {}) if isinstance(target, dict) else {}
        node = target
        seen += 1
    return node


def _limits(node: dict[str, Any]) -> dict[str, Any]:
    return {key: node[key] for key in _LIMITS if key in node}


def _type_of(node: dict[str, Any], root: dict[str, Any], local: dict[str, Any]) -> str:
    if "type" in node:
        return str(node["type"])
    options = [_resolve(o, root, local) for o in node.get("anyOf", node.get("oneOf", []))]
    names = [str(o.get("type", "object")) for o in options if isinstance(o, dict)]
    return " | ".join(names) if names else "any"


def _fields(
    node: Any, root: dict[str, Any], local: dict[str, Any], prefix: str, depth: int = 0
) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict) and "$defs" in node:
        local = node  # each model's schema carries its own definitions
    node = _resolve(node, root, local)
    if not isinstance(node, dict) or depth > 6:
        return
    for option in node.get("oneOf", []):
        yield from _fields(option, root, local, prefix, depth + 1)
    required = set(node.get("required", ()))
    for name, prop in node.get("properties", {}).items():
        prop = _resolve(prop, root, local)
        if not isinstance(prop, dict):
            continue
        for option in prop.get("anyOf", []):  # ``X | None``: the limits sit on X
            option = _resolve(option, root, local)
            if isinstance(option, dict) and option.get("type") != "null":
                prop = {**option, **{k: v for k, v in prop.items() if k != "anyOf"}}
                break
        wire = f"{prefix}{name}"
        yield {
            "name": wire, "in": "body", "type": _type_of(prop, root, local),
            "required": name in required, "limits": _limits(prop),
        }  # fmt: skip
        if prop.get("type") == "array":
            yield from _fields(prop.get("items", {}), root, local, f"{wire}[].", depth + 1)
        elif "properties" in prop or "$ref" in prop:
            yield from _fields(prop, root, local, f"{wire}.", depth + 1)


def _operation_fields(spec: dict[str, Any], root: dict[str, Any]) -> list[dict[str, Any]]:
    fields: list[dict[str, Any]] = []
    for param in spec.get("parameters", []):
        param = _resolve(param, root, {})
        schema = _resolve(param.get("schema", {}), root, {})
        fields.append(
            {
                "name": param.get("name"),
                "in": param.get("in"),
                "type": _type_of(schema, root, {}),
                "required": bool(param.get("required")),
                "limits": _limits(schema),
            }  # fmt: skip
        )
    body = spec.get("requestBody", {}).get("content", {}).get("application/json", {})
    if "schema" in body:
        local = body["schema"] if isinstance(body["schema"], dict) else {}
        fields.extend(_fields(body["schema"], root, local, ""))
    return fields


def _all_tables() -> list[type[ErrorCode]]:
    found: list[type[ErrorCode]] = []
    stack = list(ErrorCode.__subclasses__())
    while stack:
        table = stack.pop()
        found.append(table)
        stack.extend(table.__subclasses__())
    return sorted(found, key=lambda t: (t.__module__, t.__qualname__))


def report(app: FastAPI) -> dict[str, Any]:
    """Every documented operation, its fields and limits, and each code with its coverage."""
    schema = app.openapi()
    routes: dict[str, tuple[APIRoute, str]] = {}
    for route, op_id in _vendor_routes(app):
        method = "POST" if "POST" in (route.methods or ()) else sorted(route.methods or ["GET"])[0]
        # One entry per operation: the first published route (the POST of a GET twin).
        if op_id not in routes or (route.operation_id or "") == op_id:
            routes[op_id] = (route, method)
    dispatched = _dispatched(routes)
    docs: dict[str, dict[str, Any]] = {}
    used: set[tuple[str, int]] = set()
    totals = {REAL_INPUT: 0, FAULT_ONLY: 0, NOT_EMULATED: 0}
    for op_id, operation in sorted(OPERATIONS.items()):
        route_method = routes.get(op_id)
        internal = _internal_code(route_method[0]) if route_method else None
        entry: dict[str, Any] = {"id": op_id, "vendor": operation.vendor}
        action = None
        if route_method is None and op_id in dispatched:
            route_method, action = dispatched[op_id]
            internal = _internal_code(route_method[0])
        if route_method is not None:
            route, method = route_method
            spec = schema.get("paths", {}).get(route.path_format, {}).get(method.lower(), {})
            path = route.path_format + (f"?action={action}" if action else "")
            summary = None if action else spec.get("summary")
            entry.update(method=method, path=path, summary=summary)
            # A dispatched action's body is read by hand and not published: its query only.
            fields = _operation_fields(spec, schema)
            entry["fields"] = [f for f in fields if f["in"] != "body"] if action else fields
        elif operation.message is not None:
            entry.update(method=operation.message.method, path=operation.message.path,
                         summary=None, fields=[])  # fmt: skip
        else:
            entry.update(method=None, path=None, summary=None, fields=[])
        codes = []
        for table in operation.errors:
            for member in table:
                used.add((_table_name(table), member.code))
        # A device message's code travels in a packet, not under an HTTP status: ``answer``
        # names it and ``httpStatus`` is null (the tables' default status means nothing there).
        answer = operation.message.answer if operation.message is not None else None
        for member in sorted(_members(operation).values(), key=lambda m: m.code):
            coverage = coverage_of(operation, member.code, internal)
            totals[coverage] += 1
            codes.append(
                {
                    "code": member.code,
                    "name": member.name,
                    "message": member.message,
                    "httpStatus": None if answer else member.http_status,
                    "table": _table_name(type(member)),
                    "coverage": coverage,
                    **({"answer": answer} if answer else {}),
                }  # fmt: skip
            )
        entry["codes"] = codes
        doc = operation.message.doc if operation.message is not None else doc_of(op_id)
        docs.setdefault(doc, {"doc": doc, "operations": []})["operations"].append(entry)
    not_emulated = []
    for table in _all_tables():
        for member in table:
            if (_table_name(table), member.code) not in used:
                totals[NOT_EMULATED] += 1
                not_emulated.append(
                    {
                        "code": member.code,
                        "name": member.name,
                        "message": member.message,
                        "httpStatus": member.http_status,
                        "table": _table_name(table),
                        "coverage": NOT_EMULATED,
                    }  # fmt: skip
                )
    # The API documents first, then the device-protocol ones, then the companions' page.
    device_docs = sorted(set(docs) - {*doc_operations(), COMPANION_DOC})
    order = [*doc_operations(), *device_docs, COMPANION_DOC]
    return {
        "summary": {
            "docs": len(docs),
            "operations": len(OPERATIONS),
            "codes": totals[REAL_INPUT] + totals[FAULT_ONLY],
            "realInput": totals[REAL_INPUT],
            "faultOnly": totals[FAULT_ONLY],
            "notEmulated": totals[NOT_EMULATED],
        },
        "docs": sorted(docs.values(), key=lambda d: order.index(d["doc"])),
        "notEmulated": not_emulated,
    }


def _dispatched(
    routes: dict[str, tuple[APIRoute, str]],
) -> dict[str, tuple[tuple[APIRoute, str], str]]:
    """Operations served by another operation's route through ``?action=``: the route
    module's ``OPERATIONS`` (action -> operation id) says which."""
    found: dict[str, tuple[tuple[APIRoute, str], str]] = {}
    for route, method in routes.values():
        module = sys.modules.get(route.endpoint.__module__)
        table = getattr(module, "OPERATIONS", None)
        if not isinstance(table, dict):
            continue
        for action, op_id in table.items():
            if isinstance(action, str) and isinstance(op_id, str) and op_id not in routes:
                found.setdefault(op_id, ((route, method), action))
    return found


def _table_name(table: type[ErrorCode]) -> str:
    module = re.sub(r"^emulator\.vendors\.", "", table.__module__)
    return f"{module}.{table.__qualname__}"


def render_table(data: dict[str, Any]) -> str:
    """The report as plain text: one block per doc, one line per operation and per code."""
    lines: list[str] = []
    summary = data["summary"]
    lines.append(
        f"{summary['operations']} operations in {summary['docs']} docs: {summary['codes']} "
        f"documented codes ({summary['realInput']} real input, {summary['faultOnly']} fault "
        f"only), {summary['notEmulated']} not emulated"
    )
    for doc in data["docs"]:
        lines.append("")
        lines.append(f"== {doc['doc']}")
        for op in doc["operations"]:
            where = f"{op['method']} {op['path']}" if op["path"] else "(no route)"
            lines.append(f"  {op['id']}  {where}")
            for field in op["fields"]:
                limits = ", ".join(f"{k}={v}" for k, v in field["limits"].items())
                need = "required" if field["required"] else "optional"
                text = f"    field {field['in']:<6} {field['name']:<34} {field['type']:<16} {need}"
                lines.append(f"{text}  {limits}".rstrip())
            for code in op["codes"]:
                carrier = code.get("answer") or f"HTTP {code['httpStatus']}"
                lines.append(
                    f"    code  {code['code']:>6}  {carrier}  "
                    f"{code['coverage']:<12}  {code['message']}"
                )
    if data["notEmulated"]:
        lines.append("")
        lines.append("== not emulated")
        for code in data["notEmulated"]:
            lines.append(f"    code  {code['code']:>6}  {code['table']}  {code['message']}")
    return "\n".join(lines) + "\n"
