"""The shared journal on PostgreSQL, written after the answer and in batches.

:class:`SqlJournal` writes each entry before its answer leaves: one more round trip on every
request's path, and its serialisation (the request's parts masked, JSON) on the thread that
served it. On PostgreSQL, :class:`BatchedSqlJournal` queues the entry instead, and one thread
writes what has queued in one pipelined ``executemany`` (a round trip per batch, not per
entry). A vendor row is still committed before its answer; only its journal entry follows.

What a reader sees: this process's own entries at once (a query or a clear writes the queue
first); another process's within about :data:`LINGER_S` plus a round trip of its answer.
"""

from __future__ import annotations

import logging
import threading

from sqlalchemy import JSON, Engine, cast, func, insert, select
from sqlalchemy.sql.selectable import TableValuedAlias

from emulator.core.journal import JOURNAL_TRIM, Entry, SqlJournal, dump_entry, json_text
from emulator.core.registry import shared_journal
from emulator.core.sql import HotSql, const, param

logger = logging.getLogger(__name__)

# How long the writer waits for more entries before writing what has queued: at a few
# hundred requests a second, several entries share a round trip.
LINGER_S = 0.005
# At most this many entries per batch (one executemany), so a burst is written in steps.
BATCH_MAX = 500


# A batch in one statement of two values, JSON arrays in order: the [ns, operation] of each
# entry, and the entries (a row of executemany cost about 35 Python calls in the driver).
# Each entry's text is read once, where its array is split (of type json, an element is
# given as it was sent), not again for every field taken out of it.
def _elements(name: str) -> TableValuedAlias:
    return (
        func.json_array_elements(cast(param(name), JSON))
        .table_valued("value", with_ordinality="n")
        .render_derived(name)
    )


_KEYS, _ENTRIES = _elements("keys"), _elements("entries")
_INSERT = HotSql(
    insert(shared_journal).from_select(
        ["ns", "operation", "entry"],
        select(
            _KEYS.c.value.op("->>")(const(0)), _KEYS.c.value.op("->>")(const(1)),
            _ENTRIES.c.value,
        )
        .select_from(_KEYS.join(_ENTRIES, _ENTRIES.c.n == _KEYS.c.n))
        .order_by(_KEYS.c.n),
    )
)  # fmt: skip


class BatchedSqlJournal(SqlJournal):
    """:class:`SqlJournal` whose appends are written by a thread of its own, in batches."""

    def __init__(self, size: int, engine: Engine) -> None:
        super().__init__(size, engine)
        self._queue: list[Entry] = []
        # Entries taken from the queue and not yet written (a flush waits for them too).
        self._writing = 0
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._closed = False
        # Whether the writer waits for a first entry (else it is lingering or writing, and
        # takes the queue when it is done: waking it per append would cost each request).
        self._idle = False

    def append(self, entry: Entry) -> None:
        with self._cond:
            if self._closed:
                return
            self._queue.append(entry)
            if self._thread is None:
                # Started on first use: a process forked after the app was built (--workers)
                # gets a thread of its own.
                self._thread = threading.Thread(
                    target=self._run, name="emulator-journal", daemon=True
                )
                self._thread.start()
            if self._idle:
                self._cond.notify()

    def flush(self) -> None:
        """Return once every entry appended so far is written (or its batch failed)."""
        with self._cond:
            self._cond.notify_all()
            self._cond.wait_for(lambda: not self._queue and not self._writing)

    def query(self, namespace: str | None, operation: str | None, limit: int) -> list[Entry]:
        self.flush()
        return super().query(namespace, operation, limit)

    def clear(self, namespace: str | None) -> int:
        self.flush()
        return super().clear(namespace)

    def close(self) -> None:
        """Write what is queued and stop the thread (the app is shutting down)."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
            thread = self._thread
        if thread is not None:
            thread.join()

    def _run(self) -> None:
        while True:
            with self._cond:
                self._idle = True
                self._cond.wait_for(lambda: self._queue or self._closed)
                self._idle = False
                if not self._queue:
                    return  # closed, nothing left
                if not self._closed:
                    # Let the requests being served now join this batch.
                    self._cond.wait(LINGER_S)
                batch, self._queue = self._queue[:BATCH_MAX], self._queue[BATCH_MAX:]
                self._writing = len(batch)
            try:
                self._write(batch)
            except Exception:
                # The journal must never cost a client its answer; a batch it cannot write
                # is lost, and said so.
                logger.exception("journal: cannot record %d requests", len(batch))
            finally:
                with self._cond:
                    self._writing = 0
                    self._cond.notify_all()

    def _write(self, batch: list[Entry]) -> None:
        keys = json_text([(e.namespace, e.operation) for e in batch])
        entries = f"[{','.join(map(dump_entry, batch))}]"
        with self._engine.begin() as conn:
            _INSERT.execute(conn, {"keys": keys, "entries": entries})
            before, self._appended = self._appended, self._appended + len(batch)
            if before // self.TRIM_EVERY != self._appended // self.TRIM_EVERY:
                JOURNAL_TRIM.execute(conn, {"keep": self._size})
