"""A logged-in device speaking MQTT through paho directly: it publishes any payload on any
topic and reads the replies, where the SDK only sends the requests it knows, well formed."""

from __future__ import annotations

import json
import queue
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import paho.mqtt.client as paho

from tests.vendors.enos.mqtt.conftest import Live
from tests.vendors.enos.mqtt.test_login import WAIT_S, paho_client


def request(message_id: str, method: str, params: Any) -> bytes:
    return json.dumps(
        {"id": message_id, "version": "1.0", "method": method, "params": params}
    ).encode()


class RawDevice:
    def __init__(self, client: paho.Client, pk: str, dk: str) -> None:
        self.client = client
        self.pk, self.dk = pk, dk
        self.base = f"/sys/{pk}/{dk}/"
        self.replies: queue.Queue[tuple[str, dict[str, Any]]] = queue.Queue()
        self._subscribed: queue.Queue[bool] = queue.Queue()
        client.on_subscribe = lambda _c, _u, _mid, _granted: self._subscribed.put(True)
        client.on_message = lambda _c, _u, m: self.replies.put((m.topic, json.loads(m.payload)))

    def subscribe(self, *topics: str) -> None:
        """Subscribe to these reply topics (the platform answers without a subscription, but
        the broker delivers only what a client subscribed to)."""
        self.client.subscribe([(topic, 0) for topic in topics])
        assert self._subscribed.get(timeout=WAIT_S)

    def publish(self, topic: str, payload: bytes) -> tuple[str, dict[str, Any]]:
        """Publish on ``topic`` and return the next reply: its topic and payload."""
        self.client.publish(topic, payload)
        return self.replies.get(timeout=WAIT_S)


@contextmanager
def raw_device(live: Live, device: dict[str, Any]) -> Iterator[RawDevice]:
    """``device`` (as Create Device answers it) logged in over MQTT."""
    pk, dk = device["productKey"], device["deviceKey"]
    client = paho_client(live, pk, dk, device["deviceSecret"])
    connected: queue.Queue[int] = queue.Queue()
    client.on_connect = lambda _c, _u, _f, rc: connected.put(rc)
    raw = RawDevice(client, pk, dk)
    client.connect("127.0.0.1", live.mqtt_port)
    client.loop_start()
    try:
        assert connected.get(timeout=WAIT_S) == 0
        yield raw
    finally:
        client.loop_stop()
        client.disconnect()
