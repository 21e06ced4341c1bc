"""An emulator with its EnOS MQTT listener, for tests that drive a real device SDK.

Each test gets its own emulator: a real server (lifespan on, so the listener starts) on a free
HTTP port and a free MQTT port, so parallel workers never share a port or a device.
"""

from __future__ import annotations

import itertools
import logging
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from emulator.app import create_app
from emulator.core.context import Emulator
from emulator.testing import free_port, serve_in_thread
from tests.conftest import DATABASE_URL, _settings, drop_schemas
from tests.vendors.enos.helpers import HEADERS, devices_url

_schemas = itertools.count()

pytest.importorskip("enos.core.MqttClient", reason="the EnOS device SDK (dev extras) is absent")

# paho-mqtt 2 warns that the SDK uses its version-1 callback API: the SDK's business, not ours.
SDK_WARNINGS = pytest.mark.filterwarnings(
    "ignore:Callback API version 1 is deprecated:DeprecationWarning"
)


@dataclass
class Live:
    http: httpx.Client
    mqtt_url: str
    mqtt_port: int
    # The emulator behind them, for a test that breaks its database.
    emulator: Emulator | None = None

    def create_device(self, **body: Any) -> dict[str, Any]:
        body = {"productKey": "Vu82Agp3", "timezone": "+08:00",
                "deviceName": {"defaultValue": "mqtt device"}, **body}  # fmt: skip
        answer = self.http.post(devices_url("create"), json=body, headers=HEADERS).json()
        assert answer["code"] == 0, answer
        data: dict[str, Any] = answer["data"]
        return data

    def status(self, asset_id: str) -> str:
        answer = self.http.get(devices_url("get", assetId=asset_id), headers=HEADERS).json()
        assert answer["code"] == 0, answer
        return str(answer["data"]["status"])

    def device(self, pk: str, dk: str) -> dict[str, Any]:
        found = self.http.get("/_emulator/devices", params={"vendor": "enos", "productKey": pk})
        for device in found.json()["devices"]:
            if device["deviceKey"] == dk:
                return dict(device)
        raise AssertionError(f"no device {pk}/{dk}")


@pytest.fixture
def live(tmp_path: Path) -> Iterator[Live]:
    schema = f"mqtt_{os.getpid()}_{next(_schemas)}" if DATABASE_URL else None
    mqtt_port = free_port()
    settings = _settings(tmp_path, schema, mqtt_port=mqtt_port)
    app = create_app(settings)
    try:
        with serve_in_thread(app, lifespan=True) as url, httpx.Client(base_url=url) as http:
            yield Live(http, f"tcp://127.0.0.1:{mqtt_port}", mqtt_port, app.state.emulator)
    finally:
        app.state.emulator.dispose()
        if schema:
            drop_schemas(schema)


class LogEvent(logging.Handler):
    """Set when a record containing ``text`` is logged (the SDK reports a refused login only
    in its log)."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text
        self.event = threading.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if self.text in record.getMessage():
            self.event.set()
