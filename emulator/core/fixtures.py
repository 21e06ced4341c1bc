"""Fixture files: the declarative state the emulator starts from and resets to.

A fixture document is YAML (or JSON) with one optional section per vendor. It is validated
against :class:`FixtureDocument` (unknown keys are refused, so a typo fails loudly), checked
for dangling references, and turned once into table rows (:class:`Baseline`) that a reset
writes back into a namespace. The format is documented in docs/fixtures.md.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel
from sqlalchemy import Connection, Table, UniqueConstraint, insert, select
from sqlmodel import SQLModel

from emulator.core import registry
from emulator.core.ids import Ids


class FixtureError(ValueError):
    """A fixture file that cannot be loaded; the message names the file, entry and field."""


class FixtureModel(BaseModel):
    model_config = ConfigDict(extra="forbid", alias_generator=to_camel, populate_by_name=True)


class DeviceFixture(FixtureModel):
    """A device of any vendor. ``deviceKey`` is the MCS ``deviceId``; ``secret`` its key."""

    product_key: str = Field(min_length=1)
    device_key: str = Field(min_length=1)
    name: str = ""
    secret: str | None = None
    asset_id: str | None = None
    online: bool = False
    gateway_product_key: str | None = None
    gateway_device_key: str | None = None
    attrs: dict[str, Any] = Field(default_factory=dict)
    created_at: int | None = None


class PkDk(FixtureModel):
    product_key: str
    device_key: str


# --- EnOS ---------------------------------------------------------------------------------


class EnosAccessKey(FixtureModel):
    # The official client (enos-poseidon) needs '-'-separated keys with a hex second segment.
    access_key: str = Field(pattern=r"^[^-]+-[0-9a-fA-F]+(-.*)?$")
    secret_key: str = Field(pattern=r"^[^-]+-[0-9a-fA-F]+(-.*)?$")


class EnosProduct(FixtureModel):
    product_key: str = Field(min_length=1)
    name: str = ""
    # "Exceed max device size" (11739): 10,000 devices per product on the real platform.
    device_quota: int = Field(default=10_000, ge=0)
    attrs: dict[str, Any] = Field(default_factory=dict)


class DpsGroupFixture(FixtureModel):
    group_id: str = Field(min_length=1)
    product_key: str = Field(min_length=1)
    region_id: str = ""
    # Allocation checks deviceData against this master-data group only, and answers 35404
    # "Device group not found" when it holds no definition (left unchecked here on purpose).
    master_data_group: str | None = None
    attrs: dict[str, Any] = Field(default_factory=dict)


class DpsMasterDataFixture(FixtureModel):
    key: str = Field(min_length=1)
    type: Literal["Integer", "String", "Enum", "Date"]
    values: list[str] = Field(default_factory=list, description="allowed values of an Enum")
    group: str = Field(default="default", min_length=1, description="master-data group")
    attrs: dict[str, Any] = Field(default_factory=dict)


class DpsDeviceFixture(FixtureModel):
    sn: str = Field(min_length=1)
    group_id: str = Field(min_length=1)
    attrs: dict[str, Any] = Field(
        default_factory=dict, description="PvsDevice fields: deviceData, batchTag, desc, ..."
    )


class EnosDps(FixtureModel):
    groups: list[DpsGroupFixture] = Field(default_factory=list)
    master_data: list[DpsMasterDataFixture] = Field(default_factory=list)
    devices: list[DpsDeviceFixture] = Field(default_factory=list)


class EnosOrgFixture(FixtureModel):
    org_id: str = Field(min_length=1)
    name: str = ""
    products: list[EnosProduct] = Field(default_factory=list)
    devices: list[DeviceFixture] = Field(default_factory=list)
    dps: EnosDps = Field(default_factory=EnosDps)


class EnosFixture(FixtureModel):
    access_keys: list[EnosAccessKey] = Field(default_factory=list)
    orgs: list[EnosOrgFixture] = Field(default_factory=list)


# --- Quectel ------------------------------------------------------------------------------


class QuectelAccessKey(FixtureModel):
    access_key: str = Field(min_length=1)
    access_secret: str = Field(min_length=1)


class QuectelProduct(FixtureModel):
    product_key: str = Field(min_length=1)
    name: str = ""
    # Products on China Telecom's AEP platform need a psk per device (createBatch doc).
    aep: bool = False
    attrs: dict[str, Any] = Field(default_factory=dict)


class QuectelUserDomain(FixtureModel):
    user_domain: str = Field(min_length=1)
    user_domain_secret: str = Field(min_length=1)


class QuectelUser(FixtureModel):
    email: str = Field(min_length=1)
    password: str = Field(min_length=1)
    user_domain: str = Field(min_length=1)
    devices: list[PkDk] = Field(default_factory=list, description="devices bound to the user")


class QuectelFixture(FixtureModel):
    access_keys: list[QuectelAccessKey] = Field(default_factory=list)
    products: list[QuectelProduct] = Field(default_factory=list)
    devices: list[DeviceFixture] = Field(default_factory=list)
    user_domains: list[QuectelUserDomain] = Field(default_factory=list)
    users: list[QuectelUser] = Field(default_factory=list)


# --- MediaTek MCS -------------------------------------------------------------------------


class McsApp(FixtureModel):
    app_key: str = Field(min_length=1)
    app_secret: str = Field(min_length=1)


class McsUser(FixtureModel):
    user_id: str = Field(min_length=1)
    email: str = Field(min_length=1)
    password: str = Field(min_length=1)


class McsProduct(FixtureModel):
    prod_id: str = Field(min_length=1)
    name: str = ""
    owner: str = Field(min_length=1, description="userId of the developer owning the product")
    # "serial ... depends on the product registration criteria defined by developers".
    requires_serial: bool = False
    chip_name: str = "MT7687"
    attrs: dict[str, Any] = Field(default_factory=dict)


class McsFixture(FixtureModel):
    apps: list[McsApp] = Field(default_factory=list)
    users: list[McsUser] = Field(default_factory=list)
    products: list[McsProduct] = Field(default_factory=list)
    devices: list[DeviceFixture] = Field(default_factory=list)


class RowOverride(FixtureModel):
    """Columns of one row that its entry above does not carry (written by a state export:
    ``updatedAt``, ``lastOnlineAt``, a DPS device's allocation, ...). ``key`` names the row by
    its identity columns (snake_case column names, like ``columns``)."""

    table: str
    key: dict[str, Any]
    columns: dict[str, Any]


class FixtureDocument(FixtureModel):
    enos: EnosFixture = Field(default_factory=EnosFixture)
    quectel: QuectelFixture = Field(default_factory=QuectelFixture)
    mcs: McsFixture = Field(default_factory=McsFixture)
    # A state export writes here what the sections above cannot say, so that export, reset
    # and import round-trip exactly: rows of tables with no section (commands), by table name,
    # and the extra columns of rows that have one.
    tables: dict[str, list[dict[str, Any]]] = Field(default_factory=dict)
    overrides: list[RowOverride] = Field(default_factory=list)


# --- reading ------------------------------------------------------------------------------


def _location(loc: Sequence[int | str]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(document)"


def parse_document(data: Any, source: str, *, check: bool = True) -> FixtureDocument:
    """Validate a document; ``check=False`` leaves references to the caller (a merge checks
    them against the state it merges into)."""
    if data is None:
        data = {}
    try:
        doc = FixtureDocument.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise FixtureError(f"{source}: {_location(first['loc'])}: {first['msg']}") from None
    if check:
        check_references(doc, source)
    return doc


def read_fixture_file(path: Path) -> FixtureDocument:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise FixtureError(f"{path}: cannot read fixture file: {exc.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise FixtureError(f"{path}: not valid YAML: {exc}") from None
    return parse_document(data, str(path))


def merge(docs: Iterable[FixtureDocument]) -> FixtureDocument:
    """Concatenate the lists of several documents, section by section."""
    merged: dict[str, Any] = {"enos": {}, "quectel": {}, "mcs": {}, "tables": {}, "overrides": []}
    for doc in docs:
        for section, lists in doc.model_dump(by_alias=True, exclude_defaults=False).items():
            if isinstance(lists, list):
                merged[section].extend(lists)
                continue
            for name, items in lists.items():
                merged[section].setdefault(name, []).extend(items)
    return FixtureDocument.model_validate(merged)


def check_references(doc: FixtureDocument, source: str) -> None:
    def fail(where: str, message: str) -> None:
        raise FixtureError(f"{source}: {where}: {message}")

    for o, org in enumerate(doc.enos.orgs):
        products = {p.product_key for p in org.products}
        for d, dev in enumerate(org.devices):
            if dev.product_key not in products:
                fail(
                    f"enos.orgs[{o}].devices[{d}].productKey",
                    f"unknown product {dev.product_key!r}",
                )
        groups = {g.group_id for g in org.dps.groups}
        for g, group in enumerate(org.dps.groups):
            if group.product_key not in products:
                fail(
                    f"enos.orgs[{o}].dps.groups[{g}].productKey",
                    f"unknown product {group.product_key!r}",
                )
        for s, sn in enumerate(org.dps.devices):
            if sn.group_id not in groups:
                fail(f"enos.orgs[{o}].dps.devices[{s}].groupId", f"unknown group {sn.group_id!r}")
    q_products = {p.product_key for p in doc.quectel.products}
    for d, dev in enumerate(doc.quectel.devices):
        if dev.product_key not in q_products:
            fail(f"quectel.devices[{d}].productKey", f"unknown product {dev.product_key!r}")
    domains = {u.user_domain for u in doc.quectel.user_domains}
    for u, user in enumerate(doc.quectel.users):
        if user.user_domain not in domains:
            fail(f"quectel.users[{u}].userDomain", f"unknown user domain {user.user_domain!r}")
    users = {u.user_id for u in doc.mcs.users}
    m_products = {p.prod_id for p in doc.mcs.products}
    for p, product in enumerate(doc.mcs.products):
        if product.owner not in users:
            fail(f"mcs.products[{p}].owner", f"unknown user {product.owner!r}")
    for d, dev in enumerate(doc.mcs.devices):
        if dev.product_key not in m_products:
            fail(f"mcs.devices[{d}].productKey", f"unknown product {dev.product_key!r}")


# --- rows ---------------------------------------------------------------------------------


@dataclass
class Baseline:
    """Fixture documents turned into rows once, so a reset only has to write them."""

    rows: dict[Table, list[dict[str, Any]]] = field(default_factory=dict)

    def add(self, model: type[SQLModel], row: dict[str, Any]) -> None:
        self.rows.setdefault(registry.table_of(model), []).append(row)

    def write(self, conn: Connection, namespace: str) -> None:
        for table, rows in self.rows.items():
            if rows:
                conn.execute(insert(table), [{**row, "namespace": namespace} for row in rows])
        registry.recount_quota(conn, namespace)

    def finish(self, doc: FixtureDocument, source: str = "fixtures") -> Baseline:
        """Add the raw rows and overrides of ``doc``, and give every row of a table the same
        columns (one executemany per table on reset)."""
        tables = {t.name: t for t in registry.namespaced_tables()}
        for name, rows in doc.tables.items():
            table = tables.get(name)
            if table is None or name in NOT_EXPORTED:
                known = ", ".join(sorted(set(tables) - NOT_EXPORTED))
                raise FixtureError(f"{source}: tables.{name}: unknown table; tables: {known}")
            for i, row in enumerate(rows):
                unknown = _bad_columns(table, row)
                if unknown:
                    raise FixtureError(
                        f"{source}: tables.{name}[{i}]: unknown columns {sorted(unknown)}"
                    )
                self.rows.setdefault(table, []).append(dict(row))
        for i, override in enumerate(doc.overrides):
            table = tables.get(override.table)
            where = f"{source}: overrides[{i}]"
            if table is None:
                raise FixtureError(f"{where}: unknown table {override.table!r}")
            key = identity(table)
            if set(override.key) != set(key):
                raise FixtureError(f"{where}: key must name {list(key)}")
            unknown = _bad_columns(table, override.columns)
            if unknown:
                raise FixtureError(f"{where}: unknown columns {sorted(unknown)}")
            for row in self.rows.get(table, []):
                if all(row.get(k) == override.key[k] for k in key):
                    row.update(override.columns)
                    break
            else:
                raise FixtureError(f"{where}: no {override.table} row {override.key}")
        for table, rows in self.rows.items():
            names = set().union(*rows) if rows else set()
            for row in rows:
                for name in names - row.keys():
                    row[name] = column_default(table, name)
        return self


def _device_row(
    vendor: str, dev: DeviceFixture, ids: Ids, now: int, **extra: Any
) -> dict[str, Any]:
    created = dev.created_at if dev.created_at is not None else now
    return {
        "vendor": vendor,
        "product_key": dev.product_key,
        "device_key": dev.device_key,
        "name": dev.name,
        "secret": dev.secret if dev.secret is not None else ids.device_secret(),
        "asset_id": dev.asset_id,
        "online": dev.online,
        "gateway_product_key": dev.gateway_product_key,
        "gateway_device_key": dev.gateway_device_key,
        "attrs": dev.attrs,
        "created_at": created,
        "updated_at": created,
        "first_online_at": created if dev.online else None,
        "last_online_at": created if dev.online else None,
        "last_offline_at": None,
        **extra,
    }


def build_baseline(doc: FixtureDocument, ids: Ids, now: int) -> Baseline:
    base = Baseline()
    r = registry
    for ak in doc.enos.access_keys:
        base.add(
            r.Credential,
            {
                "vendor": "enos",
                "kind": "accessKey",
                "key": ak.access_key,
                "secret": ak.secret_key,
                "attrs": {},
            },
        )
    for org in doc.enos.orgs:
        base.add(r.EnosOrg, {"org_id": org.org_id, "name": org.name})
        for p in org.products:
            base.add(
                r.Product,
                {
                    "vendor": "enos",
                    "product_key": p.product_key,
                    "org_id": org.org_id,
                    "name": p.name,
                    "attrs": {**p.attrs, "deviceQuota": p.device_quota},
                },
            )
        for dev in org.devices:
            asset = dev.asset_id or ids.enos_asset_id()
            base.add(
                r.Device, _device_row("enos", dev, ids, now, org_id=org.org_id, asset_id=asset)
            )
        for g in org.dps.groups:
            base.add(
                r.DpsGroup,
                {
                    "org_id": org.org_id,
                    "group_id": g.group_id,
                    "product_key": g.product_key,
                    "region_id": g.region_id,
                    "master_data_group": g.master_data_group,
                    "attrs": g.attrs,
                },
            )
        for m in org.dps.master_data:
            base.add(
                r.DpsMasterData,
                {
                    "org_id": org.org_id,
                    "key": m.key,
                    "data_type": m.type,
                    "master_data_group": m.group,
                    "attrs": {**m.attrs, "values": m.values},
                },
            )
        for sn in org.dps.devices:
            base.add(
                r.DpsDevice,
                {
                    "org_id": org.org_id,
                    "sn": sn.sn,
                    "group_id": sn.group_id,
                    "attrs": sn.attrs,
                    "created_at": now,
                    "updated_at": now,
                },
            )
    q = doc.quectel
    for qak in q.access_keys:
        base.add(
            r.Credential,
            {
                "vendor": "quectel",
                "kind": "accessKey",
                "key": qak.access_key,
                "secret": qak.access_secret,
                "attrs": {},
            },
        )
    for qp in q.products:
        base.add(
            r.Product,
            {
                "vendor": "quectel",
                "product_key": qp.product_key,
                "org_id": None,
                "name": qp.name,
                "attrs": {**qp.attrs, "aep": qp.aep},
            },
        )
    for dev in q.devices:
        base.add(r.Device, _device_row("quectel", dev, ids, now))
    for dom in q.user_domains:
        base.add(
            r.Credential,
            {
                "vendor": "quectel",
                "kind": "userDomain",
                "key": dom.user_domain,
                "secret": dom.user_domain_secret,
                "attrs": {},
            },
        )
    for user in q.users:
        base.add(
            r.Credential,
            {
                "vendor": "quectel",
                "kind": "user",
                "key": user.email,
                "secret": user.password,
                "attrs": {"userDomain": user.user_domain},
            },
        )
        for pkdk in user.devices:
            base.add(
                r.Binding,
                {
                    "vendor": "quectel",
                    "user": user.email,
                    "product_key": pkdk.product_key,
                    "device_key": pkdk.device_key,
                },
            )
    mcs = doc.mcs
    for app in mcs.apps:
        base.add(
            r.Credential,
            {
                "vendor": "mcs",
                "kind": "app",
                "key": app.app_key,
                "secret": app.app_secret,
                "attrs": {},
            },
        )
    for mu in mcs.users:
        base.add(
            r.Credential,
            {
                "vendor": "mcs",
                "kind": "user",
                "key": mu.email,
                "secret": mu.password,
                "attrs": {"userId": mu.user_id},
            },
        )
    for mp in mcs.products:
        base.add(
            r.Product,
            {
                "vendor": "mcs",
                "product_key": mp.prod_id,
                "org_id": mp.owner,
                "name": mp.name,
                "attrs": {
                    **mp.attrs,
                    "requiresSerial": mp.requires_serial,
                    "chipName": mp.chip_name,
                },
            },
        )
    for dev in mcs.devices:
        base.add(r.Device, _device_row("mcs", dev, ids, now))
    return base.finish(doc)


# --- state export -------------------------------------------------------------------------

# Issued tokens are not state a user restores: a snapshot leaves them out, an import keeps them.
NOT_EXPORTED = frozenset({"tokens"})


def identity(table: Table) -> tuple[str, ...]:
    """The columns naming a row inside its namespace: a unique constraint, else the key."""
    for constraint in table.constraints:
        if isinstance(constraint, UniqueConstraint):
            return tuple(c.name for c in constraint.columns if c.name != "namespace")
    return tuple(c.name for c in table.primary_key if c.name != "namespace")


def column_default(table: Table, name: str) -> Any:
    default = table.c[name].default
    if default is None:
        return None
    if default.is_scalar:
        return default.arg  # type: ignore[attr-defined]
    if default.is_callable:
        return default.arg(None)  # type: ignore[attr-defined]
    return None


def _bad_columns(table: Table, row: dict[str, Any]) -> list[str]:
    """Columns a fixture row may not set: unknown ones, the namespace and generated ids."""
    allowed = {c.name for c in table.c} - {"namespace"}
    if _has_serial_id(table):
        allowed.discard("id")
    return sorted(set(row) - allowed)


def _has_serial_id(table: Table) -> bool:
    return "id" in table.c and table.c["id"].primary_key


def _read_rows(conn: Connection, table: Table, namespace: str) -> list[dict[str, Any]]:
    order = [table.c["id"]] if _has_serial_id(table) else list(table.primary_key.columns)
    result = conn.execute(select(table).where(table.c.namespace == namespace).order_by(*order))
    skip = {"namespace", "id"} if _has_serial_id(table) else {"namespace"}
    skip |= registry.derived_columns(table)
    return [{k: v for k, v in row.items() if k not in skip} for row in result.mappings()]


def _entry(model: type[FixtureModel], data: dict[str, Any]) -> dict[str, Any] | None:
    """``data`` as an entry of ``model`` when it is a valid one (else the row stays raw)."""
    try:
        model.model_validate(data)
    except ValidationError:
        return None
    return data


def _attrs(row: dict[str, Any]) -> dict[str, Any] | None:
    attrs = row.get("attrs")
    if attrs is None:
        return {}
    return attrs if isinstance(attrs, dict) else None


def _same_named(model: type[FixtureModel], row: dict[str, Any]) -> dict[str, Any]:
    """The fields of ``model`` that are columns of the same name (and set in the row)."""
    return {f: row[f] for f in model.model_fields if f in row and row[f] is not None}


def export_document(conn: Connection, namespace: str) -> FixtureDocument:
    """The state of a namespace as a fixture document: ``build_baseline`` of it writes the
    same rows back (tokens aside), so export, reset and import round-trip exactly.

    Rows go into the typed sections where they fit; the columns those sections do not carry
    become ``overrides``, and rows with no section (or that do not validate) go to ``tables``.
    """
    r = registry
    rows = {
        t: _read_rows(conn, t, namespace)
        for t in r.namespaced_tables()
        if t.name not in NOT_EXPORTED
    }
    typed: dict[Table, list[dict[str, Any]]] = {}
    raw: dict[str, list[dict[str, Any]]] = {}

    def keep(table: Table, row: dict[str, Any], entry: dict[str, Any] | None) -> bool:
        if entry is None:
            raw.setdefault(table.name, []).append(row)
            return False
        typed.setdefault(table, []).append(row)
        return True

    enos: dict[str, Any] = {"access_keys": [], "orgs": []}
    quectel: dict[str, Any] = {
        "access_keys": [], "products": [], "devices": [], "user_domains": [], "users": []
    }  # fmt: skip
    mcs: dict[str, Any] = {"apps": [], "users": [], "products": [], "devices": []}
    orgs: dict[str, dict[str, Any]] = {}
    for row in rows.get(r.enos_orgs, []):
        entry = _entry(EnosOrgFixture, {"org_id": row["org_id"], "name": row["name"]})
        if keep(r.enos_orgs, row, entry) and entry is not None:
            entry.update(
                products=[], devices=[], dps={"groups": [], "master_data": [], "devices": []}
            )
            orgs[row["org_id"]] = entry
            enos["orgs"].append(entry)

    # Credentials, by (vendor, kind); bindings hang under their Quectel user.
    domains: set[str] = set()
    users: dict[str, dict[str, Any]] = {}
    mcs_users: set[str] = set()
    for row in rows.get(r.credentials, []):
        # Attrs that are not an object cannot be said by a typed entry: the row stays raw.
        attrs, kind = _attrs(row), (row["vendor"], row["kind"])
        entry = None
        if kind == ("enos", "accessKey") and attrs == {}:
            entry = _entry(EnosAccessKey, {"access_key": row["key"], "secret_key": row["secret"]})
            section = enos["access_keys"]
        elif kind == ("quectel", "accessKey") and attrs == {}:
            entry = _entry(
                QuectelAccessKey, {"access_key": row["key"], "access_secret": row["secret"]}
            )
            section = quectel["access_keys"]
        elif kind == ("quectel", "userDomain") and attrs == {}:
            entry = _entry(
                QuectelUserDomain, {"user_domain": row["key"], "user_domain_secret": row["secret"]}
            )
            section = quectel["user_domains"]
        elif kind == ("quectel", "user") and attrs and attrs.get("userDomain") in domains:
            entry = _entry(
                QuectelUser,
                {
                    "email": row["key"],
                    "password": row["secret"],
                    "user_domain": attrs["userDomain"],
                },
            )
            section = quectel["users"]
        elif kind == ("mcs", "app") and attrs == {}:
            entry = _entry(McsApp, {"app_key": row["key"], "app_secret": row["secret"]})
            section = mcs["apps"]
        elif kind == ("mcs", "user") and attrs and isinstance(attrs.get("userId"), str):
            entry = _entry(
                McsUser,
                {"user_id": attrs["userId"], "email": row["key"], "password": row["secret"]},
            )
            section = mcs["users"]
        if keep(r.credentials, row, entry) and entry is not None:
            section.append(entry)
            if kind == ("quectel", "userDomain"):
                domains.add(row["key"])
            elif kind == ("quectel", "user"):
                entry["devices"] = []
                users[row["key"]] = entry
            elif kind == ("mcs", "user") and attrs:
                mcs_users.add(attrs["userId"])

    products: set[tuple[str, str, str | None]] = set()
    for row in rows.get(r.products, []):
        attrs = dict(_attrs(row) or {})
        vendor, pk = row["vendor"], row["product_key"]
        entry = None
        if _attrs(row) is None:
            pass
        elif vendor == "enos" and row["org_id"] in orgs:
            quota = attrs.pop("deviceQuota", 10_000)
            entry = _entry(
                EnosProduct,
                {"product_key": pk, "name": row["name"], "device_quota": quota, "attrs": attrs},
            )
            section = orgs[row["org_id"]]["products"]
        elif vendor == "quectel" and row["org_id"] is None:
            aep = attrs.pop("aep", False)
            entry = _entry(
                QuectelProduct, {"product_key": pk, "name": row["name"], "aep": aep, "attrs": attrs}
            )
            section = quectel["products"]
        elif vendor == "mcs" and row["org_id"] in mcs_users:
            data = {
                "prod_id": pk, "name": row["name"], "owner": row["org_id"],
                "requires_serial": attrs.pop("requiresSerial", False),
                "chip_name": attrs.pop("chipName", "MT7687"), "attrs": attrs,
            }  # fmt: skip
            entry = _entry(McsProduct, data)
            section = mcs["products"]
        if keep(r.products, row, entry) and entry is not None:
            section.append(entry)
            products.add((vendor, pk, row["org_id"] if vendor == "enos" else None))

    for row in rows.get(r.devices, []):
        vendor = row["vendor"]
        org = row["org_id"] if vendor == "enos" else None
        entry = None
        if (vendor, row["product_key"], org) in products and (vendor == "enos") == (org in orgs):
            entry = _entry(DeviceFixture, _same_named(DeviceFixture, row))
            if vendor == "enos":
                section = orgs[row["org_id"]]["devices"]
            else:
                section = quectel["devices"] if vendor == "quectel" else mcs["devices"]
        if keep(r.devices, row, entry) and entry is not None:
            section.append(entry)

    groups: set[tuple[str, str]] = set()
    for row in rows.get(r.dps_groups, []):
        entry = None
        if ("enos", row["product_key"], row["org_id"]) in products:
            entry = _entry(DpsGroupFixture, _same_named(DpsGroupFixture, row))
        if keep(r.dps_groups, row, entry) and entry is not None:
            orgs[row["org_id"]]["dps"]["groups"].append(entry)
            groups.add((row["org_id"], row["group_id"]))
    for row in rows.get(r.dps_master_data, []):
        entry = None
        if row["org_id"] in orgs and _attrs(row) is not None:
            attrs = dict(_attrs(row) or {})
            data = {
                **_same_named(DpsMasterDataFixture, row),
                "type": row["data_type"],
                "values": attrs.pop("values", []),
                "attrs": attrs,
            }
            if "group" in DpsMasterDataFixture.model_fields and "master_data_group" in row:
                data["group"] = row["master_data_group"]
            entry = _entry(DpsMasterDataFixture, data)
        if keep(r.dps_master_data, row, entry) and entry is not None:
            orgs[row["org_id"]]["dps"]["master_data"].append(entry)
    for row in rows.get(r.dps_devices, []):
        entry = None
        if (row["org_id"], row["group_id"]) in groups:
            entry = _entry(DpsDeviceFixture, _same_named(DpsDeviceFixture, row))
        if keep(r.dps_devices, row, entry) and entry is not None:
            orgs[row["org_id"]]["dps"]["devices"].append(entry)

    for row in rows.get(r.bindings, []):
        user = users.get(row["user"]) if row["vendor"] == "quectel" else None
        entry = None
        if user is not None:
            entry = {"product_key": row["product_key"], "device_key": row["device_key"]}
        if keep(r.bindings, row, entry) and entry is not None and user is not None:
            user["devices"].append(entry)

    handled = {r.enos_orgs, r.credentials, r.products, r.devices, r.dps_groups}
    handled |= {r.dps_master_data, r.dps_devices, r.bindings}
    for table, table_rows in rows.items():
        if table not in handled and table_rows:
            raw[table.name] = table_rows

    doc = FixtureDocument.model_validate(
        {"enos": enos, "quectel": quectel, "mcs": mcs, "tables": raw}
    )
    # What build_baseline makes of the typed entries; the differences become overrides.
    derived = build_baseline(doc, Ids(0, "export"), 0).rows
    overrides: list[RowOverride] = []
    for table, actual_rows in typed.items():
        key = identity(table)
        made = {tuple(row[k] for k in key): row for row in derived.get(table, [])}
        for actual in actual_rows:
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


# Identity fields of the entries of a fixture list, most specific first: a merged entry with
# the same identity as an existing one updates it instead of adding a second.
_ENTRY_IDENTITIES = (
    ("orgId",), ("sn",), ("productKey", "deviceKey"), ("prodId",), ("groupId",), ("key",),
    ("accessKey",), ("appKey",), ("userDomain",), ("email",), ("productKey",),
)  # fmt: skip


def _entry_identity(item: Any) -> tuple[Any, ...] | None:
    if not isinstance(item, dict):
        return None
    for fields in _ENTRY_IDENTITIES:
        if all(f in item for f in fields):
            return (fields, *(item[f] for f in fields))
    return None


def merge_into(base: Any, extra: Any) -> Any:
    """``extra`` merged into ``base`` (JSON values): objects key by key, lists entry by entry
    (an entry with the identity of an existing one updates it; others are appended), and
    anything else replaced."""
    if isinstance(base, dict) and isinstance(extra, dict):
        out = dict(base)
        for key, value in extra.items():
            out[key] = merge_into(base[key], value) if key in base else value
        return out
    if isinstance(base, list) and isinstance(extra, list):
        merged = list(base)
        where = {}
        for i, item in enumerate(merged):
            ident = _entry_identity(item)
            if ident is not None:
                where[ident] = i
        for item in extra:
            ident = _entry_identity(item)
            if ident is not None and ident in where:
                merged[where[ident]] = merge_into(merged[where[ident]], item)
            else:
                merged.append(item)
        return merged
    return extra


def row_identities(state: Baseline) -> set[tuple[str, tuple[Any, ...]]]:
    """(table name, identity values) of every row of ``state``."""
    out: set[tuple[str, tuple[Any, ...]]] = set()
    for table, rows in state.rows.items():
        key = identity(table)
        out.update((table.name, tuple(row.get(k) for k in key)) for row in rows)
    return out


def merge_state(current: FixtureDocument, doc: FixtureDocument, source: str) -> FixtureDocument:
    """The state a namespace holds after merging ``doc`` into ``current`` (its export).

    Only the fields ``doc`` sets change, so an org listed to add a device keeps its name; the
    export's overrides of the rows ``doc`` declares again are dropped (``doc`` says what they
    are now). Raises :class:`FixtureError`, with references checked against the result.
    """
    touched = row_identities(build_baseline(doc, Ids(0, "merge"), 0))
    tables = {t.name: t for t in registry.namespaced_tables()}
    current = current.model_copy()
    current.overrides = [
        o
        for o in current.overrides
        if (o.table, tuple(o.key.get(k) for k in identity(tables[o.table]))) not in touched
    ]
    merged = merge_into(
        current.model_dump(mode="json", by_alias=True),
        doc.model_dump(mode="json", by_alias=True, exclude_unset=True),
    )
    return parse_document(merged, source)
