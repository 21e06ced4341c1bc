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


UNSUPPORTED = "enos.mqtt.unsupported_topic"


def test_an_unsupported_topic_answers_1009_under_one_operation_faults_and_reports_know(
    live: Live,
) -> None:
    device = live.create_device()
    pk, dk = device["productKey"], device["deviceKey"]
    with raw_device(live, device) as raw:
        topics = [
            raw.base + "thing/foo",
            f"/ext/session/{pk}/{dk}/combine/foo/bar",
            raw.base + "thing/event/a/b/post",  # not thing/event/{eventId}/post
        ]
        raw.subscribe(*(topic + "_reply" for topic in topics))
        for n, topic in enumerate(topics):
            reply_topic, reply = raw.publish(topic, request(str(n), "thing.foo", {}))
            assert reply_topic == topic + "_reply"
            assert reply == {
                "id": str(n), "code": 1009, "data": {},
                "message": f"Publish to topic with no write permission: unsupported topic {topic}",
            }  # fmt: skip
        # A fault aims at them as at any operation.
        armed = live.http.post(
            "/_emulator/faults",
            json={"operation": UNSUPPORTED, "code": 1220, "deviceKey": dk, "times": 1},
        )
        assert armed.status_code == 201, armed.json()
        _, reply = raw.publish(topics[0], request("f", "thing.foo", {}))
        assert (reply["id"], reply["code"]) == ("f", 1220)
    journal = live.http.get("/_emulator/requests").json()["requests"]
    published = [entry for entry in journal if entry["method"] == "PUBLISH"]
    assert {entry["operation"] for entry in published} == {UNSUPPORTED}
    # The topic stays in the entry.
    assert sorted(entry["path"] for entry in published) == sorted([*topics, topics[0]])
    assert sorted(entry["vendorCode"] for entry in published) == [1009, 1009, 1009, 1220]
    report = live.http.get("/_emulator/coverage", params={"vendor": "enos"}).json()
    called = {op["id"]: op for op in report["operations"]}
    assert called[UNSUPPORTED]["requests"] == 4
    assert called[UNSUPPORTED]["seen"] == [
        {"code": 1009, "requests": 3, "injected": 0, "faultOnly": False},
        {"code": 1220, "requests": 1, "injected": 1, "faultOnly": False},
    ]
    assert called[UNSUPPORTED]["undocumented"] == []
