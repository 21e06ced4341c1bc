"""How the server writes its answers (emulator/server.py): an answer whose body is complete goes
to the socket in one write, its head and body together; a body that comes later does not keep
the head waiting."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from uvicorn.config import Config
from uvicorn.server import ServerState

from emulator.server import TimedH11Protocol

REQUEST = b"GET /x HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"


class RecordingTransport(asyncio.Transport):
    """What a socket transport is to the protocol, keeping each write."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: Any) -> None:
        self.writes.append(bytes(data))

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"sockname": ("127.0.0.1", 8080), "peername": ("127.0.0.1", 50000)}.get(
            name, default
        )

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


async def whole_answer(scope: Any, receive: Any, send: Any) -> None:
    await send(
        {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"5")]}
    )
    await send({"type": "http.response.body", "body": b"hello"})


async def streamed_answer(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"first", "more_body": True})
    await asyncio.sleep(0.05)
    await send({"type": "http.response.body", "body": b"second"})


async def serve(app: Any, transport: RecordingTransport, requests: int = 1) -> TimedH11Protocol:
    config = Config(app, log_level="warning", access_log=False, lifespan="off")
    protocol = TimedH11Protocol(config, ServerState(), {}, asyncio.get_running_loop())
    protocol.connection_made(transport)
    protocol.data_received(REQUEST * requests)
    return protocol


async def answered(transport: RecordingTransport, count: int) -> None:
    while sum(w.count(b"HTTP/1.1 200") for w in transport.writes) < count:
        await asyncio.sleep(0)
    await asyncio.sleep(0)


@pytest.mark.parametrize("requests", [1, 3])
def test_an_answer_with_its_whole_body_is_one_write(requests: int) -> None:
    async def run() -> list[bytes]:
        transport = RecordingTransport()
        protocol = await serve(whole_answer, transport, requests)
        await asyncio.wait_for(answered(transport, requests), 30)
        protocol.connection_lost(None)
        return transport.writes

    writes = asyncio.run(run())

    assert len(writes) == requests  # pipelined requests: one write each
    assert all(w.startswith(b"HTTP/1.1 200") and w.endswith(b"\r\n\r\nhello") for w in writes)


def test_a_streamed_body_does_not_hold_the_head_back() -> None:
    async def run() -> tuple[bytes, bytes]:
        transport = RecordingTransport()
        protocol = await serve(streamed_answer, transport)
        await asyncio.wait_for(answered(transport, 1), 30)
        before_the_rest = b"".join(transport.writes)  # the rest comes 50 ms later
        while not protocol.cycle.response_complete:
            await asyncio.sleep(0.01)
        protocol.connection_lost(None)
        return before_the_rest, b"".join(transport.writes)

    first, everything = asyncio.run(run())

    assert first.startswith(b"HTTP/1.1 200")
    assert first.endswith(b"5\r\nfirst\r\n")
    assert everything.endswith(b"6\r\nsecond\r\n0\r\n\r\n")
