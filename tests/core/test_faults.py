"""Fault rules (emulator/core/faults.py), and the per-device seam batch services call."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from emulator.app import build_emulator
from emulator.config import Settings
from emulator.core.context import Ctx
from emulator.core.faults import CURRENT, FaultBook, RequestFaults, device_fault
from emulator.vendors.enos.connect.errors import ConnectError

OP = "enos.connect.create_device"


@pytest.fixture
def ctx() -> Iterator[Ctx]:
    emulator = build_emulator(Settings(db=":memory:", seed=1))
    yield emulator.context("unit")
    emulator.engine.dispose()


def test_device_fault_fails_only_the_named_device(ctx: Ctx) -> None:
    ctx.emulator.faults.arm(ctx.namespace, operation=OP, code=11714, device_key="d2", now_ms=0)

    errors = {dk: device_fault(ctx, OP, dk) for dk in ("d1", "d2", "d3")}

    assert errors["d1"] is None
    assert errors["d3"] is None
    failed = errors["d2"]
    assert failed is not None
    assert failed.error is ConnectError.DEVICE_KEY_GENERATION_FAILED
    assert failed.message == "Generate deviceKey failed"


def test_device_fault_with_star_fails_every_device_for_its_times(ctx: Ctx) -> None:
    ctx.emulator.faults.arm(
        ctx.namespace, operation=OP, code=11714, device_key="*", times=2, now_ms=0
    )

    failed = [device_fault(ctx, OP, dk) is not None for dk in ("a", "b", "c")]

    assert failed == [True, True, False]


def test_device_fault_reports_the_failed_devices_to_the_request(ctx: Ctx) -> None:
    ctx.emulator.faults.arm(ctx.namespace, operation=OP, code=11714, device_key="d1", now_ms=0)
    marks = RequestFaults()
    token = CURRENT.set(marks)
    try:
        device_fault(ctx, OP, "d1")
        device_fault(ctx, OP, "d2")
    finally:
        CURRENT.reset(token)

    assert marks.devices == ["d1"]


def test_device_fault_ignores_whole_request_rules_and_other_operations(ctx: Ctx) -> None:
    ctx.emulator.faults.arm(ctx.namespace, operation=OP, code=11714, now_ms=0)
    ctx.emulator.faults.arm(
        ctx.namespace, operation="enos.connect.delete_device", code=11404, device_key="d1", now_ms=0
    )

    assert device_fault(ctx, OP, "d1") is None


def test_a_rule_expires_after_its_ttl_on_the_given_clock() -> None:
    book = FaultBook()
    book.arm("ns", operation=OP, code=11714, ttl_seconds=10, now_ms=1_000)

    assert book.take("ns", OP, now_ms=10_999) is not None
    assert book.take("ns", OP, now_ms=11_000) is None
    assert book.rules("ns", now_ms=11_000) == []


def test_the_first_armed_matching_rule_fires() -> None:
    book = FaultBook()
    first = book.arm("ns", operation=OP, code=11714, times=1, now_ms=0)
    second = book.arm("ns", operation=OP, code=11702, now_ms=0)

    fired = [book.take("ns", OP, now_ms=0) for _ in range(2)]

    assert [r.id if r else None for r in fired] == [first.id, second.id]


def test_a_seeded_rule_rolls_the_same_sequence() -> None:
    def rolls(seed: int) -> list[bool]:
        book = FaultBook()
        book.arm("ns", operation=OP, code=11714, probability=0.3, seed=seed, now_ms=0)
        return [book.take("ns", OP, now_ms=0) is not None for _ in range(50)]

    assert rolls(7) == rolls(7)
    assert 0 < sum(rolls(7)) < 50


def test_a_message_rule_fires_for_every_device_or_the_one_it_names() -> None:
    # A device's own message (MQTT): a rule naming no device fires for any device's message,
    # one naming a device only for that device's.
    book = FaultBook()
    post = "enos.mqtt.measurepoint_post"
    every = book.arm("ns", operation=post, action="dropReply", times=1, now_ms=0)
    mine = book.arm("ns", operation=post, latency_ms=10, device_key="d1", now_ms=0)

    fired = [book.take("ns", post, 0, dk, message=True) for dk in ("d2", "d2", "d1")]

    assert [r.id if r else None for r in fired] == [every.id, None, mine.id]
    # A whole request (no device) and a batch's device keep their own rules.
    assert book.take("ns", post, 0) is None
    assert book.take("ns", post, 0, "d2") is None
