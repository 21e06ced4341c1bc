"""The ``quectel:`` section of a fixture file: SaaS access keys, products, devices, end-user
domains, and end users with the devices bound to them."""

from __future__ import annotations

from typing import Any

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
)

NAME = "quectel"


class PkDk(FixtureModel):
    product_key: str
    device_key: str


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


def check(section: QuectelFixture, fail: Fail) -> None:
    products = {p.product_key for p in section.products}
    for d, dev in enumerate(section.devices):
        if dev.product_key not in products:
            fail(f"devices[{d}].productKey", f"unknown product {dev.product_key!r}")
    domains = {u.user_domain for u in section.user_domains}
    for u, user in enumerate(section.users):
        if user.user_domain not in domains:
            fail(f"users[{u}].userDomain", f"unknown user domain {user.user_domain!r}")


def _credential(kind: str, key: str, secret: str, **attrs: Any) -> dict[str, Any]:
    return {"vendor": NAME, "kind": kind, "key": key, "secret": secret, "attrs": attrs}


def rows(section: QuectelFixture, out: Rows) -> None:
    for ak in section.access_keys:
        out.add(r.credentials, _credential("accessKey", ak.access_key, ak.access_secret))
    for p in section.products:
        out.add(
            r.products,
            {
                "vendor": NAME, "product_key": p.product_key, "org_id": None, "name": p.name,
                "attrs": {**p.attrs, "aep": p.aep},
            },
        )  # fmt: skip
    for dev in section.devices:
        out.add(r.devices, dev.row(NAME, out.ids, out.now))
    for dom in section.user_domains:
        out.add(r.credentials, _credential("userDomain", dom.user_domain, dom.user_domain_secret))
    for user in section.users:
        out.add(
            r.credentials,
            _credential("user", user.email, user.password, userDomain=user.user_domain),
        )
        for pkdk in user.devices:
            out.add(
                r.bindings,
                {
                    "vendor": NAME, "user": user.email, "product_key": pkdk.product_key,
                    "device_key": pkdk.device_key,
                },
            )  # fmt: skip


def export(rows: Export) -> dict[str, Any]:
    section: dict[str, Any] = {
        "access_keys": [], "products": [], "devices": [], "user_domains": [], "users": []
    }  # fmt: skip
    domains: set[str] = set()
    users: dict[str, dict[str, Any]] = {}
    for row in rows.rows(r.credentials):
        # Attrs that are not an object cannot be said by a typed entry: the row stays raw.
        attrs, kind = attrs_of(row), row["kind"]
        item = None
        if kind == "accessKey" and attrs == {}:
            item = entry(
                QuectelAccessKey, {"access_key": row["key"], "access_secret": row["secret"]}
            )
            listed = section["access_keys"]
        elif kind == "userDomain" and attrs == {}:
            item = entry(
                QuectelUserDomain, {"user_domain": row["key"], "user_domain_secret": row["secret"]}
            )
            listed = section["user_domains"]
        elif kind == "user" and attrs and attrs.get("userDomain") in domains:
            data = {
                "email": row["key"],
                "password": row["secret"],
                "user_domain": attrs["userDomain"],
            }
            item = entry(QuectelUser, data)
            listed = section["users"]
        if rows.keep(row, item) and item is not None:
            listed.append(item)
            if kind == "userDomain":
                domains.add(row["key"])
            elif kind == "user":
                item["devices"] = []
                users[row["key"]] = item
    products: set[str] = set()
    for row in rows.rows(r.products):
        attrs = attrs_of(row)
        item = None
        if attrs is not None and row["org_id"] is None:
            attrs = dict(attrs)
            aep = attrs.pop("aep", False)
            data = {
                "product_key": row["product_key"],
                "name": row["name"],
                "aep": aep,
                "attrs": attrs,
            }
            item = entry(QuectelProduct, data)
        if rows.keep(row, item):
            section["products"].append(item)
            products.add(row["product_key"])
    for _row, item in rows.devices(lambda row: row["product_key"] in products):
        section["devices"].append(item)
    for row in rows.rows(r.bindings):
        user = users.get(row["user"])
        item = None
        if user is not None:
            item = {"product_key": row["product_key"], "device_key": row["device_key"]}
        if rows.keep(row, item) and user is not None:
            user["devices"].append(item)
    return section


SECTION = FixtureSection(
    model=QuectelFixture,
    rows=rows,
    export=export,
    check=check,
    # A user names its user domain too: ``email`` comes first, so users of one domain differ.
    identities=(
        ("productKey", "deviceKey"), ("accessKey",), ("email",), ("userDomain",), ("productKey",),
    ),
)  # fmt: skip
