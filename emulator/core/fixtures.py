"""Fixture files: the declarative state the emulator starts from and resets to.

A fixture document is YAML (or JSON) with one optional section per vendor. It is validated
against :class:`FixtureDocument` (unknown keys are refused, so a typo fails loudly), checked
for dangling references, and turned once into table rows (:class:`Baseline`) that a reset
writes back into a namespace. The format is documented in the README.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel
from sqlalchemy import Connection, Table, insert
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


class FixtureDocument(FixtureModel):
    enos: EnosFixture = Field(default_factory=EnosFixture)
    quectel: QuectelFixture = Field(default_factory=QuectelFixture)
    mcs: McsFixture = Field(default_factory=McsFixture)


# --- reading ------------------------------------------------------------------------------


def _location(loc: Sequence[int | str]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(document)"


def parse_document(data: Any, source: str) -> FixtureDocument:
    if data is None:
        data = {}
    try:
        doc = FixtureDocument.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise FixtureError(f"{source}: {_location(first['loc'])}: {first['msg']}") from None
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
    merged: dict[str, dict[str, list[Any]]] = {"enos": {}, "quectel": {}, "mcs": {}}
    for doc in docs:
        for section, lists in doc.model_dump(by_alias=True, exclude_defaults=False).items():
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
    return base
