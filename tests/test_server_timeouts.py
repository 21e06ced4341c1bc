"""A client that sends its headers or its body a byte at a time, or nothing, does not hold a
connection forever (emulator/server.py): the server closes it. Each test waits for the close
itself (a read that returns nothing), with a socket timeout far above the setting only as a
safety net."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest

from emulator.app import create_app
from emulator.config import Settings
from emulator.testing import serve_in_thread

SAFETY_NET_S = 60


@pytest.fixture(scope="module")
def address() -> Iterator[tuple[str, int]]:
    settings = Settings(db=":memory:", idle_timeout=1, header_timeout=0.5, body_timeout=0.5)
    app = create_app(settings)
    try:
        with serve_in_thread(app) as url:
            host, _, port = url.removeprefix("http://").partition(":")
            yield host, int(port)
    finally:
        app.state.emulator.dispose()


def wait_for_close(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection."""
    sock.settimeout(SAFETY_NET_S)
    received = b""
    while chunk := sock.recv(65536):
        received += chunk
    return received


def test_headers_never_finished_are_cut_off(address: tuple[str, int]) -> None:
    with socket.create_connection(address) as sock:
        sock.sendall(b"GET /_emulator/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        assert wait_for_close(sock) == b""


def test_a_body_that_stops_coming_is_cut_off(address: tuple[str, int]) -> None:
    with socket.create_connection(address) as sock:
        sock.sendall(
            b"POST /_emulator/faults HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"
        )
        assert b"201" not in wait_for_close(sock)


def test_an_idle_connection_is_closed_after_its_answer(address: tuple[str, int]) -> None:
    with socket.create_connection(address) as sock:
        sock.sendall(b"GET /_emulator/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        received = wait_for_close(sock)
    assert received.startswith(b"HTTP/1.1 200")
    assert b'"status":"ok"' in received


def test_a_connection_answered_in_time_stays_open_past_the_first_deadline(
    address: tuple[str, int],
) -> None:
    # Each answer starts the next request's deadline (0.5 s) afresh.
    with socket.create_connection(address) as sock:
        sock.settimeout(SAFETY_NET_S)
        for _ in range(4):
            sock.sendall(b"GET /_emulator/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            answer = b""
            while b'"status":"ok"' not in answer:
                chunk = sock.recv(65536)
                assert chunk, "closed before its answer"
                answer += chunk
            time.sleep(0.3)


def test_keep_alive_closes_an_idle_connection_before_the_header_deadline() -> None:
    settings = Settings(db=":memory:", idle_timeout=1, header_timeout=SAFETY_NET_S)
    app = create_app(settings)
    try:
        with serve_in_thread(app) as url:
            host, _, port = url.removeprefix("http://").partition(":")
            with socket.create_connection((host, int(port))) as sock:
                sock.sendall(b"GET /_emulator/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
                received = wait_for_close(sock)
    finally:
        app.state.emulator.dispose()
    assert received.startswith(b"HTTP/1.1 200")
