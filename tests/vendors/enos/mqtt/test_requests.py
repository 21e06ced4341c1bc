"""Requests the platform refuses on their reply topic with a documented code (ENOS-DEVICES.md
§3, "Common Return Codes"), sent by a device speaking MQTT directly: the SDK never sends
them."""

from __future__ import annotations

from typing import Any

from tests.vendors.enos.mqtt.conftest import SDK_WARNINGS, Live
from tests.vendors.enos.mqtt.raw import raw_device, request

pytestmark = SDK_WARNINGS

BATCH = "thing/measurepoint/post/batch"


def test_a_batch_entry_naming_its_device_with_no_string_is_a_payload_format_error(
    live: Live,
) -> None:
    device = live.create_device()
    pk, dk = device["productKey"], device["deviceKey"]
    entries: list[dict[str, Any]] = [
        {"productKey": [pk], "deviceKey": dk},
        {"productKey": {"pk": pk}, "deviceKey": dk},
        {"productKey": pk, "deviceKey": 42},
        {"productKey": pk, "deviceKey": [dk]},
    ]
    with raw_device(live, device) as raw:
        topic = raw.base + BATCH
        raw.subscribe(topic + "_reply")
        for n, entry in enumerate(entries):
            params = [{**entry, "measurepoints": {"temp": n}}]
            reply_topic, reply = raw.publish(
                topic, request(str(n), "thing.measurepoint.post.batch", params)
            )
            assert reply_topic == topic + "_reply"
            assert (reply["id"], reply["code"]) == (str(n), 1220), (entry, reply)
            assert reply["message"].startswith("Payload format error: "), reply
        # The device's own entry (no keys: the topic's device) is still taken.
        params = [{"measurepoints": {"temp": 7}}]
        _, reply = raw.publish(topic, request("ok", "thing.measurepoint.post.batch", params))
        assert (reply["id"], reply["code"]) == ("ok", 200)
    answer = live.http.get(
        "/_emulator/requests", params={"operation": "enos.mqtt.measurepoint_post_batch"}
    )
    codes = sorted(entry["vendorCode"] for entry in answer.json()["requests"])
    assert codes == [200] + [1220] * len(entries)
    assert live.device(pk, dk)["attrs"]["measurepoints"]["temp"]["value"] == 7
