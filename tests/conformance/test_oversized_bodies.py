"""A body over EMULATOR_MAX_BODY_BYTES, sent whole before the client reads, with
``Connection: close`` (Python's urllib does so, and the official EnOS client built on it): the
client always reads the vendor's answer, never a reset or a broken pipe (README "Limits").

Over a real socket, always: the emulator here is served by uvicorn from a listening socket
with a small receive buffer, so the kernel cannot swallow a body the server leaves unread. A
server that answered and closed without reading the body would reset every one of these
connections, not only some: each case is deterministic.
"""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import uvicorn

from emulator.app import create_app
from emulator.config import Settings
from emulator.core.routing import DRAIN_BYTES
from tests.conftest import MODE

pytestmark = pytest.mark.skipif(
    MODE == "server",
    reason="these serve their own emulator over a socket in both passes: they run once, in the"
    " in-process pass",
)

MIB = 1024 * 1024
LIMIT = MIB  # EMULATOR_MAX_BODY_BYTES, the default
# The server's receive buffer: far below every body sent here.
RECEIVE_BUFFER = 64 * 1024


@dataclass(frozen=True)
class Operation:
    name: str
    path: str
    status: int  # the HTTP status of the vendor's invalid-argument answer
    code: int  # its code: Quectel 50005 "param check error", EnOS 99400, MCS 400
    headers: tuple[tuple[str, str], ...] = ()


def vendor_code(body: dict[str, Any]) -> object:
    results = body.get("results")
    return results.get("code") if isinstance(results, dict) else body.get("code")


# The POST operations of the five vendor docs.
OPERATIONS = [
    Operation(
        "quectel.devicemgr.create_batch", "/v2/devicemgr/r3/openapi/device/createBatch", 200, 50005
    ),
    Operation(
        "quectel.enduser.batch_control_device",
        "/v2/binding/enduserapi/batchControlDevice",
        200,
        50005,
    ),
    Operation(
        "enos.connect.create_device",
        "/connect-service/v2.1/devices?action=create&orgId=o15475450989191",
        200,
        99400,
        (("apim-accesstoken", "any-well-formed-token"),),
    ),
    Operation(
        "enos.dps.allocate_device",
        "/dps-service/v2.5/pvs/device?action=allocate&orgId=yourOrgId",
        200,
        99400,
        (("apim-accesstoken", "any-well-formed-token"),),
    ),
    Operation("mcs.register_device", "/mcs/v2/devices", 400, 400, (("Authorization", "Bearer x"),)),
]


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[str, int]]:
    app = create_app(Settings(db=":memory:", seed=1, max_body_bytes=LIMIT))
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)  # accepted ones inherit it
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    config = uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False)
    uvicorn_server = uvicorn.Server(config)
    thread = threading.Thread(target=uvicorn_server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not uvicorn_server.started:  # the event: the server serves, or its thread died
        assert thread.is_alive(), "the emulator did not start"
        time.sleep(0.01)
    try:
        yield sock.getsockname()
    finally:
        uvicorn_server.should_exit = True
        thread.join(timeout=60)
        sock.close()
        app.state.emulator.dispose()


def post_whole_then_read(
    address: tuple[str, int], op: Operation, body_size: int, *, chunked: bool = False
) -> tuple[int, dict[str, Any]]:
    """Sends the request line, the headers and the whole body, and only then reads the answer
    to its end (the server closes the connection)."""
    headers = [("Host", "127.0.0.1"), ("Content-Type", "application/json"), *op.headers]
    headers.append(("Connection", "close"))
    headers.append(
        ("Transfer-Encoding", "chunked") if chunked else ("Content-Length", str(body_size))
    )
    head = f"POST {op.path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers) + "\r\n"
    piece = b"[" + b" " * (MIB - 1)
    with socket.create_connection(address, timeout=120) as conn:
        conn.sendall(head.encode())
        sent = 0
        while sent < body_size:
            part = piece[: min(len(piece), body_size - sent)]
            conn.sendall(b"%x\r\n%s\r\n" % (len(part), part) if chunked else part)
            sent += len(part)
        if chunked:
            conn.sendall(b"0\r\n\r\n")
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
    head_bytes, _, body = answer.partition(b"\r\n\r\n")
    status = int(head_bytes.split(b" ", 2)[1])
    return status, json.loads(body)


@pytest.mark.parametrize("size", [3 * MIB, 50 * MIB], ids=["3MiB", "50MiB"])
@pytest.mark.parametrize("op", OPERATIONS, ids=[op.name for op in OPERATIONS])
def test_a_declared_body_over_the_limit_gets_the_vendors_answer(
    server: tuple[str, int], op: Operation, size: int
) -> None:
    status, body = post_whole_then_read(server, op, size)

    assert (status, vendor_code(body)) == (op.status, op.code)


@pytest.mark.parametrize("size", [3 * MIB, LIMIT + 1], ids=["3MiB", "limit+1"])
@pytest.mark.parametrize("op", OPERATIONS, ids=[op.name for op in OPERATIONS])
def test_a_chunked_body_over_the_limit_gets_the_vendors_answer(
    server: tuple[str, int], op: Operation, size: int
) -> None:
    # limit+1: the last piece, which ends the body, is the one that crosses the limit.
    status, body = post_whole_then_read(server, op, size, chunked=True)

    assert (status, vendor_code(body)) == (op.status, op.code)


def test_the_largest_body_drained_is_read_to_its_end(server: tuple[str, int]) -> None:
    status, body = post_whole_then_read(server, OPERATIONS[2], DRAIN_BYTES)

    assert (status, body["code"]) == (200, 99400)


def test_urllib_reads_the_answer(server: tuple[str, int]) -> None:
    # Python's own client, as the official EnOS client uses it.
    op = OPERATIONS[2]
    request = urllib.request.Request(
        f"http://{server[0]}:{server[1]}{op.path}",
        data=b" " * (3 * MIB),
        headers={"Content-Type": "application/json", **dict(op.headers)},
        method="POST",
    )

    with urllib.request.urlopen(request, timeout=120) as answer:
        body = json.loads(answer.read())

    assert body["code"] == 99400
    assert f"request body over {LIMIT} bytes" in body["msg"]
