"""Logs of ``iot-emulator serve``: JSON lines on demand, access log on or off."""

from __future__ import annotations

import json
import logging
import signal
import sys
from pathlib import Path

import httpx
import pytest

from emulator.core.logs import JsonFormatter, LogSettings, log_config
from emulator.testing import free_port
from tests.processes import start, wait_healthy


def serve_and_read_output(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> str:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = start(
        ["serve", *args],
        cwd=tmp_path,
        env={"EMULATOR_PORT": str(port), "EMULATOR_DB": ":memory:", **(env or {})},
    )
    try:
        wait_healthy(url, process)
        httpx.get(f"{url}/_emulator/devices", params={"vendor": "enos"})
    finally:
        process.send_signal(signal.SIGTERM)
        output = process.communicate(timeout=30)[0].decode()
    return output


def test_json_format_writes_one_object_per_line_with_access_fields(tmp_path: Path) -> None:
    output = serve_and_read_output(tmp_path, "--log-format", "json")

    records = [json.loads(line) for line in output.splitlines() if line.strip()]
    access = [r for r in records if r["logger"] == "uvicorn.access"]

    assert access, output
    devices = [r for r in access if r["path"].startswith("/_emulator/devices")]
    assert devices[0]["method"] == "GET"
    assert devices[0]["status"] == 200
    assert {"time", "level", "message"} <= set(devices[0])
    assert any(r["message"].startswith("iot-emulator ") for r in records)


def test_access_log_can_be_turned_off_by_variable(tmp_path: Path) -> None:
    output = serve_and_read_output(tmp_path, env={"EMULATOR_ACCESS_LOG": "false"})

    assert "/_emulator/health" not in output
    assert "Application startup complete" in output


def test_access_log_is_on_by_default_in_text(tmp_path: Path) -> None:
    output = serve_and_read_output(tmp_path)

    assert '"GET /_emulator/devices?vendor=enos HTTP/1.1" 200' in output


def test_json_formatter_keeps_extra_fields_and_exceptions() -> None:
    record = logging.LogRecord("emulator.x", logging.ERROR, __file__, 1, "boom %s", ("now",), None)
    record.operation = "enos.connect.create_device"
    try:
        raise ValueError("bad")
    except ValueError:
        record.exc_info = sys.exc_info()

    out = json.loads(JsonFormatter().format(record))

    assert out["message"] == "boom now"
    assert out["level"] == "error"
    assert out["operation"] == "enos.connect.create_device"
    assert "ValueError: bad" in out["exception"]


def test_log_settings_read_emulator_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EMULATOR_LOG_FORMAT", "json")
    monkeypatch.setenv("EMULATOR_ACCESS_LOG", "0")

    settings = LogSettings()

    assert (settings.log_format, settings.access_log) == ("json", False)
    assert log_config("debug", "json")["loggers"]["emulator"]["level"] == "DEBUG"
