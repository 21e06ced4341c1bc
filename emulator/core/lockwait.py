"""Waiting for a database lock without stopping the event loop.

On a SQLite file every handler runs its statements on the server's event loop: they take
microseconds, and a thread hop per request would cost more than the statements
(core/offload.py). But a write waits for the file's one write lock, and SQLite waits inside
the statement (``busy_timeout``): while another process holds the lock (a second worker of
``--workers N``, any program with a transaction open on the file), the loop waited with it,
and every other request, ``/_emulator/health`` included, waited behind it.

So a request's transactions, until its first commit, run on a connection of its own that
does not wait (``busy_timeout`` 0; reads never wait in WAL mode): when the lock is taken,
SQLite says so at once, the transaction is rolled back, and the request waits on the loop
(``asyncio.sleep``, backing off like SQLite's own busy handler) before it runs again, until
``db_statement_timeout`` has passed; then the last error stands (the vendor's internal
error, the control plane's 503), as before.

Why run the handler again rather than hand the request to a worker thread that waits:

- nothing of it moves off the loop, so a handler may keep awaiting objects of the loop
  (an MQTT device's reply) and pays next to nothing when no lock is held (a context
  variable set per request, read per transaction);
- a request runs again only if nothing of it was committed: after a commit, its later
  transactions wait in SQLite as before (rare: a handler writes once). The request's fault
  draw, journal entry and metrics sit outside the handler and happen once. A draw made by
  the handler itself (its ids; a device fault of a process that keeps its faults in memory:
  one armed ``times: 1`` may be spent by the run that found the lock) is made again.

Writes outside a request's handler (the shared journal and faults of ``--workers N``, the
clock) still wait in SQLite: they hold the lock for microseconds.

On PostgreSQL the hot vendor operations run on worker threads (core/offload.py), where waiting
stops no one. The rest (the control plane, the other vendor operations) runs on the loop; a
table another session has locked (``LOCK TABLE``) would stop it there. Their first
transaction runs on connections with a ``lock_timeout`` of a millisecond (core/db.py
``make_eager_engine``) and waits on the loop the same way.
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


# PostgreSQL's lock_not_available: ``lock_timeout`` passed.
_LOCK_NOT_AVAILABLE = "55P03"


def is_busy(exc: BaseException) -> bool:
    """The database refused a lock another connection holds: SQLite's SQLITE_BUSY (and its
    variants), PostgreSQL's ``lock_timeout``."""
    orig = getattr(exc, "orig", exc)
    if isinstance(orig, sqlite3.OperationalError):
        return getattr(orig, "sqlite_errorcode", 0) & 0xFF == sqlite3.SQLITE_BUSY
    state = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    return state == _LOCK_NOT_AVAILABLE


async def patiently(make: Callable[[], Awaitable[T]], timeout_s: float) -> T:
    """``await make()``; while its first transaction finds the database locked, wait on the
    loop and run it again, for up to ``timeout_s``."""
    attempt = Attempt()
    token = ATTEMPT.set(attempt)
    try:
        return await make()
    except Exception:
        if not attempt.busy or attempt.committed:
            raise
    finally:
        ATTEMPT.reset(token)
    logger.debug("a request waits for a database lock (up to %ss)", timeout_s)
    return await _again(make, asyncio.get_running_loop().time() + timeout_s)


async def _again(make: Callable[[], Awaitable[T]], deadline: float) -> T:
    """Run ``make`` again after a pause until it does not find the lock taken, or until the
    deadline (then the last error stands)."""
    loop = asyncio.get_running_loop()
    pause = 0.001
    while True:
        await asyncio.sleep(min(pause, max(0.0, deadline - loop.time())))
        pause = min(pause * 2, MAX_PAUSE_S)
        attempt = Attempt()
        token = ATTEMPT.set(attempt)
        try:
            return await make()
        except Exception:
            if not attempt.busy or attempt.committed or loop.time() >= deadline:
                raise
        finally:
            ATTEMPT.reset(token)
