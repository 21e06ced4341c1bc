"""The command line and the start-up path a user runs (`make run` is `python -m emulator serve`)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from emulator import __version__
from emulator.config import DEFAULT_FIXTURES, DEFAULTS, Settings
from emulator.testing import free_port
from tests import calls
from tests.processes import start, stop, wait_healthy
from tests.shapes import load_sample

SAMPLES = Path(__file__).parent / "vendors" / "enos" / "samples"


@pytest.fixture
def served(tmp_path: Path) -> Iterator[str]:
    """``python -m emulator serve`` on a free port, configured by EMULATOR_* variables only."""
    port = free_port()
    env = {"EMULATOR_PORT": str(port), "EMULATOR_DB": str(tmp_path / "state.db")}
    process = start(["serve"], cwd=tmp_path, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, process)
        yield url
    finally:
        stop(process)


def test_serve_answers_the_create_device_doc_sample(served: str) -> None:
    sample = load_sample(SAMPLES / "create_device.request.json")

    response = calls.post(
        f"{served}/connect-service/v2.1/devices?action=create&orgId=o15475450989191",
        json=sample,
        headers={"apim-accesstoken": "any-well-formed-token"},
    )

    assert response.json()["code"] == 0


def test_state_survives_a_restart(tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    args = ["serve", "--port", str(port), "--db", str(tmp_path / "keep.db")]
    created = None
    for _ in range(2):
        process = start(args, cwd=tmp_path)
        try:
            wait_healthy(url, process)
            if created is None:
                created = calls.post(
                    f"{url}/connect-service/v2.1/devices?action=create&orgId=o15475450989191",
                    json={
                        "productKey": "Vu82Agp3",
                        "timezone": "+08:00",
                        "deviceName": {"defaultValue": "d"},
                    },
                    headers={"apim-accesstoken": "any-well-formed-token"},
                ).json()["data"]
            listed = calls.get(f"{url}/_emulator/devices", params={"vendor": "enos"}).json()
        finally:
            stop(process)
    assert created is not None
    assert [d["assetId"] for d in listed["devices"]] == [created["assetId"]]


def test_invalid_fixture_stops_start_up_naming_file_entry_and_field(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "enos:\n  orgs:\n    - orgId: o1\n      products:\n"
        "        - productKey: P1\n          deviceQuota: lots\n"
    )

    process = start(["serve", "--db", ":memory:", "--fixtures", str(bad)], cwd=tmp_path)
    output = process.communicate(timeout=30)[0].decode()

    assert process.returncode == 2
    assert str(bad) in output
    assert "enos.orgs[0].products[0].deviceQuota" in output


def test_version_option_prints_the_version(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "emulator", "--version"], capture_output=True, check=True
    )

    assert __version__ in result.stdout.decode()


def test_settings_read_emulator_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EMULATOR_PORT", "18080")
    monkeypatch.setenv("EMULATOR_AUTH", "strict")
    monkeypatch.setenv("EMULATOR_FIXTURES", "a.yaml, b.yaml")

    settings = Settings()

    assert (settings.port, settings.auth) == (18080, "strict")
    assert [p.name for p in settings.fixtures] == ["a.yaml", "b.yaml"]


def test_the_defaults_token_names_the_default_fixtures(monkeypatch: pytest.MonkeyPatch) -> None:
    mine = Path("mine.yaml")

    assert Settings(fixtures=[Path(DEFAULTS), mine]).fixtures == [DEFAULT_FIXTURES, mine]
    monkeypatch.setenv("EMULATOR_FIXTURES", f"{DEFAULTS},mine.yaml")
    assert Settings().fixtures == [DEFAULT_FIXTURES, mine]
    # A list without it replaces the defaults, as before.
    assert Settings(fixtures=[mine]).fixtures == [mine]
