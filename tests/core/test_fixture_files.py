"""Fixture files: the default state loads, and a bad file is refused with a precise message."""

from __future__ import annotations

from pathlib import Path

import pytest

from emulator.config import DEFAULT_FIXTURES
from emulator.core.fixtures import FixtureError, build_baseline, parse_document
from emulator.core.ids import Ids
from emulator.core.layering import load_fixture_files, read_fixture_file


def test_default_fixtures_load() -> None:
    doc = read_fixture_file(DEFAULT_FIXTURES)

    assert [org.org_id for org in doc.enos.orgs] == ["o15475450989191", "yourOrgId"]
    assert {p.product_key for p in doc.quectel.products} >= {"PK0001"}
    assert {p.prod_id for p in doc.mcs.products} >= {"a1234567890", "b1234567890"}


@pytest.mark.parametrize(
    ("data", "where"),
    [
        pytest.param({"enos": {"orgz": []}}, "enos.orgz", id="unknown-key"),
        pytest.param(
            {"enos": {"orgs": [{"name": "no id"}]}}, "enos.orgs[0].orgId", id="missing-field"
        ),
        pytest.param(
            {"enos": {"accessKeys": [{"accessKey": "plainkey", "secretKey": "a-1"}]}},
            "enos.accessKeys[0].accessKey",
            id="access-key-not-uuid-shaped",
        ),
        pytest.param(
            {
                "enos": {
                    "orgs": [{"orgId": "o1", "devices": [{"productKey": "P", "deviceKey": "d"}]}]
                }
            },
            "enos.orgs[0].devices[0].productKey",
            id="device-of-unknown-product",
        ),
        pytest.param(
            {"quectel": {"users": [{"email": "a@b", "password": "p", "userDomain": "E.SP.1"}]}},
            "quectel.users[0].userDomain",
            id="user-of-unknown-domain",
        ),
        pytest.param(
            {"mcs": {"products": [{"prodId": "p", "owner": "nobody"}]}},
            "mcs.products[0].owner",
            id="product-of-unknown-user",
        ),
    ],
)
def test_invalid_document_names_source_entry_and_field(data: object, where: str) -> None:
    with pytest.raises(FixtureError) as raised:
        parse_document(data, "scenario.yaml")

    assert str(raised.value).startswith(f"scenario.yaml: {where}")


def test_unreadable_yaml_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("enos: [unclosed\n")

    with pytest.raises(FixtureError, match="broken.yaml: not valid YAML"):
        read_fixture_file(path)


def test_missing_file_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(FixtureError, match="nowhere.yaml: cannot read"):
        read_fixture_file(tmp_path / "nowhere.yaml")


def test_files_merge_section_by_section_in_order(tmp_path: Path) -> None:
    a, b = tmp_path / "a.yaml", tmp_path / "b.yaml"
    a.write_text("quectel:\n  products: [{productKey: A}]\n")
    b.write_text("quectel:\n  products: [{productKey: B}]\n")

    merged = load_fixture_files([a, b])

    assert [p.product_key for p in merged.quectel.products] == ["A", "B"]


def test_baseline_is_deterministic_for_a_seed() -> None:
    doc = parse_document(
        {"enos": {"orgs": [{"orgId": "o1", "products": [{"productKey": "P"}],
                            "devices": [{"productKey": "P", "deviceKey": "d"}]}]}},
        "seeded",
    )  # fmt: skip

    first = build_baseline(doc, Ids(7, "baseline"), 0).rows
    second = build_baseline(doc, Ids(7, "baseline"), 0).rows

    assert first == second
    (device,) = [row for rows in first.values() for row in rows if row.get("device_key") == "d"]
    assert len(device["secret"]) == 20
    assert len(device["asset_id"]) == 8
