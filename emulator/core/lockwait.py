"""Waiting for a database lock without stopping the event loop (SQLite file).

On a SQLite file every handler runs its statements on the server's event loop: they take
microseconds, and a thread hop per request would cost more than the statements
(core/offload.py). But a write waits for the file's one write lock, and SQLite waits inside
the statement (``busy_timeout``): while another process holds the lock (a second worker of
``--workers N``, any program with a transaction open on the file), the loop waited with it,
and every other request, ``/_emulator/health`` included, waited behind it.

So a request's first transaction runs on a connection of its own that does not wait
(``busy_timeout`` 0): when the lock is taken, SQLite says so at once, the transaction is
rolled back, and the request waits on the loop (``asyncio.sleep``, backing off like SQLite's
own busy handler) before it runs again, until ``db_statement_timeout`` has passed; then the
last error stands (the vendor's internal error, the control plane's 503), as before.

Why run the handler again rather than hand the request to a worker thread that waits:

- nothing of it moves off the loop, so a handler may keep awaiting objects of the loop
  (an MQTT device's reply) and pays nothing when no lock is held (the fast path is one
  context variable read per transaction);
- a request runs again only if nothing of it was committed: its first transaction is the
  only one that does not wait; after a commit, its later transactions wait in SQLite as
  before (rare: a handler writes once). The request's fault draw, journal entry and metrics
  sit outside the handler and happen once. A draw made by the handler itself (its ids; a
  device fault of a process that keeps its faults in memory) is made again.

Writes outside a request's handler (the shared journal and faults of ``--workers N``, the
clock) still wait in SQLite: they hold the lock for microseconds.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import TypeVar

T = TypeVar("T")

logger = logging.getLogger(__name__)

# SQLite's own busy handler sleeps 1, 2, 5, 10... up to 100 ms between tries; a request
# waiting on the loop tries about as often, from 1 ms up to this.
MAX_PAUSE_S = 0.05


class Attempt:
    """One run of a request's handler: whether its first transaction found the database
    locked, and whether it has committed (after which nothing of it may run again)."""

    __slots__ = ("busy", "committed")

    def __init__(self) -> None:
        self.busy = False
        self.committed = False


ATTEMPT: ContextVar[Attempt | None] = ContextVar("emulator_attempt", default=None)


def is_busy(exc: BaseException) -> bool:
    """SQLite refused a lock another connection holds (SQLITE_BUSY and its variants)."""
    orig = getattr(exc, "orig", exc)
    return isinstance(orig, sqlite3.OperationalError) and (
        getattr(orig, "sqlite_errorcode", 0) & 0xFF == sqlite3.SQLITE_BUSY
    )


async def patiently(make: Callable[[], Awaitable[T]], timeout_s: float) -> T:
    """``await make()``; while its first transaction finds the database locked, wait on the
    loop and run it again, for up to ``timeout_s``."""
    loop = asyncio.get_running_loop()
    deadline: float | None = None
    pause = 0.001
    while True:
        attempt = Attempt()
        token = ATTEMPT.set(attempt)
        try:
            return await make()
        except Exception:
            if not attempt.busy or attempt.committed:
                raise
            if deadline is None:
                logger.debug("a request waits for a database lock (up to %ss)", timeout_s)
                deadline = loop.time() + timeout_s
            left = deadline - loop.time()
            if left <= 0:
                raise
        finally:
            ATTEMPT.reset(token)
        await asyncio.sleep(min(pause, left))
        pause = min(pause * 2, MAX_PAUSE_S)
