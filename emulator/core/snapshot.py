"""State export and merge: a namespace's rows back into a fixture document.

``export_document`` is the reverse of ``fixtures.build_baseline``: building the export writes
the same rows back (tokens aside), so export, reset and import round-trip exactly. Each
vendor's section exporter (``FixtureSection.export``) says which rows its entries describe;
the columns those entries do not carry become ``overrides``, and rows no section describes go
to ``tables``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Table, select

from emulator.core import layering, registry
from emulator.core.fixtures import (
    NOT_EXPORTED,
    Export,
    FixtureDocument,
    FixtureError,
    RowOverride,
    build_baseline,
    column_default,
    document_model,
    has_serial_id,
    identity,
    parse_document,
    row_identities,
)
from emulator.core.ids import Ids
from emulator.core.layering import (
    check_unique_entries,
    complete_document,
    merge_documents,
    merge_into,
)
from emulator.core.vendor import vendors


def _read_rows(conn: Connection, table: Table, namespace: str) -> list[dict[str, Any]]:
    order = [table.c["id"]] if has_serial_id(table) else list(table.primary_key.columns)
    result = conn.execute(select(table).where(table.c.namespace == namespace).order_by(*order))
    skip = {"namespace", "id"} if has_serial_id(table) else {"namespace"}
    skip |= registry.derived_columns(table)
    return [{k: v for k, v in row.items() if k not in skip} for row in result.mappings()]


def export_document(conn: Connection, namespace: str) -> FixtureDocument:
    """The state of a namespace as a fixture document (see the module docstring)."""
    rows = {
        t: _read_rows(conn, t, namespace)
        for t in registry.namespaced_tables()
        if t.name not in NOT_EXPORTED
    }
    data: dict[str, Any] = {}
    typed: set[int] = set()
    for vendor in vendors():
        if vendor.fixtures is None:
            continue
        export = Export(vendor.name, rows, vendor.fixtures.tables)
        data[vendor.name] = vendor.fixtures.export(export)
        typed |= export.typed
    # Rows no section describes stay raw, in the order they were read.
    raw: dict[str, list[dict[str, Any]]] = {}
    for table, table_rows in rows.items():
        untyped = [row for row in table_rows if id(row) not in typed]
        if untyped:
            raw[table.name] = untyped
    data["tables"] = raw
    doc = document_model().model_validate(data)
    # What build_baseline makes of the typed entries; the differences become overrides.
    derived = build_baseline(doc, Ids(0, "export"), 0).rows
    overrides: list[RowOverride] = []
    for table, table_rows in rows.items():
        key = identity(table)
        made = {tuple(row[k] for k in key): row for row in derived.get(table, [])}
        for actual in table_rows:
            if id(actual) not in typed:
                continue
            ident = tuple(actual[k] for k in key)
            expected = made.get(ident, {})
            columns = {
                name: value
                for name, value in actual.items()
                if expected.get(name, column_default(table, name)) != value
            }
            if columns:
                overrides.append(
                    RowOverride(table=table.name, key=dict(zip(key, ident, strict=True)),
                                columns=columns)
                )  # fmt: skip
    doc.overrides = overrides
    return doc


def dump_document(doc: FixtureDocument) -> dict[str, Any]:
    """The JSON form of a document, without the fields left at their defaults."""
    data: dict[str, Any] = doc.model_dump(mode="json", by_alias=True, exclude_defaults=True)
    # Override keys and columns are column names: keep them as they are.
    data["overrides"] = [o.model_dump(mode="json") for o in doc.overrides]
    if not data["overrides"]:
        del data["overrides"]
    return data


def merge_state(current: FixtureDocument, data: Any, source: str) -> FixtureDocument:
    """The state a namespace holds after merging the document ``data`` (not validated yet)
    into ``current`` (its export).

    Only the fields ``data`` sets change: an entry that updates an existing one needs its
    identity fields and nothing else, so an org listed to add a device keeps its name. The
    export's overrides of the rows ``data`` declares again are dropped (``data`` says what
    they are now). Raises :class:`FixtureError`, with references checked against the result.
    """
    extra = layering.by_alias(document_model(), data)
    check_unique_entries(extra, source)
    base = current.model_dump(mode="json", by_alias=True)
    # The entries of ``data`` as the merge leaves them, validated alone so errors locate them.
    entries = parse_document(complete_document(base, extra), source, check=False)
    touched = row_identities(build_baseline(entries, Ids(0, "merge"), 0))
    tables = {t.name: t for t in registry.namespaced_tables()}
    current = current.model_copy()
    current.overrides = [
        o
        for o in current.overrides
        if (o.table, tuple(o.key.get(k) for k in identity(tables[o.table]))) not in touched
    ]
    base = current.model_dump(mode="json", by_alias=True)
    return parse_document(merge_documents(base, extra), source)


__all__ = ["FixtureError", "dump_document", "export_document", "merge_into", "merge_state"]
