"""WAL checkpoints of a SQLite file on a thread of their own, off the server's event loop.

In WAL mode a COMMIT appends the pages it changed to the ``-wal`` file; a checkpoint copies
them back into the database file, and syncs both (``synchronous=NORMAL`` syncs only then).
SQLite checkpoints by itself inside the COMMIT that takes the log past
``wal_autocheckpoint`` pages: on the server's loop, where the vendor requests commit
(core/groupcommit.py), that COMMIT copied thousands of pages and waited for two ``fsync``
while every request in flight waited behind it. Measured under load: about 4% of the time
the loop sat idle on those syncs, and the p99 of a create was several times its p50.

So the loop's group connections never checkpoint (``wal_autocheckpoint=0``,
:func:`loop_connection`), and a :class:`Checkpointer` thread does it: woken by a group's
COMMIT, it lets :data:`CHECKPOINT_EVERY_S` of commits gather, then runs a PASSIVE checkpoint
on a connection of its own. SQLite runs it with the GIL released, and a PASSIVE checkpoint
takes no lock a writer or reader needs, so the loop goes on serving while it copies and syncs.

Durability is SQLite's own either way: a COMMIT is in the log before its answer leaves, and
a crash before a checkpoint loses nothing (the next open replays the log). When the last
connection closes, SQLite checkpoints what is left and removes the log.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from sqlalchemy import Engine

logger = logging.getLogger(__name__)

# How long the commits after the first unchecked one gather before a checkpoint copies them.
# Under load that is some thousands of log pages (fewer than SQLite's own 4,096-frame index
# block, which keeps readers' page lookups in one table); a page that many commits changed (a
# product's quota row, an index's inner pages) is copied once.
CHECKPOINT_EVERY_S = 0.2


def loop_connection(dbapi_connection: Any) -> None:
    """A connection of the event loop's groups: it never waits for a lock (a request that
    finds one taken waits on the loop and runs again, core/lockwait.py), and it leaves
    checkpoints to the :class:`Checkpointer`."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA busy_timeout=0")
    cursor.execute("PRAGMA wal_autocheckpoint=0")
    cursor.close()


class Checkpointer:
    """Checkpoints ``engine``'s SQLite file some time after each :meth:`wrote`, on a daemon
    thread started at the first; :meth:`close` stops it."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._starting = threading.Lock()
        # COMMITs reported (:meth:`wrote`), and how many of them the last checkpoint that
        # copied the whole log had seen: :meth:`wait_until_checkpointed`.
        self.written = 0
        self.checkpointed = 0
        self._progress = threading.Condition()

    def wrote(self) -> None:
        """A COMMIT added to the log: a checkpoint follows within :data:`CHECKPOINT_EVERY_S`.
        Called on the loop after every group's COMMIT, so it costs one flag check then."""
        # Counted before the flag is looked at, and the thread clears the flag before it
        # reads the count: a COMMIT the starting checkpoint did not count sets the flag again.
        self.written += 1
        if self._wake.is_set():
            return
        if self._thread is None:
            with self._starting:
                if self._thread is None and not self._stopping.is_set():
                    self._thread = threading.Thread(
                        target=self._run, name="wal-checkpoint", daemon=True
                    )
                    self._thread.start()
        self._wake.set()

    def _run(self) -> None:
        pooled = self._engine.raw_connection()
        # Out of the pool: the thread keeps it for as long as it runs.
        pooled.detach()
        dbapi = pooled.dbapi_connection
        try:
            while True:
                self._wake.wait()
                # The commits of the next moment join this one's (stopping cuts it short).
                if self._stopping.wait(CHECKPOINT_EVERY_S):
                    return
                self._wake.clear()
                written = self.written
                done = self._checkpoint(dbapi)
                if done:
                    with self._progress:
                        self.checkpointed = written
                        self._progress.notify_all()
                elif done is not None:
                    self._wake.set()  # the rest of the log, after the next pause
        finally:
            pooled.close()

    @staticmethod
    def _checkpoint(dbapi: Any) -> bool | None:
        """A PASSIVE checkpoint; whether it copied the whole log (it copies only up to the
        oldest page a reader still reads, and none while another checkpoint runs), None if
        it failed."""
        try:
            cursor = dbapi.cursor()
            try:
                busy, log, copied = cursor.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            finally:
                cursor.close()
        except Exception:
            # A full disk, a file that went away: the log keeps every page, and the next
            # COMMIT tries again.
            logger.warning("WAL checkpoint failed", exc_info=True)
            return None
        return not busy and copied >= log

    def wait_until_checkpointed(self, written: int, timeout: float) -> bool:
        """Wait until the first ``written`` COMMITs are copied into the database file; False
        if they were not within ``timeout`` seconds."""
        with self._progress:
            return self._progress.wait_for(lambda: self.checkpointed >= written, timeout)

    def close(self) -> None:
        """Stop the thread (a checkpoint under way finishes first)."""
        self._stopping.set()
        self._wake.set()
        with self._starting:
            thread = self._thread
        if thread is not None:
            thread.join()
