"""The ``acme:`` section of a fixture file: products and their devices."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from emulator.core import registry
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

NAME = "acme"


class AcmeProduct(FixtureModel):
    product_key: str = Field(min_length=1)
    name: str = ""


class AcmeFixture(FixtureModel):
    products: list[AcmeProduct] = Field(default_factory=list)
    devices: list[DeviceFixture] = Field(default_factory=list)


def check(section: AcmeFixture, fail: Fail) -> None:
    known = {p.product_key for p in section.products}
    for i, device in enumerate(section.devices):
        if device.product_key not in known:
            fail(f"devices[{i}].productKey", f"unknown product {device.product_key!r}")


def rows(section: AcmeFixture, out: Rows) -> None:
    for product in section.products:
        out.add(
            registry.products,
            {"vendor": NAME, "product_key": product.product_key, "org_id": None,
             "name": product.name, "attrs": {}},
        )  # fmt: skip
    for device in section.devices:
        out.add(registry.devices, device.row(NAME, out.ids, out.now))


def export(rows: Export) -> dict[str, Any]:
    section: dict[str, Any] = {"products": [], "devices": []}
    known: set[str] = set()
    for row in rows.rows(registry.products):
        item = None
        if attrs_of(row) == {} and row["org_id"] is None:
            item = entry(AcmeProduct, {"product_key": row["product_key"], "name": row["name"]})
        if rows.keep(row, item):
            section["products"].append(item)
            known.add(row["product_key"])
    for _row, item in rows.devices(lambda row: row["product_key"] in known):
        section["devices"].append(item)
    return section


SECTION = FixtureSection(
    model=AcmeFixture,
    rows=rows,
    export=export,
    check=check,
    identities=(("productKey", "deviceKey"), ("productKey",)),
)
