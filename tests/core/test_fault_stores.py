"""One matcher over two stores (emulator/core/faults.py): a rule fires the same calls whether
one process keeps it in memory or several share it in the database, and a shared draw costs
the same however many draws came before it."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from emulator.app import build_emulator
from emulator.config import Settings
from emulator.core.context import Emulator
from emulator.core.faults import FaultBook
from tests.conftest import scratch_schema

OP = "enos.connect.create_device"


@pytest.fixture(params=["sqlite", "postgresql"])
def shared(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[list[Emulator]]:
    """Two emulators sharing their faults: two workers of ``--workers 2`` on one SQLite file,
    or two processes on one PostgreSQL schema."""
    with ExitStack() as stack:
        db = str(tmp_path / "emulator.db")
        if request.param == "postgresql":
            db = stack.enter_context(scratch_schema(f"emu_faults_{os.getpid()}"))
        settings = Settings(db=db, workers=2, mqtt=False)
        emulators = [build_emulator(settings) for _ in range(2)]
        yield emulators
        for emulator in emulators:
            emulator.dispose()


def fire_pattern(books: list[FaultBook], calls: int, **rule: object) -> list[bool]:
    """Arm ``rule`` through the first book, then whether each call fires, the books serving
    the calls in turn."""
    books[0].arm("ns", operation=OP, code=11714, now_ms=0, **rule)  # type: ignore[arg-type]
    return [books[n % len(books)].take("ns", OP, 0) is not None for n in range(calls)]


@pytest.mark.parametrize(
    "rule", [{"probability": 0.4, "seed": 7}, {"probability": 0.5, "seed": 99, "times": 5}]
)
def test_a_seeded_rule_fires_the_same_calls_in_one_process_and_across_two(
    shared: list[Emulator], rule: dict[str, object]
) -> None:
    alone = fire_pattern([FaultBook()], 60, **rule)
    together = fire_pattern([e.faults for e in shared], 60, **rule)

    assert together == alone
    assert 0 < sum(alone) < 60
    assert type(shared[0].faults.store) is not type(FaultBook().store)


def calls_made(action: Callable[[], object]) -> int:
    """How many Python and C functions ``action`` calls: a count, not a time."""
    count = 0

    def profile(_frame: object, event: str, _arg: object) -> None:
        nonlocal count
        if event in ("call", "c_call"):
            count += 1

    sys.setprofile(profile)
    try:
        action()
    finally:
        sys.setprofile(None)
    return count


def test_a_shared_draw_costs_the_same_after_many_draws(shared: list[Emulator]) -> None:
    emulator = shared[0]
    # The shared clock rereads its row every few milliseconds: not within this test, so that
    # every take makes the same calls but for the draw itself.
    emulator.clock.ttl = 3600.0  # type: ignore[attr-defined]
    book = emulator.faults
    book.arm("ns", operation=OP, code=11714, probability=0.5, seed=3, now_ms=0)

    def take() -> int:
        return calls_made(lambda: book.take("ns", OP, 0))

    for _ in range(5):  # compiled statements, pooled connection
        take()
    early = [take() for _ in range(10)]
    for _ in range(400):
        take()
    late = [take() for _ in range(10)]

    # Replaying the generator from draw 0 made the 415th draw about 400 calls dearer.
    assert max(late) <= max(early)
