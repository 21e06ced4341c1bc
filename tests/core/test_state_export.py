"""The state export (emulator/core/fixtures.py): every column of every table round-trips.

Generic over the registry, so a column or table added later is covered without a new test:
every non-key column of every row gets a value unlike its default, a table with no baseline
row gets one, and export -> reset -> import must give the same rows back.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import JSON, Table, insert, select, update

from emulator.app import build_emulator
from emulator.config import Settings
from emulator.core import fixtures, registry, snapshot
from emulator.core.context import Ctx

NS = "export"


# One entry of every typed section.
FIXTURE = """
enos:
  accessKeys:
    - accessKey: 5acb82e7-a11e-4300-9164-c8b20b638e8b
      secretKey: 0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0
  orgs:
    - orgId: org1
      name: Org
      products: [{productKey: P1, name: product}]
      devices: [{productKey: P1, deviceKey: enos-dev, attrs: {timezone: "+08:00"}}]
      dps:
        groups: [{groupId: G1, productKey: P1}]
        masterData: [{key: size, type: Enum, values: [S, M]}]
        devices: [{sn: SN1, groupId: G1}]
quectel:
  accessKeys: [{accessKey: qak, accessSecret: qas}]
  products: [{productKey: PK1}]
  devices: [{productKey: PK1, deviceKey: quectel-dev}]
  userDomains: [{userDomain: E.SP.1, userDomainSecret: uds}]
  users:
    - {email: u@example.com, password: pw, userDomain: E.SP.1,
       devices: [{productKey: PK1, deviceKey: quectel-dev}]}
mcs:
  apps: [{appKey: mak, appSecret: mas}]
  users: [{userId: u1, email: m@example.com, password: pw}]
  products: [{prodId: prod1, owner: u1}]
  devices: [{productKey: prod1, deviceKey: mcs-dev}]
"""


@pytest.fixture
def ctx(tmp_path: Path) -> Iterator[Ctx]:
    path = tmp_path / "every-section.yaml"
    path.write_text(FIXTURE)
    emulator = build_emulator(Settings(db=":memory:", seed=3, fixtures=[path]))
    yield emulator.context(NS)
    emulator.engine.dispose()


def tables() -> list[Table]:
    return [t for t in registry.namespaced_tables() if t.name not in fixtures.NOT_EXPORTED]


def unusual(table: Table, name: str, n: int, json_text: bool) -> Any:
    """A value of the column's type that no fixture default produces (JSON columns get a
    string with ``json_text``: what a typed entry cannot hold must travel raw)."""
    if isinstance(table.c[name].type, JSON) and not json_text:
        return {"exported": n} if name == "attrs" or n % 2 else [{"exported": n}]
    try:
        kind = table.c[name].type.python_type
    except NotImplementedError:
        kind = str
    if kind is bool:
        return True
    if kind is int:
        # Distinct per column, so no derived column (updatedAt from createdAt) matches by luck.
        return 987_000 + n + list(table.c.keys()).index(name)
    if kind is dict:
        return {"exported": n}
    if kind is list:
        return [{"exported": n}]
    return f"x-{name}-{n}"


def rows(ctx: Ctx) -> dict[str, list[dict[str, Any]]]:
    out = {}
    with ctx.read() as conn:
        for table in tables():
            key = [table.c[k] for k in fixtures.identity(table)]
            result = conn.execute(select(table).where(table.c.namespace == NS).order_by(*key))
            out[table.name] = [
                {k: v for k, v in row.items() if k != "id"} for row in result.mappings()
            ]
    return out


def scramble(ctx: Ctx, json_text: bool) -> None:
    """Every number, flag and JSON column of every row changed; strings (often references to
    other rows) kept. A table with no row gets one with every column set."""
    with ctx.begin() as conn:
        for n, table in enumerate(tables()):
            # Derived columns (products.quota_used) are recomputed on load, not exported.
            ident = (
                set(fixtures.identity(table))
                | {"namespace", "id"}
                | registry.derived_columns(table)
            )
            free = [
                c.name
                for c in table.c
                if c.name not in ident and not isinstance(unusual(table, c.name, 0, False), str)
            ]
            existing = conn.execute(select(table).where(table.c.namespace == NS)).mappings().all()
            if not existing:
                new = {c.name: unusual(table, c.name, n, json_text) for c in table.c}
                new.pop("id", None)
                conn.execute(insert(table), {**new, "namespace": NS})
                continue
            for i, row in enumerate(existing):
                where = [table.c[k] == row[k] for k in ident if k != "id"]
                changes = {
                    name: unusual(table, name, n * 1000 + i * 100, json_text) for name in free
                }
                if isinstance(changes.get("attrs"), dict) and isinstance(row["attrs"], dict):
                    # Keep what the row's entry reads from its attrs (a user's domain).
                    changes["attrs"] = {**row["attrs"], **changes["attrs"]}
                if changes:
                    conn.execute(update(table).where(*where).values(**changes))


def export(ctx: Ctx) -> dict[str, Any]:
    with ctx.read() as conn:
        return snapshot.dump_document(snapshot.export_document(conn, NS))


@pytest.mark.parametrize("json_text", [False, True], ids=["json-objects", "json-text"])
def test_every_column_of_every_table_round_trips(ctx: Ctx, json_text: bool) -> None:
    scramble(ctx, json_text)
    before, exported = rows(ctx), export(ctx)

    ctx.emulator.namespaces.reset(NS)
    assert rows(ctx) != before
    doc = fixtures.parse_document(exported, "test")
    ctx.emulator.namespaces.replace(NS, fixtures.build_baseline(doc, ctx.ids, 0))

    assert rows(ctx) == before
    assert export(ctx) == exported


def test_every_table_but_tokens_is_exported(ctx: Ctx) -> None:
    scramble(ctx, json_text=False)

    exported = export(ctx)

    # A table the typed sections do not know travels as raw rows.
    assert set(exported.get("tables", {})) <= {t.name for t in tables()}
    assert "tokens" not in exported.get("tables", {})
