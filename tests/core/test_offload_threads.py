"""The offload's thread limit (core/offload.py, ``EMULATOR_DB_THREADS``): at most that many
requests run on worker threads at once, the others queue and run, in order, as threads free.

The jobs here wait on events the test sets, so no timing is guessed; no database is needed.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable

import pytest

from emulator.app import create_app
from emulator.config import Settings
from emulator.core import offload
from emulator.core.offload import Offload


def test_at_most_the_limit_runs_at_once_and_the_rest_queue_in_order() -> None:
    offload = Offload(threads=2)
    release = [threading.Event() for _ in range(4)]
    started: list[int] = []
    lock = threading.Lock()

    def job(n: int) -> Callable[[], Awaitable[tuple[int, str]]]:
        async def run() -> tuple[int, str]:
            with lock:
                started.append(n)
            # Blocks this worker's thread (as a statement waiting on PostgreSQL would).
            release[n].wait(timeout=30)
            return n, threading.current_thread().name

        return run

    async def main() -> list[tuple[int, str]]:
        tasks = [asyncio.ensure_future(offload.run(job(n))) for n in range(4)]
        await _until(lambda: len(started) == 2)
        assert sorted(started) == [0, 1]
        assert len(offload._workers) == 2
        release[0].set()
        await _until(lambda: len(started) == 3)
        assert started[2] == 2  # the first queued, on the thread the first left
        for event in release:
            event.set()
        return list(await asyncio.gather(*tasks))

    try:
        answers = asyncio.run(main())
    finally:
        for event in release:
            event.set()
        offload.close()
    assert [n for n, _ in answers] == [0, 1, 2, 3]
    assert len({thread for _, thread in answers}) == 2
    assert answers[2][1] == answers[0][1]


async def _until(condition: Callable[[], bool], seconds: float = 30) -> None:
    """Yield to the loop until ``condition()`` holds (the workers report on their threads)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not condition():
        if loop.time() > deadline:
            raise AssertionError("the offload never got there")
        await asyncio.sleep(0.001)


@pytest.mark.parametrize(
    ("environ", "threads"), [({}, offload.THREADS), ({"EMULATOR_DB_THREADS": "5"}, 5)]
)
def test_the_setting_is_read_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, environ: dict[str, str], threads: int
) -> None:
    monkeypatch.delenv("EMULATOR_DB_THREADS", raising=False)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    assert Settings().db_threads == threads


def test_sqlite_has_no_offload() -> None:
    app = create_app(Settings(db=":memory:", seed=1, db_threads=1))
    try:
        assert app.state.emulator.offload is None
    finally:
        app.state.emulator.dispose()


@pytest.mark.parametrize("threads", [0, 33])
def test_a_thread_count_out_of_bounds_is_refused(threads: int) -> None:
    # Each thread holds a connection of its own: a bound keeps a typo from opening hundreds.
    with pytest.raises(ValueError, match="db_threads"):
        Settings(db_threads=threads)
