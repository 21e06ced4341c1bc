"""How uvicorn serves the emulator: the read timeouts uvicorn lacks, and the options every
server of ours is started with (``iot-emulator serve``, the pytest plugin's and the suite's).

uvicorn closes a connection idle between requests after ``timeout_keep_alive`` (our
``idle_timeout``) and refuses headers over ``h11_max_incomplete_event_size`` (16 KiB), but a
client that sends its headers or its body a byte at a time holds the connection forever.
:class:`TimedH11Protocol` adds two deadlines:

- ``header_timeout``: a request's headers must be complete this long after the connection
  opened, or after the previous answer;
- ``body_timeout``: while a body is being read, at most this long between two of its pieces
  (not counted while the emulator itself has paused reading).

Past either, the connection is closed.

It also writes an answer's head and body to the socket together (:class:`_OneWritePerAnswer`):
uvicorn writes them one after the other, a system call and a TCP segment each.
"""

from __future__ import annotations

import asyncio
import gc
import math
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from emulator.config import Settings
from emulator.core.logs import AccessLog

# The collector's youngest generation is collected once this many more container objects were
# made than freed (700 by default). A request makes thousands (a 500-device createBatch some
# 20,000), so at 700 the collector walks the objects of the request in flight again and again.
YOUNG_GENERATION_THRESHOLD = 10_000

# Headers over this are refused by h11 (uvicorn's own default, named here to be documented).
MAX_HEADER_BYTES = 16 * 1024


class TimedH11Protocol(H11Protocol):
    header_timeout: float = 10.0
    body_timeout: float = 30.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The same lines, for less per request (core/logs.py).
        self.access_logger = AccessLog(self.access_logger)  # type: ignore[assignment]

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        # The deadlines of the connection, and one timer (the watch) that checks them: a
        # timer made and cancelled per request, and uvicorn's keep-alive timer beside it,
        # cost a request more than the check does (the watch is moved only when a deadline
        # comes before it, so under load it fires about once per timeout).
        self._deadline = math.inf  # of the headers, or of the body's next piece
        self._idle_until = math.inf  # keep-alive: the next request's first byte by then
        self._watch: asyncio.TimerHandle | None = None
        self._watch_at = math.inf
        super().connection_made(_OneWritePerAnswer(transport, self))
        self._follow_the_request()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._watch is not None:
            self._watch.cancel()
            self._watch = None
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        self._idle_until = math.inf
        super().data_received(data)
        self._follow_the_request()

    def on_response_complete(self) -> None:
        # uvicorn's, its keep-alive timeout kept as a deadline rather than a timer of its own.
        self.server_state.total_requests += 1
        if self.transport.is_closing():
            return
        self._unset_keepalive_if_required()
        self._idle_until = self.loop.time() + self.timeout_keep_alive
        self.flow.resume_reading()
        # Unblock any pipelined events.
        if self.conn.our_state is h11.DONE and self.conn.their_state is h11.DONE:
            self.conn.start_next_cycle()
            self.handle_events()
        self._follow_the_request()

    def _follow_the_request(self) -> None:
        state = self.conn.their_state
        if state is h11.SEND_BODY:
            self._idle_until = math.inf
            self._deadline = self.loop.time() + self.body_timeout  # each piece restarts it
        elif state is h11.IDLE:
            if self._deadline == math.inf:  # a deadline, not restarted by each header byte
                self._deadline = self.loop.time() + self.header_timeout
        else:
            self._deadline = self._idle_until = math.inf
            return
        self._watch_until(min(self._deadline, self._idle_until))

    def _watch_until(self, when: float) -> None:
        if when >= self._watch_at:
            return  # the watch comes first, and looks again then
        if self._watch is not None:
            self._watch.cancel()
        self._watch = self.loop.call_at(when, self._check)
        self._watch_at = when

    def _check(self) -> None:
        self._watch = None
        self._watch_at = math.inf
        if self.transport.is_closing():
            return
        now = self.loop.time()
        state = self.conn.their_state
        if state is h11.IDLE and self._idle_until <= now:
            self.timeout_keep_alive_handler()  # uvicorn's
            return
        if self._deadline <= now:
            if state is h11.SEND_BODY and self.flow.read_paused:
                # The emulator stopped reading (it has not consumed what came): not the client.
                self._deadline = now + self.body_timeout
            elif state is h11.IDLE or state is h11.SEND_BODY:
                self.transport.close()
                return
        when = min(self._deadline, self._idle_until)
        if when < math.inf:
            self._watch_until(when)


