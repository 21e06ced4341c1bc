"""A request the emulator fails to handle (a bug of ours) is still answered on its reply
topic, in EnOS's reply format with the internal-error code, journalled with the error and
logged once; the device's connection stays usable."""

from __future__ import annotations

import json
import logging
import queue
from typing import Any

import pytest

from tests.vendors.enos.mqtt.conftest import SDK_WARNINGS, Live
from tests.vendors.enos.mqtt.test_login import WAIT_S, paho_client

pytestmark = SDK_WARNINGS

BATCH = "thing/measurepoint/post/batch"
POST = "thing/measurepoint/post"


def _request(message_id: str, method: str, params: Any) -> bytes:
    return json.dumps(
        {"id": message_id, "version": "1.0", "method": method, "params": params}
    ).encode()


def test_a_handler_that_raises_answers_99500_and_the_connection_goes_on(
    live: Live, caplog: pytest.LogCaptureFixture
) -> None:
    device = live.create_device()
    pk, dk = device["productKey"], device["deviceKey"]
    replies: queue.Queue[tuple[str, dict[str, Any]]] = queue.Queue()
    connected: queue.Queue[int] = queue.Queue()
    client = paho_client(live, pk, dk, device["deviceSecret"])
    client.on_connect = lambda _c, _u, _f, rc: connected.put(rc)
    subscribed: queue.Queue[bool] = queue.Queue()
    client.on_subscribe = lambda _c, _u, _mid, _granted: subscribed.put(True)
    client.on_message = lambda _c, _u, m: replies.put((m.topic, json.loads(m.payload)))
    client.connect("127.0.0.1", live.mqtt_port)
    client.loop_start()
    try:
        assert connected.get(timeout=WAIT_S) == 0
        base = f"/sys/{pk}/{dk}/"
        client.subscribe([(base + BATCH + "_reply", 0), (base + POST + "_reply", 0)])
        assert subscribed.get(timeout=WAIT_S)
        # A real input path to a bug: a batch entry naming its device with a list as the
        # productKey reaches a set lookup of the batch handler (unhashable: TypeError), past
        # every documented check. Should that handler learn to refuse it (1220), this test
        # needs another path to an unexpected error.
        bad = [{"productKey": [pk], "deviceKey": dk, "measurepoints": {"temp": 1}}]
        with caplog.at_level(logging.ERROR, logger="emulator"):
            client.publish(base + BATCH, _request("7", "thing.measurepoint.post.batch", bad))
            topic, reply = replies.get(timeout=WAIT_S)
        assert topic == base + BATCH + "_reply"
        assert (reply["id"], reply["code"], reply["data"]) == ("7", 99500, {})
        assert reply["message"].startswith("Internal Server Error: TypeError")
        errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
        assert len(errors) == 1
        assert base + BATCH in errors[0].getMessage()
        # The same connection still works.
        client.publish(
            base + POST, _request("8", "thing.measurepoint.post", {"measurepoints": {"temp": 2}})
        )
        topic, reply = replies.get(timeout=WAIT_S)
        assert (topic, reply["id"], reply["code"]) == (base + POST + "_reply", "8", 200)
    finally:
        client.loop_stop()
        client.disconnect()
    answer = live.http.get(
        "/_emulator/requests", params={"operation": "enos.mqtt.measurepoint_post_batch"}
    )
    (entry,) = answer.json()["requests"]
    assert (entry["method"], entry["path"], entry["vendorCode"]) == ("PUBLISH", base + BATCH, 99500)
    assert "TypeError" in json.dumps(entry["response"])
    assert live.device(pk, dk)["attrs"]["measurepoints"]["temp"]["value"] == 2
