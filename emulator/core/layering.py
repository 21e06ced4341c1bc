"""Fixture documents layered: several files (or a file over a namespace's state) merged by
entry identity.

A later document's entry with the identity of an earlier one (each vendor section says its
identities: ``FixtureSection.identities``) updates only the fields it sets; other entries are
added. Within one document an identity appears once. Errors are located in the file that holds
the entry, so a reference checked on the merged files still names the file to edit.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, get_args, get_origin

import yaml
from pydantic import BaseModel

from emulator.core.fixtures import (
    FixtureDocument,
    FixtureError,
    _location,
    document_model,
    parse_document,
)
from emulator.core.vendor import vendors

Identities = tuple[tuple[str, ...], ...]


# --- identities ---------------------------------------------------------------------------


def section_identities() -> dict[str, Identities]:
    """Each top-level key of a document and the identities of its entries: a vendor section
    its own; ``tables`` (rows of any vendor) all of them; ``overrides`` none."""
    by_section = {v.name: v.fixtures.identities for v in vendors() if v.fixtures is not None}
    by_section["tables"] = tuple(dict.fromkeys(i for ids in by_section.values() for i in ids))
    by_section["overrides"] = ()
    return by_section


def entry_identity(item: Any, identities: Identities) -> tuple[Any, ...] | None:
    if not isinstance(item, dict):
        return None
    for fields in identities:
        if all(f in item for f in fields):
            values = tuple(item[f] for f in fields)
            # A value that is an object or a list names no entry (nor a hashable one).
            if not all(isinstance(v, str | int | float | bool | None) for v in values):
                return None
            return (fields, *values)
    return None


# --- merging ------------------------------------------------------------------------------


def merge_into(base: Any, extra: Any, identities: Identities = ()) -> Any:
    """``extra`` merged into ``base`` (JSON values): objects key by key, lists entry by entry
    (an entry with the identity of an existing one updates it; others are appended), and
    anything else replaced."""
    if isinstance(base, dict) and isinstance(extra, dict):
        out = dict(base)
        for key, value in extra.items():
            out[key] = merge_into(base[key], value, identities) if key in base else value
        return out
    if isinstance(base, list) and isinstance(extra, list):
        merged = list(base)
        where = {}
        for i, item in enumerate(merged):
            ident = entry_identity(item, identities)
            if ident is not None:
                where[ident] = i
        for item in extra:
            ident = entry_identity(item, identities)
            if ident is not None and ident in where:
                merged[where[ident]] = merge_into(merged[where[ident]], item, identities)
            else:
                merged.append(item)
        return merged
    return extra


def merge_documents(base: Any, extra: Any) -> Any:
    """Two documents (JSON, by alias) merged section by section, each by its identities."""
    if not isinstance(base, dict) or not isinstance(extra, dict):
        return extra
    ids = section_identities()
    out = dict(base)
    for key, value in extra.items():
        out[key] = merge_into(base[key], value, ids.get(key, ())) if key in base else value
    return out


def complete(base: Any, extra: Any, identities: Identities = ()) -> Any:
    """The entries of ``extra`` as a merge into ``base`` leaves them: each one completed by
    the plain fields its namesake in ``base`` has and it leaves out. Lists keep only
    ``extra``'s entries, in its order, so a validation error locates the entry in ``extra``."""
    if isinstance(base, list) and isinstance(extra, list):
        same = {entry_identity(item, identities): item for item in base}
        same.pop(None, None)
        return [complete(same.get(entry_identity(item, identities)), item, identities)
                for item in extra]  # fmt: skip
    if not isinstance(base, dict) or not isinstance(extra, dict):
        return extra
    out = {k: v for k, v in base.items() if k not in extra and not isinstance(v, list | dict)}
    for key, value in extra.items():
        out[key] = complete(base.get(key), value, identities)
    return out


def complete_document(base: Any, extra: Any) -> Any:
    """:func:`complete` section by section."""
    if not isinstance(base, dict) or not isinstance(extra, dict):
        return extra
    ids = section_identities()
    return {key: complete(base.get(key), value, ids.get(key, ())) for key, value in extra.items()}


# --- one document's entries ---------------------------------------------------------------


def by_alias(model: type[BaseModel], data: Any) -> Any:
    """``data`` with the field names of ``model`` (and of the models nested in it) written as
    their aliases (``product_key`` -> ``productKey``), so that documents merge key by key.
    ``None`` is the empty document."""
    if data is None and issubclass(model, FixtureDocument):
        return {}
    if not isinstance(data, dict):
        return data
    aliases = {name: info.alias or name for name, info in model.model_fields.items()}
    fields = {alias: model.model_fields[name] for name, alias in aliases.items()}
    out: dict[Any, Any] = {}
    for key, value in data.items():
        name = aliases.get(key, key)
        nested, many = _nested_model(fields[name]) if name in fields else (None, False)
        if nested is not None and many and isinstance(value, list):
            value = [by_alias(nested, item) for item in value]
        elif nested is not None and not many:
            value = by_alias(nested, value)
        out[name] = value
    return out


def check_unique_entries(data: Any, source: str) -> None:
    """Raises :class:`FixtureError` when a list of entries of ``data`` (a document written by
    alias) names the same entry twice: the second would clash with the first in the database."""
    ids = section_identities()
    if not isinstance(data, dict):
        return
    model = document_model()
    for name, info in model.model_fields.items():
        key = info.alias or name
        nested, _ = _nested_model(info)
        if nested is not None and key in ids:
            _check_unique(data.get(key), source, nested, key, ids[key])


