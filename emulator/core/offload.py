"""Worker threads for the hot vendor handlers when the database is PostgreSQL.

A handler's statements are synchronous. On a SQLite file they take microseconds, and running
them on the server's event loop is the cheapest way. On PostgreSQL each statement waits a
network round trip, and one process would serve one request at a time while it waits. So on
PostgreSQL the handlers of the hot routes (core/routing.py, the routes called directly) run
on worker threads, each with an event loop of its own, and the server's loop serves other
requests meanwhile. The handler's request body is read on the server's loop first; the
context (the request's fault marks) goes with the handler.
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")

# Requests in flight against PostgreSQL at once: below the engine's pool (core/db.py), and
# enough to keep the database busy while the event loop parses the next requests.
THREADS = 8


class Offload:
    def __init__(self, threads: int = THREADS) -> None:
        self._pool = ThreadPoolExecutor(
            threads, thread_name_prefix="emulator-db", initializer=self._start_loop
        )
        self._local = threading.local()
        self._loops: list[asyncio.AbstractEventLoop] = []
        self._lock = threading.Lock()

    def here(self) -> bool:
        """Whether the caller runs on one of these worker threads."""
        return getattr(self._local, "loop", None) is not None

    def _start_loop(self) -> None:
        loop = asyncio.new_event_loop()
        self._local.loop = loop
        with self._lock:
            self._loops.append(loop)

    def _run_here(self, make: Callable[[], Awaitable[T]]) -> T:
        loop: asyncio.AbstractEventLoop = self._local.loop

        async def wrapped() -> T:
            return await make()

        return loop.run_until_complete(wrapped())

    async def run(self, make: Callable[[], Awaitable[T]]) -> T:
        """``await make()`` on a worker thread's loop, in a copy of the caller's context."""
        context = contextvars.copy_context()
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, context.run, self._run_here, make)

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        with self._lock:
            loops, self._loops = self._loops, []
        for loop in loops:
            loop.close()
