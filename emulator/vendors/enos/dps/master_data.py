"""EnOS DPS master data: the type each ``deviceData`` key must have (enos-dps-allocate.md)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from emulator.core.errors import VendorError
from emulator.vendors.enos.dps.errors import DpsError


def invalid(field: str, detail: str) -> VendorError:
    return VendorError(DpsError.INVALID_ARGUMENT, f"Invalid Argument {field}:{detail}")


def _is_date(value: str) -> bool:
    for parse in (date.fromisoformat, datetime.fromisoformat):
        try:
            parse(value)
        except ValueError:
            continue
        return True
    return False


def check_device_data(data: dict[str, Any], definitions: dict[str, Any]) -> dict[str, Any]:
    """``deviceData`` checked against the master-data definitions; 99400 names the key."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        definition = definitions.get(key)
        if definition is None or value is None:
            out[key] = value
            continue
        kind = definition.data_type
        field = f"deviceData.{key}"
        if kind == "Integer":
            # The doc's own sample sends 1.0 for an Integer: a whole float is an Integer.
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            if isinstance(value, bool) or not isinstance(value, int):
                raise invalid(field, f"{key} must be of type Integer")
        elif kind == "String":
            if not isinstance(value, str):
                raise invalid(field, f"{key} must be of type String")
        elif kind == "Enum":
            allowed = list((definition.attrs or {}).get("values") or [])
            if not isinstance(value, str) or (allowed and value not in allowed):
                raise invalid(field, f"{value!r} is not a value of {key} ({', '.join(allowed)})")
        elif kind == "Date":
            if not isinstance(value, str) or not _is_date(value):
                raise invalid(field, f"{key} must be of type Date (ISO-8601)")
        out[key] = value
    return out
