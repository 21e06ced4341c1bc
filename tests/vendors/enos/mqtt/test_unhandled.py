"""A request the emulator fails to handle (a bug of ours, or a database gone wrong under it) is
still answered on its reply topic, in EnOS's reply format with the internal-error code,
journalled with the error and logged once; the device's connection stays usable."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from emulator.core import registry
from emulator.core.context import Emulator
from tests.vendors.enos.mqtt.conftest import SDK_WARNINGS, Live
from tests.vendors.enos.mqtt.raw import raw_device, request

pytestmark = SDK_WARNINGS

POST = "thing/measurepoint/post"


@contextmanager
def devices_table_missing(emulator: Emulator) -> Iterator[None]:
    """The registry's devices table renamed away, as if dropped under the running emulator,
    then put back: every handler that reads or writes a device fails meanwhile."""
    table = registry.devices.name
    with emulator.engine.begin() as conn:
        conn.exec_driver_sql(f"ALTER TABLE {table} RENAME TO {table}_away")
    try:
        yield
    finally:
        with emulator.engine.begin() as conn:
            conn.exec_driver_sql(f"ALTER TABLE {table}_away RENAME TO {table}")


def test_a_handler_that_raises_answers_99500_and_the_connection_goes_on(
    live: Live, caplog: pytest.LogCaptureFixture
) -> None:
    assert live.emulator is not None
    device = live.create_device()
    pk, dk = device["productKey"], device["deviceKey"]
    with raw_device(live, device) as raw:
        topic = raw.base + POST
        raw.subscribe(topic + "_reply")
        # Past every documented check, the handler's write fails in the database: an error
        # nothing in EnOS's list describes.
        with (
            devices_table_missing(live.emulator),
            caplog.at_level(logging.ERROR, logger="emulator"),
        ):
            params = {"measurepoints": {"temp": 1}}
            reply_topic, reply = raw.publish(topic, request("7", "thing.measurepoint.post", params))
        assert reply_topic == topic + "_reply"
        assert (reply["id"], reply["code"], reply["data"]) == ("7", 99500, {})
        assert reply["message"].startswith("Internal Server Error: "), reply
        assert registry.devices.name in reply["message"]  # the database's own complaint
        errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
        assert len(errors) == 1
        assert topic in errors[0].getMessage()
        # The same connection still works, on the database put back.
        params = {"measurepoints": {"temp": 2}}
        reply_topic, reply = raw.publish(topic, request("8", "thing.measurepoint.post", params))
        assert (reply_topic, reply["id"], reply["code"]) == (topic + "_reply", "8", 200)
    answer = live.http.get(
        "/_emulator/requests", params={"operation": "enos.mqtt.measurepoint_post"}
    )
    entries = answer.json()["requests"]
    assert sorted(entry["vendorCode"] for entry in entries) == [200, 99500]
    (failed,) = [entry for entry in entries if entry["vendorCode"] == 99500]
    assert (failed["method"], failed["path"]) == ("PUBLISH", topic)
    assert failed["response"]["message"].startswith("Internal Server Error: ")
    assert live.device(pk, dk)["attrs"]["measurepoints"]["temp"]["value"] == 2