def _check_unique(data: Any, source: str, model: type[BaseModel], where: str,
                  identities: Identities) -> None:  # fmt: skip
    if not isinstance(data, dict):
        return
    for name, info in model.model_fields.items():
        key = info.alias or name
        value = data.get(key)
        here = f"{where}.{key}"
        nested, many = _nested_model(info)
        if nested is None:
            continue
        if not many:
            _check_unique(value, source, nested, here, identities)
            continue
        if not isinstance(value, list):
            continue
        first: dict[tuple[Any, ...], int] = {}
        for i, item in enumerate(value):
            ident = entry_identity(item, identities)
            if ident is not None and ident in first:
                names, *values = ident
                said = ", ".join(f"{n} {v!r}" for n, v in zip(names, values, strict=True))
                raise FixtureError.at(
                    source, f"{here}[{i}]", f"{said} is defined twice (also {here}[{first[ident]}])"
                )
            if ident is not None:
                first[ident] = i
            _check_unique(item, source, nested, f"{here}[{i}]", identities)


def _nested_model(info: Any) -> tuple[type[BaseModel] | None, bool]:
    """The model of a field that holds one entry or a list of entries, and whether a list."""
    annotation = info.annotation
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation, False
    if get_origin(annotation) is list:
        (item,) = get_args(annotation)
        if isinstance(item, type) and issubclass(item, BaseModel):
            return item, True
    return None, False


# --- several files ------------------------------------------------------------------------

# libyaml's parser where PyYAML was built with it (its wheels are): the same documents, about
# a tenth of the pure-Python parser's time (the default fixtures: 18 -> 1.4 ms, at every start).
_YAML_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def parse_yaml(text: str) -> Any:
    """``yaml.safe_load``, on libyaml's parser when there is one."""
    return yaml.load(text, Loader=_YAML_LOADER)  # a safe loader, either way


def read_fixture_data(path: Path) -> Any:
    """The YAML (or JSON) of a fixture file, not validated yet."""
    try:
        text = path.read_text(encoding="utf-8")
    except IsADirectoryError:
        raise FixtureError(f"{path}: cannot read fixture file: it is a directory") from None
    except OSError as exc:
        raise FixtureError(f"{path}: cannot read fixture file: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise FixtureError(f"{path}: cannot read fixture file: not UTF-8 text") from None
    try:
        return parse_yaml(text)
    except yaml.YAMLError as exc:
        raise FixtureError(f"{path}: not valid YAML: {exc}") from None


def read_fixture_file(path: Path) -> FixtureDocument:
    return load_fixture_files([path])


def load_fixture_files(paths: Sequence[Path]) -> FixtureDocument:
    """Fixture files merged in order, then references checked on the result.

    A later file's entry with the identity of an earlier one (each section's
    ``FixtureSection.identities``: a device by ``productKey`` and ``deviceKey``, ...) updates
    only the fields it sets, so a file can add devices to the products of the files before
    it. Errors name the file that holds the entry.
    """
    files: list[tuple[str, Any]] = []
    merged: Any = {}
    for path in paths:
        source = str(path)
        data = by_alias(document_model(), read_fixture_data(path))
        check_unique_entries(data, source)
        # This file's entries as the merge leaves them, validated here so errors name it.
        parse_document(complete_document(merged, data), source, check=False)
        merged = merge_documents(merged, data)
        files.append((source, data))
    try:
        return parse_document(merged, ", ".join(source for source, _ in files) or "fixtures")
    except FixtureError as exc:
        raise _in_its_file(exc, files, merged) from None


def _in_its_file(exc: FixtureError, files: list[tuple[str, Any]], merged: Any) -> FixtureError:
    """``exc``, about an entry of the merged files, located in the file that holds the entry:
    the last that sets the field in question, else the first that lists the entry."""
    if exc.where is None:
        return exc
    parts: list[str | int] = [
        int(index) if index else key
        for index, key in re.findall(r"\[(\d+)\]|([^.\[\]]+)", exc.where)
    ]
    identities = section_identities().get(str(parts[0]), ()) if parts else ()
    setting: tuple[str, str] | None = None
    listing: tuple[str, str] | None = None
    for source, data in files:
        found = _follow(merged, data, parts, identities)
        if found is None:
            continue
        local, sets_field = found
        if sets_field:
            setting = (source, _location(local))
        elif listing is None:
            listing = (source, _location(local))
    place = setting or listing
    if place is None:
        return exc
    return FixtureError.at(place[0], place[1], exc.reason)


def _follow(merged: Any, data: Any, parts: list[str | int],
            identities: Identities) -> tuple[list[str | int], bool] | None:  # fmt: skip
    """The location in one file's ``data`` of the entry at ``parts`` of ``merged`` (entries
    matched by identity), and whether the file sets the field ``parts`` ends with; ``None``
    when the file does not list the entry."""
    last_entry = max((i for i, part in enumerate(parts) if isinstance(part, int)), default=-1)
    local: list[str | int] = []
    for i, part in enumerate(parts):
        if isinstance(part, int):
            if not (isinstance(merged, list) and isinstance(data, list) and part < len(merged)):
                return None
            ident = entry_identity(merged[part], identities)
            at = next(
                (j for j, item in enumerate(data) if entry_identity(item, identities) == ident),
                None,
            )
            if ident is None or at is None:
                return None
            merged, data = merged[part], data[at]
            local.append(at)
        elif isinstance(data, dict) and part in data:
            merged = merged.get(part) if isinstance(merged, dict) else None
            data = data[part]
            local.append(part)
        else:
            return (local + parts[i:], False) if i > last_entry else None
    return local, True
