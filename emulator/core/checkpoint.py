"""WAL checkpoints of a SQLite file on a thread of their own, off the event loop.

In WAL mode SQLite copies the log back into the database file (a checkpoint) when a COMMIT
leaves the log past ``wal_autocheckpoint`` pages, in that COMMIT, on the connection that made
it: for the emulator, the event loop's group commit (core/groupcommit.py). Such a checkpoint
reads thousands of log pages, writes them to the file and syncs both: measured under load,
some 45 ms once a second or so, while no request of the process moved (the p99 latency of a
create was that checkpoint), about 4% of the loop's time.

:class:`Checkpointer` checkpoints from its own connection a few times a second, whenever
another connection committed since it last looked (``PRAGMA data_version``). A PASSIVE
checkpoint never takes the write lock: requests keep committing while it copies. The log is
then checkpointed long before a COMMIT finds it past ``wal_autocheckpoint``, which stays as
the fallback should this thread fall behind or fail. Durability does not change: a committed
transaction is in the log either way.
"""

from __future__ import annotations

import logging
import sqlite3
import threading

logger = logging.getLogger(__name__)

# How often the thread looks for commits to checkpoint. At the fastest writes measured (some
# 8,000 log pages a second) the log holds under 1,000 pages between two checkpoints, well
# below the COMMIT's own threshold (core/db.py WAL_CHECKPOINT_PAGES).
EVERY_S = 0.1


class Checkpointer:
    """A daemon thread that checkpoints the WAL of the SQLite file at ``path`` until
    :meth:`close`."""

    def __init__(self, path: str, every_s: float = EVERY_S) -> None:
        self._path = path
        self._every_s = every_s
        self._stop = threading.Event()
        # Checkpoints done, and the last one's (busy, log pages, pages checkpointed): for
        # the tests, which wait on ``done`` rather than on time.
        self.checkpoints = 0
        self.last: tuple[int, int, int] | None = None
        self.done = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="wal-checkpoint", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            db = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
        except sqlite3.Error:
            logger.warning("WAL checkpoints stay on the committing connections", exc_info=True)
            return
        try:
            seen = None
            while not self._stop.wait(self._every_s):
                try:
                    seen = self._checkpoint_if_written(db, seen)
                except sqlite3.Error:
                    # Another process checkpointing, the file gone under a test: the COMMIT's
                    # own checkpoint remains, and the next turn tries again.
                    logger.debug("WAL checkpoint skipped", exc_info=True)
        finally:
            db.close()

    def _checkpoint_if_written(self, db: sqlite3.Connection, seen: int | None) -> int | None:
        """Checkpoints if another connection committed since the version ``seen``; the
        version the log is now copied up to, or ``seen`` again when part of it is not (a
        reader still on older pages, another process checkpointing): the next turn retries."""
        (version,) = db.execute("PRAGMA data_version").fetchone()
        if version == seen:
            return seen
        busy, log, copied = db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        with self.done:
            self.checkpoints += 1
            self.last = (busy, log, copied)
            self.done.notify_all()
        return int(version) if not busy and copied == log else seen

    def close(self) -> None:
        """Stop the thread and close its connection (before the database's engine goes)."""
        self._stop.set()
        self._thread.join()
