"""Group commit: the vendor requests of one event-loop turn share one SQLite COMMIT.

On a SQLite file a create's COMMIT is about a third of its CPU (the WAL frames of the table's
and its indexes' leaves, the quota row, the WAL locks: a dozen ``pwrite`` and ``fcntl``). The
vendor requests served on the server's event loop run their transactions one after another
anyway (one thread, no ``await`` inside a transaction), so those that run in one turn of the
loop write into one transaction and commit it once:

- the first to write opens the group (``BEGIN IMMEDIATE`` on a connection of its own that
  does not wait for a lock: another process holding it makes the request wait on the loop and
  run again, core/lockwait.py) and schedules its end with ``loop.call_soon``: it runs after
  the callbacks already ready in this turn (the other requests the last poll woke). With a
  callback ready, the loop's next iteration polls for I/O without waiting (timeout 0), then
  runs the group's end before any callback that poll woke or any timer that came due; so the
  group never holds the write lock while the loop waits for anything (other processes of
  ``--workers N``, any program on the file, wait at most one turn);
- each request's writes sit inside a SAVEPOINT: a request that fails rolls back only its own;
- a request's answer leaves only after the group's COMMIT succeeded (:meth:`Member.settled`,
  awaited by the vendor route before it answers), so a vendor row is committed before its
  answer, as before; if the COMMIT fails, every request of the group gets its error, as it
  would have had its own COMMIT failed.

Everything else keeps its meaning: a transaction on the loop that is not a vendor request's
(the control plane, a reset, a device-protocol listener) first ends the open group (commits
it), then runs on its own connection, so the group never commits or rolls back anyone else's
work and that transaction never waits for a lock held by its own thread. Reads outside the
group use other connections and see only committed data; a request's own reads after its
writes read inside the group (a SAVEPOINT rolled back), so they see what it wrote. Other
threads and processes see the group's rows only once committed.

Only on a SQLite file in one process: PostgreSQL runs the hot handlers on worker threads
(core/offload.py), in-memory SQLite has one shared connection, and with ``--workers N`` the
shared clock, faults and journal write on the loop through connections of their own (each
of which would have to end the group first).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from sqlalchemy import Connection, RootTransaction

from emulator.core.held import Held
from emulator.core.lockwait import ATTEMPT, Attempt

logger = logging.getLogger(__name__)


class Member:
    """One vendor request that may write into the loop's group (set by the vendor route)."""

    __slots__ = ("attempt", "error", "group", "loop", "task", "thread", "waiter")

    def __init__(self) -> None:
        # Only the request's own task on the loop thread groups: a handler's code run in a
        # thread pool, and a task it spawns (which may write after the answer left, when no
        # one awaits :meth:`settled`), inherit the request's context variables, this one
        # included; their transactions run on their own.
        self.thread = threading.get_ident()
        self.task = asyncio.current_task()
        # Asking for the current task of a known loop spares get_running_loop's process id
        # check (a system call) in each transaction's :meth:`GroupCommit.joinable`.
        self.loop = None if self.task is None else self.task.get_loop()
        self.group: _Group | None = None
        self.attempt: Attempt | None = None
        self.error: BaseException | None = None
        self.waiter: asyncio.Future[None] | None = None

    async def settled(self) -> None:
        """Wait until the groups this request wrote into have committed; raise the COMMIT's
        error if one failed. Returns at once for a request that wrote nothing."""
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            await waiter
        if self.error is not None:
            raise self.error


MEMBER: ContextVar[Member | None] = ContextVar("emulator_group_member", default=None)


class _Group:
    __slots__ = ("conn", "cursor", "handle", "loop", "members", "tx")

    def __init__(self, conn: Connection, tx: RootTransaction, cursor: Any) -> None:
        self.conn = conn
        self.tx = tx
        self.cursor = cursor
        self.members: list[Member] = []
        # Once per group: asyncio's get_running_loop checks the process id (a system call).
        self.loop = asyncio.get_running_loop()
        self.handle: asyncio.Handle | None = None


def commit(tx: RootTransaction) -> None:
    """The group's COMMIT (a seam: the tests make it fail)."""
    tx.commit()


class GroupCommits:
    """The groups of an emulator: one per thread (:meth:`here`), each on that thread's
    connection of ``held`` (not waiting for locks). One event loop serves the vendor
    requests, but nothing stops a process from running an app on several (the test suite
    does): each groups its own requests."""

    def __init__(self, held: Held) -> None:
        self._held = held
        self._local = threading.local()

    def here(self) -> GroupCommit:
        try:
            group: GroupCommit = self._local.group
        except AttributeError:
            group = self._local.group = GroupCommit(self._held)
        return group

    def close(self) -> None:
        """Close the connections (an open group is rolled back with them)."""
        self._held.close()


