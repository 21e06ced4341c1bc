"""Snapshots: `GET/PUT /_emulator/state`, `POST /_emulator/fixtures`, `POST /_emulator/reset`."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from tests.conftest import Client
from tests.control.helpers import CREATE, create_device, enos_device_keys
from tests.vendors.enos.helpers import PRODUCT

ORG = "o15475450989191"


def state(client: Client) -> dict[str, Any]:
    response = client.get("/_emulator/state")
    assert response.status_code == 200
    document: dict[str, Any] = response.json()
    return document


def devices(client: Client) -> list[dict[str, Any]]:
    listed: list[dict[str, Any]] = client.get("/_emulator/devices").json()["devices"]
    return listed


def test_export_reset_import_round_trips_exactly(client: Client) -> None:
    create_device(client, "kept-1")
    generated = create_device(client)["data"]["deviceKey"]
    client.post(f"/_emulator/devices/enos/{PRODUCT}/kept-1/online")
    client.post(f"/_emulator/devices/enos/{PRODUCT}/kept-1/offline")
    client.post(f"/_emulator/devices/enos/{PRODUCT}/{generated}/online")
    exported, before = state(client), devices(client)

    client.post("/_emulator/reset")
    assert "kept-1" not in enos_device_keys(client)
    imported = client.put("/_emulator/state", json=exported)

    assert imported.status_code == 200
    assert state(client) == exported
    assert devices(client) == before


def test_the_default_state_round_trips(client: Client) -> None:
    exported = state(client)

    client.put("/_emulator/state", json=exported)

    assert state(client) == exported
    assert "tables" not in exported  # every baseline row has its place in the fixture format


def test_the_export_is_in_the_fixture_format(client: Client) -> None:
    create_device(client, "in-the-org")

    exported = state(client)

    (org,) = [o for o in exported["enos"]["orgs"] if o["orgId"] == ORG]
    (device,) = [d for d in org["devices"] if d["deviceKey"] == "in-the-org"]
    assert device["productKey"] == PRODUCT
    assert device["attrs"]["timezone"] == "+08:00"
    assert exported["enos"]["accessKeys"][0]["accessKey"] == "5acb82e7-a11e-4300-9164-c8b20b638e8b"


def test_a_state_can_move_to_another_namespace(
    client: Client, root_client: Client, namespace: str
) -> None:
    create_device(client, "travels")
    exported = state(client)
    other = {"X-Emulator-Namespace": f"{namespace}-copy"}

    root_client.put("/_emulator/state", json=exported, headers=other)

    assert root_client.get("/_emulator/state", headers=other).json() == exported


def test_the_export_as_yaml_imports_back(client: Client) -> None:
    create_device(client, "yaml-dev")
    text = client.get("/_emulator/state", params={"format": "yaml"}).text
    exported = state(client)
    client.post("/_emulator/reset")

    response = client.put(
        "/_emulator/state", content=text.encode(), headers={"Content-Type": "application/yaml"}
    )

    assert response.status_code == 200
    assert yaml.safe_load(text) == exported
    assert state(client) == exported


def test_import_replaces_everything(client: Client) -> None:
    create_device(client, "replaced")

    client.put("/_emulator/state", json={"enos": {"orgs": [{"orgId": "only-org"}]}})

    assert state(client) == {"enos": {"orgs": [{"orgId": "only-org"}]}}
    assert enos_device_keys(client) == []


def test_an_issued_token_survives_an_import(client: Client) -> None:
    from tests.vendors.enos.helpers import token_body

    token = client.post("/apim-token-service/v2.0/token/get", json=token_body()).json()
    client.put("/_emulator/state", json=state(client))

    again = client.post("/apim-token-service/v2.0/token/get", json=token_body()).json()

    assert again["data"]["accessToken"] == token["data"]["accessToken"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{not json", "not valid JSON or YAML"),
        (b'{"enos": {"orgz": []}}', "enos.orgz"),
        (
            b'{"quectel": {"devices": [{"productKey": "nope", "deviceKey": "d"}]}}',
            "unknown product",
        ),
        (b'{"tables": {"no_such_table": []}}', "unknown table"),
        (b'{"tables": {"commands": [{"nonsense": 1}]}}', "unknown columns"),
        (b"[1, 2]", "(document)"),
    ],
)
def test_an_invalid_document_returns_400_and_changes_nothing(
    client: Client, body: bytes, message: str
) -> None:
    create_device(client, "still-here")

    response = client.put(
        "/_emulator/state", content=body, headers={"Content-Type": "application/json"}
    )

    assert response.status_code == 400
    assert message in response.json()["error"]["message"]
    assert "still-here" in enos_device_keys(client)


FIXTURE_YAML = f"""
enos:
  orgs:
    - orgId: {ORG}
      devices:
        - productKey: {PRODUCT}
          deviceKey: from-fixture
          secret: fixtureSecret0000001
quectel:
  products:
    - productKey: PKMERGED
      name: merged product
