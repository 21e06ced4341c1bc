"""Worker threads for the hot vendor handlers when the database is PostgreSQL.

A handler's statements are synchronous. On a SQLite file they take microseconds, and running
them on the server's event loop is the cheapest way. On PostgreSQL each statement waits a
network round trip, and one process would serve one request at a time while it waits. So on
PostgreSQL the handlers of the hot routes (core/routing.py, the routes called directly) run
on worker threads, each with an event loop of its own that runs as long as the thread, one
request at a time, and the server's loop serves other requests meanwhile. The handler's
request body is read on the server's loop first; the context (the request's fault marks)
goes with the handler.

A request handed to a worker is a task started on its loop, and its answer a callback on the
caller's loop: measured, about 40 Python calls fewer a request than a thread pool's hop with
an event loop run to completion per request.
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar, cast

T = TypeVar("T")

# Requests in flight against PostgreSQL at once (Settings.db_threads): enough to keep the
# database busy while the event loop parses the next requests, and few. Every thread that
# wakes from a round trip contends for the interpreter lock, and each contender makes every
# switch dearer: on two cores with PostgreSQL beside the emulator, creates went from about
# 1,100 a second on 8 threads to about 1,340 on 3 (some 20% less CPU a request; ten runs
# each, alternating), and register's five round trips were served as fast on 3 as on 8.
# Each thread holds a connection of its own, out of the engine's pool (core/held.py).
THREADS = 3

# A request handed over: what makes its coroutine, its context, and the caller's future.
_Job = tuple[Callable[[], Awaitable[Any]], contextvars.Context, "asyncio.Future[Any]"]


class _Worker:
    """A thread whose event loop runs until the offload closes, one request at a time."""

    def __init__(self, offload: Offload) -> None:
        self.offload = offload
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(
            target=self._run, name=f"emulator-db_{len(offload._workers)}", daemon=True
        )
        self.thread.start()

    def _run(self) -> None:
        self.offload._local.worker = self
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_forever()
        finally:
            self.loop.close()

    def start(self, job: _Job) -> None:
        """On this worker's loop: run the job's coroutine as a task in the job's context."""
        make, context, future = job
        try:
            coroutine = cast(Coroutine[Any, Any, Any], context.run(make))
            task = self.loop.create_task(coroutine, context=context)
        except BaseException as exc:  # making the coroutine failed
            _settle(future, None, exc)
            self.offload._done(self)
            return
        task.add_done_callback(lambda task: self._finished(task, future))

    def _finished(self, task: asyncio.Task[Any], future: asyncio.Future[Any]) -> None:
        # Free first: the caller's next request, sent as soon as it has this answer, finds
        # this worker idle rather than starting another.
        self.offload._done(self)
        if task.cancelled():
            _settle(future, None, asyncio.CancelledError())
        else:
            _settle(future, task.result() if task.exception() is None else None, task.exception())


def _settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    """Give the caller's future its outcome, on the caller's loop."""

    def settle() -> None:
        if future.cancelled():
            return
        if error is None:
            future.set_result(result)
        else:
            future.set_exception(error)

    try:
        future.get_loop().call_soon_threadsafe(settle)
    except RuntimeError:  # the caller's loop has closed: nobody waits for the answer
        pass


class Offload:
    def __init__(self, threads: int = THREADS) -> None:
        self._threads = threads
        self._local = threading.local()
        self._lock = threading.Condition()
        self._workers: list[_Worker] = []
        self._idle: list[_Worker] = []
        self._waiting: deque[_Job] = deque()
        self._closed = False

    def here(self) -> bool:
        """Whether the caller runs on one of these worker threads."""
        return getattr(self._local, "worker", None) is not None

    async def run(self, make: Callable[[], Awaitable[T]]) -> T:
        """``await make()`` on a worker thread's loop, in a copy of the caller's context."""
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        job: _Job = (make, contextvars.copy_context(), future)
        with self._lock:
            if self._closed:
                raise RuntimeError("the offload workers are closed")
            worker = self._idle.pop() if self._idle else None
            if worker is None and len(self._workers) < self._threads:
                worker = _Worker(self)  # started on first use, up to the limit
                self._workers.append(worker)
            if worker is None:
                self._waiting.append(job)  # every worker busy: the next free one takes it
        if worker is not None:
            worker.loop.call_soon_threadsafe(worker.start, job)
        return await future

    def _done(self, worker: _Worker) -> None:
        """On ``worker``'s thread, its request answered: the next one waiting, or idle."""
        with self._lock:
            job = self._waiting.popleft() if self._waiting else None
            if job is None:
                self._idle.append(worker)
                self._lock.notify_all()
        if job is not None:
            worker.start(job)

    def close(self) -> None:
        """Refuse new requests, let those handed over finish, and stop the workers."""
        with self._lock:
            self._closed = True
            if not self.here():
                self._lock.wait_for(lambda: len(self._idle) == len(self._workers))
            workers, self._workers, self._idle = self._workers, [], []
        for worker in workers:
            try:
                worker.loop.call_soon_threadsafe(worker.loop.stop)
            except RuntimeError:  # its loop has closed already
                continue
        for worker in workers:
            if worker.thread is not threading.current_thread():
                worker.thread.join()
