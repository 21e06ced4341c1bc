"""The tables an EnOS device's dashboard page shows (``Vendor.device_tables``), from the
``attrs`` the MQTT uplink writes (mqtt/store.py); the browser tests show them on the page."""

from __future__ import annotations

from emulator.core import vendor
from emulator.vendors.enos.mqtt.views import HISTORY_SHOWN


def test_latest_points_sorted_and_history_newest_first_and_bounded() -> None:
    posts = [{"time": i, "receivedAt": i + 1, "measurepoints": {"n": i}} for i in range(30)]
    attrs = {"measurepoints": {"b": {"value": 2, "time": 9}, "a": {"value": 1, "time": 8}},
             "measurepointHistory": posts}  # fmt: skip
    derive = vendor.get("enos").device_tables
    assert derive is not None
    latest, history = derive(attrs)
    assert latest.keys == ["a", "b"]
    assert [list(r) for r in latest.rows] == [["a", 1, 8], ["b", 2, 9]]
    assert len(history.rows) == HISTORY_SHOWN
    assert list(history.rows[0]) == [29, 30, {"n": 29}]
    assert history.note.startswith(f"newest {HISTORY_SHOWN} of 30 kept")


def test_nothing_posted_gives_no_tables_and_junk_is_skipped() -> None:
    derive = vendor.get("enos").device_tables
    assert derive is not None
    assert derive({}) == []
    (latest,) = derive({"measurepoints": {"x": "junk"}, "measurepointHistory": []})
    assert [list(r) for r in latest.rows] == [["x", None, None]]