"""


def test_merge_fixtures_adds_entries_and_keeps_the_rest(client: Client) -> None:
    create_device(client, "created-before")
    org_name = [o for o in state(client)["enos"]["orgs"] if o["orgId"] == ORG][0]["name"]

    response = client.post(
        "/_emulator/fixtures",
        content=FIXTURE_YAML.encode(),
        headers={"Content-Type": "application/yaml"},
    )

    assert response.status_code == 200
    exported = state(client)
    (org,) = [o for o in exported["enos"]["orgs"] if o["orgId"] == ORG]
    assert org["name"] == org_name
    assert {"created-before", "from-fixture"} <= {d["deviceKey"] for d in org["devices"]}
    assert "PKMERGED" in [p["productKey"] for p in exported["quectel"]["products"]]
    assert "PK0001" in [p["productKey"] for p in exported["quectel"]["products"]]


def test_merge_fixtures_updates_an_entry_with_the_same_identity(client: Client) -> None:
    create_device(client, "renamed")
    update = {
        "enos": {
            "orgs": [
                {
                    "orgId": ORG,
                    "devices": [
                        {
                            "productKey": PRODUCT,
                            "deviceKey": "renamed",
                            "name": "new name",
                            "online": True,
                        }
                    ],
                }
            ]
        }  # fmt: skip
    }

    client.post("/_emulator/fixtures", json=update)

    (device,) = [d for d in devices(client) if d["deviceKey"] == "renamed"]
    assert (device["name"], device["online"]) == ("new name", True)
    assert enos_device_keys(client).count("renamed") == 1


def test_merge_fixtures_updates_only_the_fields_it_sets(client: Client) -> None:
    # The README: an entry with the identity of an existing one updates "only the fields it
    # sets": its required fields (a product's owner, a user's password) are not asked again.
    update = {
        "mcs": {"products": [{"prodId": "a1234567890", "requiresSerial": True}]},
        "quectel": {
            "users": [
                {
                    "email": "demo.user@example.com",
                    "devices": [{"productKey": "PK0001", "deviceKey": "DK00003"}],
                }
            ]
        },
    }
    before = state(client)

    response = client.post("/_emulator/fixtures", json=update)

    assert response.status_code == 200, response.text
    after = state(client)
    (product,) = [p for p in after["mcs"]["products"] if p["prodId"] == "a1234567890"]
    (old_product,) = [p for p in before["mcs"]["products"] if p["prodId"] == "a1234567890"]
    assert product == {**old_product, "requiresSerial": True}
    (user,) = [u for u in after["quectel"]["users"] if u["email"] == "demo.user@example.com"]
    (old_user,) = [u for u in before["quectel"]["users"] if u["email"] == "demo.user@example.com"]
    assert user["password"] == old_user["password"]
    assert user["userDomain"] == old_user["userDomain"]
    assert user["devices"] == [
        *old_user["devices"], {"productKey": "PK0001", "deviceKey": "DK00003"}
    ]  # fmt: skip


def test_merge_fixtures_still_needs_every_field_of_a_new_entry(client: Client) -> None:
    body = {"mcs": {"products": [{"prodId": "brand-new", "name": "no owner"}]}}

    response = client.post("/_emulator/fixtures", json=body)

    assert response.status_code == 400
    assert response.json()["error"]["message"].startswith(
        "POST /fixtures: mcs.products[0].owner: Field required"
    )


def test_merge_fixtures_refuses_an_entry_listed_twice(client: Client) -> None:
    product = {"productKey": "PKTWICE"}
    body = {"quectel": {"products": [product, {**product, "name": "again"}]}}

    response = client.post("/_emulator/fixtures", json=body)

    assert response.status_code == 400
    assert response.json()["error"]["message"] == (
        "POST /fixtures: quectel.products[1]: productKey 'PKTWICE' is defined twice"
        " (also quectel.products[0])"
    )


def test_merge_fixtures_accepts_json(client: Client) -> None:
    body = {"mcs": {"apps": [{"appKey": "mergedApp", "appSecret": "merged-secret"}]}}

    response = client.post("/_emulator/fixtures", json=body)

    assert response.status_code == 200
    assert {"appKey": "mergedApp", "appSecret": "merged-secret"} in state(client)["mcs"]["apps"]


def test_merge_fixtures_with_a_dangling_reference_returns_400(client: Client) -> None:
    body = {"quectel": {"devices": [{"productKey": "missing", "deviceKey": "d"}]}}

    response = client.post("/_emulator/fixtures", json=body)

    assert response.status_code == 400
    assert "unknown product 'missing'" in response.json()["error"]["message"]


def test_reset_goes_back_to_the_baseline_and_clears_faults_and_journal(client: Client) -> None:
    baseline = state(client)
    create_device(client, "dropped")
    client.post("/_emulator/faults", json={"operation": CREATE, "code": 11714})

    client.post("/_emulator/reset")

    assert state(client) == baseline
    assert client.get("/_emulator/faults").json()["faults"] == []
    assert client.get("/_emulator/requests").json()["requests"] == []
