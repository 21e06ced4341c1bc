"""Golden-shape comparison for doc samples: same keys, same JSON types, values ignored."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def load_sample(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def shape(value: Any) -> Any:
    """The structure of a JSON value: dict keys and list item shapes, leaves as type names."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [shape(item) for item in value[:1]]
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if value is None:
        return "null"
    return type(value).__name__


def missing_paths(expected: Any, actual: Any, path: str = "$") -> list[str]:
    """Paths of the expected shape that the actual value lacks or types differently."""
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [f"{path}: expected an object"]
        out: list[str] = []
        for key, item in expected.items():
            if key not in actual:
                out.append(f"{path}.{key}: missing")
            else:
                out += missing_paths(item, actual[key], f"{path}.{key}")
        return out
    if isinstance(expected, list):
        if not isinstance(actual, list):
            return [f"{path}: expected an array"]
        if expected and actual:
            return missing_paths(expected[0], actual[0], f"{path}[0]")
        return []
    if expected != "null" and shape(actual) != expected:
        return [f"{path}: expected {expected}, got {shape(actual)}"]
    return []
