"""Several fixture files are merged in order, then their references are checked on the result
(docs/fixtures.md): a file can add to the default fixtures without repeating them."""

from __future__ import annotations

from pathlib import Path

import pytest

from emulator.config import DEFAULT_FIXTURES, DEFAULTS
from emulator.core.fixtures import FixtureError
from emulator.core.layering import load_fixture_files
from emulator.testing import free_port
from tests import calls
from tests.processes import start, stop, wait_healthy

ORG = "o15475450989191"


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_a_later_file_adds_a_device_to_a_product_of_the_defaults(tmp_path: Path) -> None:
    # The case: extra.yaml alone has no PK0001, the defaults do.
    extra = write(
        tmp_path, "extra.yaml", "quectel:\n  devices: [{productKey: PK0001, deviceKey: X1}]\n"
    )

    doc = load_fixture_files([DEFAULT_FIXTURES, extra])

    assert ("PK0001", "X1") in {(d.product_key, d.device_key) for d in doc.quectel.devices}
    assert "PK0001" in {p.product_key for p in doc.quectel.products}


def test_an_org_named_again_gets_the_new_device_and_keeps_the_rest(tmp_path: Path) -> None:
    extra = write(
        tmp_path, "extra.yaml",
        f"enos:\n  orgs:\n    - orgId: {ORG}\n"
        "      devices: [{productKey: Vu82Agp3, deviceKey: inv-1}]\n",
    )  # fmt: skip
    defaults = load_fixture_files([DEFAULT_FIXTURES])

    doc = load_fixture_files([DEFAULT_FIXTURES, extra])

    assert [o.org_id for o in doc.enos.orgs] == [o.org_id for o in defaults.enos.orgs]
    (org,) = [o for o in doc.enos.orgs if o.org_id == ORG]
    (before,) = [o for o in defaults.enos.orgs if o.org_id == ORG]
    assert org.name == before.name
    assert org.products == before.products
    assert [d.device_key for d in org.devices] == [d.device_key for d in before.devices] + ["inv-1"]


def test_a_later_file_updates_only_the_fields_it_sets(tmp_path: Path) -> None:
    extra = write(
        tmp_path, "quota.yaml",
        f"enos:\n  orgs:\n    - orgId: {ORG}\n"
        "      products: [{productKey: Vu82Agp3, deviceQuota: 5}]\n"
        "mcs:\n  products: [{prodId: a1234567890, requiresSerial: true}]\n",
    )  # fmt: skip

    doc = load_fixture_files([DEFAULT_FIXTURES, extra])

    (org,) = [o for o in doc.enos.orgs if o.org_id == ORG]
    (product,) = org.products
    assert (product.name, product.device_quota) == ("Demo inverter", 5)
    (mcs_product,) = [p for p in doc.mcs.products if p.prod_id == "a1234567890"]
    assert (mcs_product.owner, mcs_product.requires_serial) == ("u0000000001", True)


def test_a_reference_may_point_at_a_later_file(tmp_path: Path) -> None:
    devices = write(
        tmp_path, "devices.yaml", "quectel:\n  devices: [{productKey: PKLATE, deviceKey: d}]\n"
    )
    products = write(tmp_path, "products.yaml", "quectel:\n  products: [{productKey: PKLATE}]\n")

    doc = load_fixture_files([devices, products])

    assert [d.product_key for d in doc.quectel.devices] == ["PKLATE"]


def test_a_dangling_reference_names_the_file_and_its_entry(tmp_path: Path) -> None:
    extra = write(
        tmp_path, "extra.yaml",
        "quectel:\n  devices:\n    - {productKey: PK0001, deviceKey: fine}\n"
        "    - {productKey: PKNONE, deviceKey: lost}\n",
    )  # fmt: skip

    with pytest.raises(FixtureError) as raised:
        load_fixture_files([DEFAULT_FIXTURES, extra])

    assert str(raised.value) == f"{extra}: quectel.devices[1].productKey: unknown product 'PKNONE'"


def test_a_new_entry_missing_a_field_names_its_file(tmp_path: Path) -> None:
    extra = write(tmp_path, "extra.yaml", "mcs:\n  products: [{prodId: fresh, name: no owner}]\n")

    with pytest.raises(FixtureError) as raised:
        load_fixture_files([DEFAULT_FIXTURES, extra])

    assert str(raised.value) == f"{extra}: mcs.products[0].owner: Field required"


def test_an_entry_defined_twice_in_one_file_is_refused(tmp_path: Path) -> None:
    twice = write(
        tmp_path, "twice.yaml",
        "quectel:\n  products:\n    - {productKey: PKA}\n    - {productKey: PKB}\n"
        "    - {productKey: PKA, name: again}\n",
    )  # fmt: skip

    with pytest.raises(FixtureError) as raised:
        load_fixture_files([twice])

    assert str(raised.value) == (
        f"{twice}: quectel.products[2]: productKey 'PKA' is defined twice"
        " (also quectel.products[0])"
    )


def test_users_of_one_user_domain_are_two_entries(tmp_path: Path) -> None:
    # A Quectel user is named by its email: the user domain it names too is shared.
    more = write(
        tmp_path, "users.yaml",
        "quectel:\n  users:\n"
        "    - {email: a@example.com, password: pa, userDomain: E.SP.4294967001}\n"
        "    - {email: b@example.com, password: pb, userDomain: E.SP.4294967001}\n",
    )  # fmt: skip

    doc = load_fixture_files([DEFAULT_FIXTURES, more])

    emails = [u.email for u in doc.quectel.users]
    assert {"a@example.com", "b@example.com", "demo.user@example.com"} <= set(emails)
    assert len(emails) == len(set(emails))


def test_snake_case_names_merge_with_camel_case_ones(tmp_path: Path) -> None:
    extra = write(
        tmp_path, "snake.yaml",
        "mcs:\n  products: [{prod_id: a1234567890, requires_serial: true}]\n",
    )  # fmt: skip

    doc = load_fixture_files([DEFAULT_FIXTURES, extra])

    assert [p.prod_id for p in doc.mcs.products].count("a1234567890") == 1
    (product,) = [p for p in doc.mcs.products if p.prod_id == "a1234567890"]
    assert product.requires_serial is True


@pytest.mark.parametrize("how", ["options", "environment"])
def test_serve_layers_the_files_it_is_given(tmp_path: Path, how: str) -> None:
    # The README's recipes: `--fixtures :default: --fixtures my.yaml`, and the Docker one,
    # EMULATOR_FIXTURES=<the default file>,<yours>.
    write(tmp_path, "my.yaml", "quectel:\n  devices: [{productKey: PK0001, deviceKey: MINE}]\n")
    port = free_port()
    args = ["serve", "--port", str(port), "--db", ":memory:"]
    env = {}
    if how == "options":
        args += ["--fixtures", DEFAULTS, "--fixtures", "my.yaml"]
    else:
        env["EMULATOR_FIXTURES"] = f"{DEFAULT_FIXTURES},my.yaml"
    process = start(args, cwd=tmp_path, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, process)
        listed = calls.get(f"{url}/_emulator/devices", params={"productKey": "PK0001"}).json()
        products = calls.get(f"{url}/_emulator/products", params={"vendor": "quectel"}).json()
    finally:
        stop(process)

    assert "MINE" in [d["deviceKey"] for d in listed["devices"]]
    assert {"PK0001", "PKAEP01", "PKGW01"} <= {p["productKey"] for p in products["products"]}
