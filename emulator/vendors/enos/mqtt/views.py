"""What an EnOS device reported over MQTT, as tables on its dashboard page
(``Vendor.device_tables``): the latest value of each measure point, and the newest posts of
the bounded history :mod:`.store` keeps in the device's ``attrs``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from emulator.core.vendor import DeviceTable
from emulator.vendors.enos.mqtt.store import HISTORY_SIZE

# Posts the page shows, newest first (the store keeps HISTORY_SIZE): enough to see a trend
# without a drawer a hundred rows long.
HISTORY_SHOWN = 20


def device_tables(attrs: Mapping[str, Any]) -> list[DeviceTable]:
    tables = []
    latest = attrs.get("measurepoints")
    if isinstance(latest, dict) and latest:
        names = sorted(latest)
        rows = []
        for name in names:
            point = latest[name] if isinstance(latest[name], dict) else {}
            rows.append([name, point.get("value"), point.get("time")])
        tables.append(
            DeviceTable(
                id="measurepoints", title=f"Measure points ({len(names)})",
                columns=(("Point", "mono"), ("Value", "value"), ("Time", "time")),
                rows=rows, keys=names, note="latest value of each",
            )
        )  # fmt: skip
    history = attrs.get("measurepointHistory")
    if isinstance(history, list) and history:
        shown = [post for post in reversed(history[-HISTORY_SHOWN:]) if isinstance(post, dict)]
        tables.append(
            DeviceTable(
                id="measurepoint-history", title="Measure-point history",
                columns=(("Time", "time"), ("Received", "time"), ("Measure points", "value")),
                rows=[[p.get("time"), p.get("receivedAt"), p.get("measurepoints")] for p in shown],
                keys=[str(len(history) - i) for i in range(len(shown))],
                note=f"newest {len(shown)} of {len(history)} kept (at most {HISTORY_SIZE})",
            )
        )  # fmt: skip
    return tables