class GroupCommit:
    """The open group of one thread (its event loop's)."""

    def __init__(self, held: Held) -> None:
        self._held = held
        self._open: _Group | None = None
        # A member is inside its SAVEPOINT: nothing may end the group now.
        self._inside = False

    def joinable(self, member: Member) -> bool:
        """Whether ``member``'s next transaction goes into a group: in the request's own task
        on the loop's thread, and not nested inside another transaction of a member (a nested
        ``begin`` keeps its own transaction, on a pooled connection, as before)."""
        return (
            member.thread == threading.get_ident()
            and member.loop is not None
            and asyncio.current_task(member.loop) is member.task
            and not self._inside
        )

    def worth_opening(self) -> bool:
        """A group is open, or something else is ready to run in this turn of the loop (the
        next request, most often). When nothing is, no other request can write before this
        one's transaction ends: it is alone, and commits on its own as before, without the
        group's statements and without waiting a turn for its answer (one client, a test).

        The loop's queue of ready callbacks is CPython asyncio's own attribute, not public
        API; a loop without it always groups."""
        # On such a loop (uvloop) every request's writes open a group, so a single client's
        # request pays one more loop turn (the group's end) before its answer.
        if self._open is not None:
            return True
        ready = getattr(asyncio.get_running_loop(), "_ready", None)
        if ready is None:
            return True
        # A handle cancelled in this turn (an ended group's) stays queued until the turn ends.
        return any(not handle.cancelled() for handle in ready)

    def holds(self, member: Member) -> bool:
        """``member`` wrote into the group still open, and no member is inside a SAVEPOINT."""
        group = self._open
        return group is not None and member.group is group and not self._inside

    def flush(self) -> None:
        """End the open group now, before a transaction outside it writes."""
        group = self._open
        if group is not None and not self._inside:
            if group.handle is not None:
                group.handle.cancel()
            self._end(group)

    def open(self) -> None:
        """Open a group (``BEGIN IMMEDIATE``): raises SQLite's error at once if another
        connection holds the write lock."""
        if self._open is None:
            self._start()

    def _start(self) -> _Group:
        conn = self._held.get()
        tx = conn.begin()
        cursor = conn.connection.cursor()
        try:
            # IMMEDIATE: the write lock from the start, so no member's write can find it
            # taken (or its snapshot stale) halfway through the group.
            cursor.execute("BEGIN IMMEDIATE")
        except BaseException:
            tx.rollback()
            raise
        group = self._open = _Group(conn, tx, cursor)
        group.handle = group.loop.call_soon(self._end, group)
        return group

    @contextmanager
    def member(self, member: Member) -> Iterator[Connection]:
        """One transaction of ``member``: inside the open group (opened if none is)."""
        group = self._open or self._start()
        cursor = group.cursor
        cursor.execute("SAVEPOINT member")
        self._inside = True
        try:
            yield group.conn
        except BaseException as exc:
            self._inside = False
            self._undo(group, exc)
            raise
        self._inside = False
        cursor.execute("RELEASE member")
        if member.group is not group:
            if member.waiter is None or member.waiter.done():
                member.waiter = group.loop.create_future()
            member.group = group
            # This run's: a run that found the lock taken and runs again is a new attempt.
            member.attempt = ATTEMPT.get()
            group.members.append(member)

    def _undo(self, group: _Group, exc: BaseException) -> None:
        """Roll back one member's writes; if SQLite rolled back the whole transaction (some
        errors do), the group's earlier members lost theirs: they get this error."""
        try:
            if group.conn.connection.dbapi_connection.in_transaction:  # type: ignore[union-attr]
                group.cursor.execute("ROLLBACK TO member")
                group.cursor.execute("RELEASE member")
                return
        except Exception as undo:
            exc = undo
        if group.handle is not None:
            group.handle.cancel()
        self._end(group, exc)

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        """A read of a member that wrote into the open group: inside it, so it sees its own
        writes; what the block writes is rolled back (a SAVEPOINT), the group stays open."""
        group = self._open
        assert group is not None
        cursor = group.cursor
        cursor.execute("SAVEPOINT reading")
        self._inside = True
        try:
            yield group.conn
        finally:
            self._inside = False
            cursor.execute("ROLLBACK TO reading")
            cursor.execute("RELEASE reading")

    def _end(self, group: _Group, error: BaseException | None = None) -> None:
        if self._open is group:
            self._open = None
        if error is None:
            try:
                commit(group.tx)
            except Exception as exc:
                error = exc
        try:
            if error is not None:
                self._roll_back(group)
            try:
                group.cursor.close()
            except Exception:
                # A closed connection (see above): nothing left to close.
                logger.debug("group cursor not closed", exc_info=True)
        finally:
            # Whatever failed above, every member settles: an unanswered waiter would hold
            # its request until the client gives up.
            for member in group.members:
                if error is not None:
                    member.error = error
                elif member.attempt is not None:
                    member.attempt.committed = True
                waiter = member.waiter
                if waiter is not None and not waiter.done() and member.group is group:
                    waiter.set_result(None)
            # The group's end is scheduled with the group as its argument, and the members
            # point at the group: left as they are, each ended group is a reference cycle
            # that holds its members, their tasks and their contexts (about eight objects a
            # request) for the collector to find, which made the young generation fill and
            # be walked several times as often under load.
            group.handle = None
            group.members = []

    @staticmethod
    def _roll_back(group: _Group) -> None:
        try:
            group.tx.rollback()
            # A COMMIT SQLite refused may leave its transaction open (a deferred constraint,
            # SQLITE_BUSY) while SQLAlchemy counts it ended, and its rollback then sends
            # nothing: every later group's BEGIN on this connection would fail.
            dbapi = group.conn.connection.dbapi_connection
            if dbapi is not None and dbapi.in_transaction:
                dbapi.rollback()
        except Exception:
            # The connection is unusable: the next group takes a new one. Closed already
            # (the emulator disposed with a group open, or the driver connection died):
            # SQLite rolled the group back with it.
            logger.warning("group rollback failed: dropping its connection", exc_info=True)
            try:
                group.conn.invalidate()
            except Exception:
                logger.debug("group connection not invalidated", exc_info=True)
