"""The ``enos:`` section of a fixture file: access keys, and orgs with their products,
devices and DPS inventory (registration groups, master data, SNs)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from emulator.core import registry as r
from emulator.core.fixtures import (
    DeviceFixture,
    Export,
    Fail,
    FixtureModel,
    FixtureSection,
    Rows,
    attrs_of,
    entry,
    same_named,
)
from emulator.vendors.enos import ids as enos_ids
from emulator.vendors.enos import tables

NAME = "enos"
# "Exceed max device size" (11739): 10,000 devices per product on the real platform.
DEFAULT_QUOTA = 10_000


class EnosAccessKey(FixtureModel):
    # The official client (enos-poseidon) needs '-'-separated keys with a hex second segment.
    access_key: str = Field(pattern=r"^[^-]+-[0-9a-fA-F]+(-.*)?$")
    secret_key: str = Field(pattern=r"^[^-]+-[0-9a-fA-F]+(-.*)?$")


class EnosProduct(FixtureModel):
    product_key: str = Field(min_length=1)
    name: str = ""
    device_quota: int = Field(default=DEFAULT_QUOTA, ge=0)
    # Dynamic activation over MQTT (secure mode 3): a device that knows only this secret
    # logs in once and receives its own deviceSecret.
    product_secret: str | None = None
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


def check(section: EnosFixture, fail: Fail) -> None:
    for o, org in enumerate(section.orgs):
        products = {p.product_key for p in org.products}
        for d, dev in enumerate(org.devices):
            if dev.product_key not in products:
                fail(f"orgs[{o}].devices[{d}].productKey", f"unknown product {dev.product_key!r}")
        groups = {g.group_id for g in org.dps.groups}
        for g, group in enumerate(org.dps.groups):
            if group.product_key not in products:
                fail(
                    f"orgs[{o}].dps.groups[{g}].productKey",
                    f"unknown product {group.product_key!r}",
                )
        for s, sn in enumerate(org.dps.devices):
            if sn.group_id not in groups:
                fail(f"orgs[{o}].dps.devices[{s}].groupId", f"unknown group {sn.group_id!r}")


def rows(section: EnosFixture, out: Rows) -> None:
    ids, now = out.ids, out.now
    for ak in section.access_keys:
        credential = {"vendor": NAME, "kind": "accessKey", "key": ak.access_key}
        out.add(r.credentials, {**credential, "secret": ak.secret_key, "attrs": {}})
    for org in section.orgs:
        out.add(tables.orgs, {"org_id": org.org_id, "name": org.name})
        for p in org.products:
            out.add(
                r.products,
                {
                    "vendor": NAME, "product_key": p.product_key, "org_id": org.org_id,
                    "name": p.name, "attrs": {
                        **p.attrs, "deviceQuota": p.device_quota,
                        **({"productSecret": p.product_secret} if p.product_secret else {}),
                    },
                },
            )  # fmt: skip
        for dev in org.devices:
            asset = dev.asset_id or enos_ids.asset_id(ids)
            out.add(r.devices, dev.row(NAME, ids, now, org_id=org.org_id, asset_id=asset))
        for g in org.dps.groups:
            out.add(
                tables.dps_groups,
                {
                    "org_id": org.org_id, "group_id": g.group_id, "product_key": g.product_key,
                    "region_id": g.region_id, "master_data_group": g.master_data_group,
                    "attrs": g.attrs,
                },
            )  # fmt: skip
        for m in org.dps.master_data:
            out.add(
                tables.dps_master_data,
                {
                    "org_id": org.org_id, "key": m.key, "data_type": m.type,
                    "master_data_group": m.group, "attrs": {**m.attrs, "values": m.values},
                },
            )  # fmt: skip
        for sn in org.dps.devices:
            out.add(
                tables.dps_devices,
                {
                    "org_id": org.org_id, "sn": sn.sn, "group_id": sn.group_id,
                    "attrs": sn.attrs, "created_at": now, "updated_at": now,
                },
            )  # fmt: skip


def export(rows: Export) -> dict[str, Any]:
    section: dict[str, Any] = {"access_keys": [], "orgs": []}
    orgs: dict[str, dict[str, Any]] = {}
    for row in rows.rows(tables.orgs):
        item = entry(EnosOrgFixture, {"org_id": row["org_id"], "name": row["name"]})
        if rows.keep(row, item) and item is not None:
            item.update(
                products=[], devices=[], dps={"groups": [], "master_data": [], "devices": []}
            )
            orgs[row["org_id"]] = item
            section["orgs"].append(item)
    for row in rows.rows(r.credentials):
        item = None
        # Attrs that are not an object cannot be said by a typed entry: the row stays raw.
        if row["kind"] == "accessKey" and attrs_of(row) == {}:
            item = entry(EnosAccessKey, {"access_key": row["key"], "secret_key": row["secret"]})
        if rows.keep(row, item):
            section["access_keys"].append(item)
    products: set[tuple[str, str]] = set()
    for row in rows.rows(r.products):
        attrs = attrs_of(row)
        item = None
        if attrs is not None and row["org_id"] in orgs:
            attrs = dict(attrs)
            quota = attrs.pop("deviceQuota", DEFAULT_QUOTA)
            secret = attrs.pop("productSecret", None)
            item = entry(
                EnosProduct,
                {
                    "product_key": row["product_key"], "name": row["name"],
                    "device_quota": quota, "attrs": attrs,
                    **({"product_secret": secret} if secret else {}),
                },
            )  # fmt: skip
        if rows.keep(row, item):
            orgs[row["org_id"]]["products"].append(item)
            products.add((row["product_key"], row["org_id"]))
    for row, item in rows.devices(lambda row: (row["product_key"], row["org_id"]) in products):
        orgs[row["org_id"]]["devices"].append(item)
    groups: set[tuple[str, str]] = set()
    for row in rows.rows(tables.dps_groups):
        item = None
        if (row["product_key"], row["org_id"]) in products:
            item = entry(DpsGroupFixture, same_named(DpsGroupFixture, row))
        if rows.keep(row, item):
            orgs[row["org_id"]]["dps"]["groups"].append(item)
            groups.add((row["org_id"], row["group_id"]))
    for row in rows.rows(tables.dps_master_data):
        item = None
        attrs = attrs_of(row)
        if row["org_id"] in orgs and attrs is not None:
            attrs = dict(attrs)
            data = {
                **same_named(DpsMasterDataFixture, row),
                "type": row["data_type"],
                "values": attrs.pop("values", []),
                "group": row["master_data_group"],
                "attrs": attrs,
            }
            item = entry(DpsMasterDataFixture, data)
        if rows.keep(row, item):
            orgs[row["org_id"]]["dps"]["master_data"].append(item)
    for row in rows.rows(tables.dps_devices):
        item = None
        if (row["org_id"], row["group_id"]) in groups:
            item = entry(DpsDeviceFixture, same_named(DpsDeviceFixture, row))
        if rows.keep(row, item):
            orgs[row["org_id"]]["dps"]["devices"].append(item)
    return section


SECTION = FixtureSection(
    model=EnosFixture,
    rows=rows,
    export=export,
    check=check,
    tables=(tables.orgs, tables.dps_groups, tables.dps_master_data, tables.dps_devices),
    identities=(
        ("orgId",), ("sn",), ("productKey", "deviceKey"), ("groupId",), ("key",),
        ("accessKey",), ("productKey",),
    ),
)  # fmt: skip