class _OneWritePerAnswer(asyncio.Transport):
    """The connection's transport, holding what is written while an answer's body is still to
    come (h11 says so: the head and body of an answer, its body pieces), and writing it all in
    one piece with the answer's end. What is held is written at the latest at the end of the
    event loop's turn, so a body that comes later (a stream) never keeps the head waiting."""

    def __init__(self, transport: asyncio.Transport, protocol: TimedH11Protocol) -> None:
        super().__init__()
        self._transport = transport
        self._protocol = protocol
        self._held: list[bytes] = []

    def write(self, data: bytes | bytearray | memoryview) -> None:
        held = self._held
        if self._protocol.conn.our_state is h11.SEND_BODY:
            if not held:
                self._protocol.loop.call_soon(self._write_held)
            held.append(bytes(data))
        elif held:
            held.append(bytes(data))
            self._write_held()
        else:
            self._transport.write(data)

    def _write_held(self) -> None:
        if self._held:
            data = b"".join(self._held)
            self._held.clear()
            if not self._transport.is_closing():
                self._transport.write(data)

    def writelines(self, list_of_data: Any) -> None:
        for data in list_of_data:
            self.write(data)

    def close(self) -> None:
        self._write_held()
        self._transport.close()

    def abort(self) -> None:
        self._held.clear()
        self._transport.abort()

    def write_eof(self) -> None:
        self._write_held()
        self._transport.write_eof()

    def can_write_eof(self) -> bool:
        return self._transport.can_write_eof()

    def is_closing(self) -> bool:
        return self._transport.is_closing()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self._transport.get_extra_info(name, default)

    def pause_reading(self) -> None:
        self._transport.pause_reading()

    def resume_reading(self) -> None:
        self._transport.resume_reading()

    def is_reading(self) -> bool:
        return self._transport.is_reading()

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self._write_held()
        self._transport.set_protocol(protocol)

    def get_protocol(self) -> asyncio.BaseProtocol:
        return self._transport.get_protocol()

    def get_write_buffer_size(self) -> int:
        return self._transport.get_write_buffer_size() + sum(map(len, self._held))

    def get_write_buffer_limits(self) -> tuple[int, int]:
        return self._transport.get_write_buffer_limits()

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        self._transport.set_write_buffer_limits(high, low)


def settle_heap() -> None:
    """The garbage collector tuned for a process that serves requests, once its app started.

    What start-up built (modules, the app, its routes and schemas: over 100,000 objects)
    lives as long as the process, yet every full collection walks it: under a stream of
    500-device batches one ran every fifty requests or so, for tens of milliseconds. Frozen
    (``gc.freeze``), those objects are left out of every collection. Cycles are still
    collected: the objects made from now on are collected as before, less often."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_GENERATION_THRESHOLD, *gc.get_threshold()[1:])


def configure(settings: Settings) -> None:
    """The timeouts of every connection this process serves from now on."""
    TimedH11Protocol.header_timeout = settings.header_timeout
    TimedH11Protocol.body_timeout = settings.body_timeout


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """What ``uvicorn.run`` / ``uvicorn.Config`` are given besides the app, host and port."""
    configure(settings)
    return {
        "http": TimedH11Protocol,
        "timeout_keep_alive": settings.idle_timeout,
        "h11_max_incomplete_event_size": MAX_HEADER_BYTES,
    }
