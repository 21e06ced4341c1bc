"""The garbage collector of a served process (emulator/server.py ``settle_heap``): what the
app built at start-up is frozen out of every collection, and young objects are collected at
the raised threshold. Only ``serve``'s app does this: an app a test suite builds in its own
process leaves that process's collector alone."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Iterator
from pathlib import Path

import pytest

from emulator import server
from emulator.app import create_app
from emulator.cli import serving_app
from emulator.config import Settings


@pytest.fixture
def collector() -> Iterator[None]:
    """This test process's collector as it was, whatever the test does to it."""
    threshold = gc.get_threshold()
    gc.unfreeze()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


def started(app: object) -> tuple[int, tuple[int, int, int]]:
    """The frozen objects and the thresholds while ``app``'s lifespan runs."""

    async def run() -> tuple[int, tuple[int, int, int]]:
        async with app.router.lifespan_context(app):  # type: ignore[attr-defined]
            return gc.get_freeze_count(), gc.get_threshold()

    return asyncio.run(run())


def test_a_served_app_freezes_what_start_up_built(tmp_path: Path, collector: None) -> None:
    settings = Settings(db=str(tmp_path / "e.db"), mqtt=False)
    frozen, threshold = started(serving_app(settings))
    # The modules, the app, its routes and schemas: far more than a handful of objects.
    assert frozen > 50_000
    assert threshold[0] == server.YOUNG_GENERATION_THRESHOLD


def test_an_app_built_in_a_test_process_leaves_its_collector_alone(
    tmp_path: Path, collector: None
) -> None:
    before = gc.get_threshold()
    frozen, threshold = started(create_app(Settings(db=str(tmp_path / "e.db"), mqtt=False)))
    assert frozen == 0
    assert threshold == before
