"""``iot-emulator fleet``: devices written straight into the database, served by the APIs."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from emulator.app import build_emulator, create_app
from emulator.cli import main
from emulator.config import Settings
from emulator.core import registry
from emulator.fleet import FleetError, FleetSpec, generate
from emulator.testing import serve_in_thread
from tests import calls
from tests.conftest import opened_database

ORG = "o15475450989191"
HEADERS = {"apim-accesstoken": "any-well-formed-token"}
_D = registry.devices


def fleet(db: Path, *args: str) -> str:
    result = CliRunner().invoke(main, ["fleet", "--db", str(db), *args])
    assert result.exit_code == 0, result.output
    return result.output


def count(db: Path, vendor: str, namespace: str = "default", *, online: bool | None = None) -> int:
    emulator = build_emulator(Settings(db=str(db)))
    where = [_D.c.namespace == namespace, _D.c.vendor == vendor]
    if online is not None:
        where.append(_D.c.online == online)
    with emulator.engine.connect() as conn:
        total: int = conn.execute(select(func.count()).select_from(_D).where(*where)).scalar_one()
    emulator.engine.dispose()
    return total


def test_a_fleet_of_100000_devices_is_served_by_the_vendor_api(tmp_path: Path) -> None:
    db = tmp_path / "fleet.db"

    output = fleet(db, "--vendor", "enos", "--product", "Vu82Agp3", "--count", "100000",
                   "--online", "0.25", "--seed", "7")  # fmt: skip

    assert "added 100000 enos devices" in output
    assert count(db, "enos") == 100_000
    assert count(db, "enos", online=True) == 25_000
    with serve_in_thread(create_app(Settings(db=str(db)))) as url:
        got = calls.get(
            f"{url}/connect-service/v2.1/devices",
            params={"action": "get", "orgId": ORG, "productKey": "Vu82Agp3",
                    "deviceKey": "fleet0100000"},
            headers=HEADERS,
        ).json()  # fmt: skip
        listed = calls.get(
            f"{url}/_emulator/devices", params={"vendor": "enos", "online": "true", "limit": 10}
        ).json()
    assert got["code"] == 0, got
    assert got["data"]["status"] == "online"
    assert got["data"]["deviceName"]["defaultValue"] == "fleet0100000"
    assert len(got["data"]["deviceSecret"]) == 20
    assert len(listed["devices"]) == 10


def test_the_enos_quota_is_raised_so_the_api_still_creates_devices(tmp_path: Path) -> None:
    db = tmp_path / "quota.db"

    output = fleet(db, "--vendor", "enos", "--product", "Vu82Agp3", "--count", "10000", "-q")

    assert "device quota is now 10000" not in output  # exactly the default quota: unchanged
    fleet(db, "--vendor", "enos", "--product", "Vu82Agp3", "--count", "5", "-q")
    with serve_in_thread(create_app(Settings(db=str(db)))) as url:
        created = calls.post(
            f"{url}/connect-service/v2.1/devices",
            params={"action": "create", "orgId": ORG},
            json={"productKey": "Vu82Agp3", "timezone": "+08:00",
                  "deviceName": {"defaultValue": "x"}},
            headers=HEADERS,
        ).json()  # fmt: skip
    # The fleet filled the quota it raised: the API answers the documented 11739.
    assert created["code"] == 11739


def test_a_second_run_continues_the_numbering(tmp_path: Path) -> None:
    db = tmp_path / "again.db"

    fleet(db, "--vendor", "quectel", "--product", "PK0001", "--count", "3", "-q")
    output = fleet(db, "--vendor", "quectel", "--product", "PK0001", "--count", "2", "-q")

    assert "fleet0000004 .. fleet0000005" in output
    assert count(db, "quectel") == 5 + _baseline_devices(db, "quectel")


def _baseline_devices(db: Path, vendor: str) -> int:
    emulator = build_emulator(Settings(db=str(tmp := db.with_name("baseline.db"))))
    emulator.engine.dispose()
    return count(tmp, vendor)


def test_the_same_seed_gives_the_same_secrets(tmp_path: Path) -> None:
    secrets = []
    for name in ("a.db", "b.db"):
        db = tmp_path / name
        fleet(db, "--vendor", "mcs", "--product", "a1234567890", "--count", "50", "--seed", "3")
        with opened_database(str(db), seed=None) as conn:
            secrets.append(
                conn.execute(
                    select(_D.c.device_key, _D.c.secret)
                    .where(_D.c.vendor == "mcs", _D.c.device_key.like("fleet%"))
                    .order_by(_D.c.device_key)
                ).all()
            )

    assert len(secrets[0]) == 50
    assert secrets[0] == secrets[1]


def test_a_fleet_goes_into_a_running_emulator(tmp_path: Path) -> None:
    db = tmp_path / "running.db"
    with serve_in_thread(create_app(Settings(db=str(db)))) as url:
        before = calls.get(f"{url}/_emulator/devices", params={"vendor": "quectel"}).json()

        fleet(db, "--vendor", "quectel", "--product", "PK0001", "--count", "300",
              "--online", "1", "--batch-size", "100", "-q")  # fmt: skip
        after = calls.get(
            f"{url}/_emulator/devices", params={"vendor": "quectel", "online": "true"}
        ).json()

    assert not any(d["deviceKey"].startswith("fleet") for d in before["devices"])
    assert sum(d["deviceKey"].startswith("fleet") for d in after["devices"]) == 300


def test_a_new_namespace_gets_its_baseline_first(tmp_path: Path) -> None:
    db = tmp_path / "ns.db"

    fleet(db, "--vendor", "quectel", "--product", "PK0001", "--count", "10", "--namespace",
          "load", "-q")  # fmt: skip

    assert count(db, "quectel", "load") == 10 + _baseline_devices(db, "quectel")


def test_an_unknown_product_is_refused_naming_the_products_there_are(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main,
        ["fleet", "--db", str(tmp_path / "x.db"), "--vendor", "enos", "--product", "nope",
         "--count", "1"],
    )  # fmt: skip

    assert result.exit_code == 2
    assert "no enos product 'nope'" in result.output
    assert "Vu82Agp3" in result.output


def test_an_in_memory_database_is_refused() -> None:
    result = CliRunner().invoke(
        main, ["fleet", "--db", ":memory:", "--vendor", "enos", "--product", "P", "--count", "1"]
    )

    assert result.exit_code == 2
    assert ":memory:" in result.output


def test_generate_checks_its_spec(tmp_path: Path) -> None:
    emulator = build_emulator(Settings(db=str(tmp_path / "spec.db")))
    try:
        with pytest.raises(FleetError, match="online share"):
            generate(emulator.engine, FleetSpec("enos", "Vu82Agp3", 1, online_share=2))
        with pytest.raises(FleetError, match="unknown vendor"):
            generate(emulator.engine, FleetSpec("acme", "Vu82Agp3", 1))
    finally:
        emulator.engine.dispose()


def test_command_traffic_reaches_online_devices_and_waits_for_offline_ones(tmp_path: Path) -> None:
    db = tmp_path / "commands.db"

    output = fleet(db, "--vendor", "quectel", "--product", "PK0001", "--count", "1000",
                   "--online", "0.5", "--commands", "1500", "--seed", "5", "-q")  # fmt: skip

    # Every second device is online; the first 500 devices get two commands each.
    assert "sent 1500 commands: 750 cached, 750 sent in " in output
    with serve_in_thread(create_app(Settings(db=str(db)))) as url:
        online = calls.get(f"{url}/_emulator/devices/quectel/PK0001/fleet0000002/commands").json()
        offline = f"{url}/_emulator/devices/quectel/PK0001/fleet0000001"
        before = calls.get(f"{offline}/commands").json()
        calls.post(f"{offline}/online")
        after = calls.get(f"{offline}/commands").json()
        listed = calls.get(f"{url}/_emulator/commands", params={"state": "sent"}).json()

    assert [c["payload"]["data"] for c in online["commands"]] == ['[{"switch":true}]'] * 2
    assert before["commands"] == []
    assert len(after["commands"]) == 2
    assert listed["total"] == 752  # the 750, and the two delivered on connection


def test_command_traffic_is_for_quectel_only(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main,
        ["fleet", "--db", str(tmp_path / "c.db"), "--vendor", "enos", "--product", "Vu82Agp3",
         "--count", "1", "--commands", "1"],
    )  # fmt: skip

    assert result.exit_code == 2
    assert "quectel only" in result.output
