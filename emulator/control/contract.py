"""What ``/openapi.json`` says of the control plane: the statuses and content types it really
answers, so contract tools and generated clients find every answer described.

FastAPI's default says ``422`` with its own validation shape; the control plane answers 400
with ``{"error": {"status", "message", "errors"}}`` (app.py), and every ``/_emulator`` path may
answer 401 (admin token), 403 (a web page: control/guard.py) and 503 (the database failed);
a body may get 413 (control/bodies.py) and 415 (control/guard.py); an operation that names
something (a path parameter, a ticket) may get 404, and the ones below 409.
"""

from __future__ import annotations

from typing import Any

from emulator.control.auth import PREFIX

ERROR_SCHEMA = "ControlError"
_ERROR_REF = {"$ref": f"#/components/schemas/{ERROR_SCHEMA}"}
_ERROR_BODY: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["status", "message"],
            "properties": {
                "status": {"type": "integer"},
                "message": {"type": "string"},
                "errors": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
                    },
                },
            },
        }
    },
}

_ALWAYS = {
    "401": "The admin token is set and the request does not carry it.",
    "403": "A web page's request: Origin not the emulator's own, or a rebound Host.",
    "503": "The database failed or did not answer in time.",
}
_WITH_INPUT = {"400": "Invalid parameters or body."}
_WITH_BODY = {
    "413": "The body is over the limit (EMULATOR_MAX_BODY_BYTES, or EMULATOR_MAX_FIXTURE_BYTES "
    "for fixture documents); the connection is closed.",
    "415": "The body is neither JSON nor YAML.",
}
_NOT_FOUND = "Nothing of that name in this namespace."
# Operations that answer 404 without a path parameter, and those that answer 409.
_ALSO_NOT_FOUND = frozenset({"control.device_online", "control.device_offline"})
_CONFLICT = {
    "control.verify_requests": "The journal does not match: the count and the nearest misses.",
    "control.import_state": "The document's rows conflict.",
    "control.merge_fixtures": "The document conflicts with the state.",
    "control.ack_command": "The command is no longer waiting for an answer.",
}
# Answers in another content type than JSON (``?format=``).
_OTHER_CONTENT = {
    "control.export_state": {"application/yaml": {"schema": {"type": "object"}}},
    "control.conformance": {"text/plain": {"schema": {"type": "string"}}},
}
# Bodies read by hand (a fixture document): JSON or YAML. No body, or ``null``, is an empty
# document (PUT /state then empties the namespace, as ``{}`` does).
_DOCUMENT = {"type": ["object", "null"]}
_DOCUMENT_BODY = {
    "required": False,
    "content": {
        "application/json": {"schema": _DOCUMENT},
        "application/yaml": {"schema": _DOCUMENT},
    },
}
_DOCUMENT_OPERATIONS = frozenset({"control.import_state", "control.merge_fixtures"})


def describe(schema: dict[str, Any]) -> dict[str, Any]:
    """Rewrite the control plane's operations of an OpenAPI document in place."""
    schema.setdefault("components", {}).setdefault("schemas", {})[ERROR_SCHEMA] = _ERROR_BODY
    for path, item in schema.get("paths", {}).items():
        if not (path == PREFIX or path.startswith(PREFIX + "/")):
            continue
        for spec in item.values():
            if isinstance(spec, dict) and "responses" in spec:
                _describe_operation(spec, has_path_params="{" in path)
    return schema


def _describe_operation(spec: dict[str, Any], *, has_path_params: bool) -> None:
    operation = str(spec.get("operationId", ""))
    responses: dict[str, Any] = spec["responses"]
    responses.pop("422", None)
    if operation in _DOCUMENT_OPERATIONS:
        spec["requestBody"] = _DOCUMENT_BODY
    errors = dict(_ALWAYS)
    if spec.get("parameters") or "requestBody" in spec:
        errors.update(_WITH_INPUT)
    if "requestBody" in spec:
        errors.update(_WITH_BODY)
    if has_path_params or operation in _ALSO_NOT_FOUND:
        errors["404"] = _NOT_FOUND
    if operation in _CONFLICT:
        errors["409"] = _CONFLICT[operation]
    for status, description in sorted(errors.items()):
        responses[status] = {
            "description": description,
            "content": {"application/json": {"schema": _ERROR_REF}},
        }
    extra = _OTHER_CONTENT.get(operation)
    if extra is not None:
        ok = responses.setdefault("200", {"description": "Successful Response"})
        ok.setdefault("content", {}).update(extra)
