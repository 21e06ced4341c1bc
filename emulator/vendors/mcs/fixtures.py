"""The ``mcs:`` section of a fixture file: OAuth apps, developers (users), their products and
devices (``deviceKey`` is the MCS ``deviceId``, ``secret`` its ``deviceKey``)."""

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

NAME = "mcs"
DEFAULT_CHIP = "MT7687"


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
    chip_name: str = DEFAULT_CHIP
    attrs: dict[str, Any] = Field(default_factory=dict)


class McsFixture(FixtureModel):
    apps: list[McsApp] = Field(default_factory=list)
    users: list[McsUser] = Field(default_factory=list)
    products: list[McsProduct] = Field(default_factory=list)
    devices: list[DeviceFixture] = Field(default_factory=list)


def check(section: McsFixture, fail: Fail) -> None:
    users = {u.user_id for u in section.users}
    products = {p.prod_id for p in section.products}
    for p, product in enumerate(section.products):
        if product.owner not in users:
            fail(f"products[{p}].owner", f"unknown user {product.owner!r}")
    for d, dev in enumerate(section.devices):
        if dev.product_key not in products:
            fail(f"devices[{d}].productKey", f"unknown product {dev.product_key!r}")


def rows(section: McsFixture, out: Rows) -> None:
    for app in section.apps:
        out.add(
            r.credentials,
            {"vendor": NAME, "kind": "app", "key": app.app_key, "secret": app.app_secret,
             "attrs": {}},
        )  # fmt: skip
    for user in section.users:
        out.add(
            r.credentials,
            {"vendor": NAME, "kind": "user", "key": user.email, "secret": user.password,
             "attrs": {"userId": user.user_id}},
        )  # fmt: skip
    for p in section.products:
        out.add(
            r.products,
            {
                "vendor": NAME, "product_key": p.prod_id, "org_id": p.owner, "name": p.name,
                "attrs": {**p.attrs, "requiresSerial": p.requires_serial, "chipName": p.chip_name},
            },
        )  # fmt: skip
    for dev in section.devices:
        out.add(r.devices, dev.row(NAME, out.ids, out.now))


def export(rows: Export) -> dict[str, Any]:
    section: dict[str, Any] = {"apps": [], "users": [], "products": [], "devices": []}
    users: set[str] = set()
    for row in rows.rows(r.credentials):
        attrs, kind = attrs_of(row), row["kind"]
        item = None
        if kind == "app" and attrs == {}:
            item = entry(McsApp, {"app_key": row["key"], "app_secret": row["secret"]})
            listed = section["apps"]
        elif kind == "user" and attrs and isinstance(attrs.get("userId"), str):
            data = {"user_id": attrs["userId"], "email": row["key"], "password": row["secret"]}
            item = entry(McsUser, data)
            listed = section["users"]
        if rows.keep(row, item) and attrs is not None:
            listed.append(item)
            if kind == "user":
                users.add(attrs["userId"])
    products: set[str] = set()
    for row in rows.rows(r.products):
        attrs = attrs_of(row)
        item = None
        if attrs is not None and row["org_id"] in users:
            attrs = dict(attrs)
            data = {
                "prod_id": row["product_key"], "name": row["name"], "owner": row["org_id"],
                "requires_serial": attrs.pop("requiresSerial", False),
                "chip_name": attrs.pop("chipName", DEFAULT_CHIP), "attrs": attrs,
            }  # fmt: skip
            item = entry(McsProduct, data)
        if rows.keep(row, item):
            section["products"].append(item)
            products.add(row["product_key"])
    for _row, item in rows.devices(lambda row: row["product_key"] in products):
        section["devices"].append(item)
    return section


SECTION = FixtureSection(
    model=McsFixture,
    rows=rows,
    export=export,
    check=check,
    identities=(("productKey", "deviceKey"), ("prodId",), ("appKey",), ("email",)),
)
