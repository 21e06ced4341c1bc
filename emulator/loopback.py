"""A lean HTTP/1.1 transport for ``httpx`` clients of an emulator over plain HTTP.

The pytest plugin hands every test an ``httpx.Client`` on a server running in a thread of the
same process. There, the client's HTTP stack is most of what a request costs: httpcore writes
a request's headers and its body in two sends, and each send hands the interpreter lock to
the server thread and back, while h11's event machinery and the connection pool's
bookkeeping run on both sides of them. This transport writes a request in one send and reads
the answer with a small parser, about a quarter less CPU per request, client and server
thread together.
Everything above the transport (URLs, headers, cookies, redirects, auth, events) is still
``httpx``'s; anything this transport does not speak (``https``, a request body of unknown
length) goes to an ``httpx.HTTPTransport``.

What it speaks: keep-alive connections, kept in a pool and tested before reuse (a server may
close an idle one); a request once written is never sent again, as with httpcore; an answer
sent while the request was still being written (a 413 before the body was read) is read;
bodies framed by ``Content-Length``, by chunked encoding, or by the connection's end; answers
without a body (``HEAD``, 1xx, 204, 304); header names and values checked as h11 checks them;
httpx's timeouts, and its exception classes for every failure.
"""

from __future__ import annotations

import re
import select
import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any

import httpx

# An answer's status line and headers beyond this are refused (the server's own limit on
# request headers is 16 KiB: emulator/server.py).
MAX_HEAD_BYTES = 64 * 1024
_READ_SIZE = 64 * 1024
_NO_BODY_STATUS = {204, 304}
_HAS_POLL = hasattr(select, "poll")
# A header name is a token; a value holds no CR, LF or NUL (RFC 9110 5.1, 5.5).
_BAD_NAME = re.compile(rb"[^!#$%&'*+\-.^_`|~0-9A-Za-z]")
_BAD_VALUE = re.compile(rb"[\r\n\x00]")


class _Connection:
    """One socket and what was read from it past the previous answer."""

    def __init__(self, sock: socket.socket, origin: tuple[str, int]) -> None:
        self.sock = sock
        self.origin = origin
        self.buffer = b""
        self.stream = _NetworkStream(sock)

    def alive(self) -> bool:
        """An idle connection the server has not closed: nothing is readable on it (an idle
        connection that is readable has reached its end, or holds bytes no request asked)."""
        try:
            if _HAS_POLL:
                poll = select.poll()
                poll.register(self.sock, select.POLLIN)
                return not poll.poll(0)
            readable, _, _ = select.select([self.sock], [], [], 0)  # Windows has no poll()
            return not readable
        except (OSError, ValueError):
            return False

    def recv(self) -> bytes:
        data = self.sock.recv(_READ_SIZE)
        if not data:
            raise _Closed
        return data

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass


class _NetworkStream:
    """What httpx's ``network_stream`` extension offers of a connection: its addresses and
    socket (``get_extra_info``), as httpcore's streams do."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock

    def get_extra_info(self, info: str) -> Any:
        if info == "client_addr":
            return self._sock.getsockname()
        if info == "server_addr":
            return self._sock.getpeername()
        if info == "socket":
            return self._sock
        return None


class _Closed(Exception):
    """The server closed the connection."""


class _Body(httpx.SyncByteStream):
    """An answer's body, read from the connection as the client asks for it; the connection
    goes back to the pool once the body is whole (or is closed, if the answer said so)."""

    def __init__(
        self,
        transport: LoopbackTransport,
        conn: _Connection,
        request: httpx.Request,
        framing: tuple[str, int],
        keep: bool,
    ) -> None:
        self._transport = transport
        self._conn: _Connection | None = conn
        self._request = request
        self._framing = framing
        self._keep = keep
        self._whole = False  # the body was read to its end: the connection can be reused

    def __iter__(self) -> Iterator[bytes]:
        conn = self._conn
        if conn is None:
            return
        kind, length = self._framing
        try:
            if kind == "length":
                yield from self._fixed(conn, length)
            elif kind == "chunked":
                yield from self._chunked(conn)
            else:  # to the connection's end
                self._keep = False
                yield from self._to_end(conn)
            self._whole = True
        except TimeoutError as exc:
            self._keep = False
            raise httpx.ReadTimeout(str(exc), request=self._request) from exc
        except (OSError, _Closed) as exc:
            self._keep = False
            message = f"the answer's body was cut: {exc!r}"
            raise httpx.ReadError(message, request=self._request) from exc
        finally:
            self.close()

    @staticmethod
    def _fixed(conn: _Connection, length: int) -> Iterator[bytes]:
        remaining = length
        while remaining:
            if not conn.buffer:
                conn.buffer = conn.recv()
            piece, conn.buffer = conn.buffer[:remaining], conn.buffer[remaining:]
            remaining -= len(piece)
            yield piece

    def _chunked(self, conn: _Connection) -> Iterator[bytes]:
        while True:
            line = self._line(conn)
            try:
                size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise httpx.RemoteProtocolError(
                    f"bad chunk size line {line[:40]!r}", request=self._request
                ) from None
            if size == 0:
                while self._line(conn):  # trailers, up to the empty line
                    pass
                return
            yield from self._fixed(conn, size)
            if self._line(conn):
                raise httpx.RemoteProtocolError("chunk not followed by CRLF", request=self._request)

    def _line(self, conn: _Connection) -> bytes:
        while b"\r\n" not in conn.buffer:
            if len(conn.buffer) > MAX_HEAD_BYTES:
                raise httpx.RemoteProtocolError("chunk line too long", request=self._request)
            conn.buffer += conn.recv()
        line, _, conn.buffer = conn.buffer.partition(b"\r\n")
        return line

    @staticmethod
    def _to_end(conn: _Connection) -> Iterator[bytes]:
        if conn.buffer:
            piece, conn.buffer = conn.buffer, b""
            yield piece
        while True:
            try:
                yield conn.recv()
            except _Closed:
                return

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        # Bytes past the answer (no request asked for them) would be read as the next one's.
        if self._keep and self._whole and not conn.buffer:
            self._transport._release(conn)
        else:
            conn.close()


class LoopbackTransport(httpx.BaseTransport):
    """An ``httpx`` transport for plain-HTTP emulators (see the module's text). Thread-safe:
    each request takes a connection of its own, from the pool of its host and port."""

    def __init__(self, fallback: Callable[[], httpx.BaseTransport] = httpx.HTTPTransport) -> None:
        self._idle: dict[tuple[str, int], list[_Connection]] = {}  # by host and port
        self._lock = threading.Lock()
        self._make_fallback = fallback  # made when first needed: it loads the CA bundle
        self._fallback: httpx.BaseTransport | None = None
        self._closed = False

    # --- the pool --------------------------------------------------------------------------

    def _take(self, request: httpx.Request) -> _Connection:
        origin = (request.url.host, request.url.port or 80)
        with self._lock:
            idle = self._idle.get(origin, [])
            while idle:
                conn = idle.pop()
                if conn.alive():
                    return conn
                conn.close()
        return self._connect(request, origin)

    def _release(self, conn: _Connection) -> None:
        with self._lock:
            if not self._closed:
                self._idle.setdefault(conn.origin, []).append(conn)
                return
        conn.close()

    def _connect(self, request: httpx.Request, origin: tuple[str, int]) -> _Connection:
        timeout = _timeout(request, "connect")
        try:
            sock = socket.create_connection(origin, timeout=timeout)
        except TimeoutError as exc:
            raise httpx.ConnectTimeout(str(exc), request=request) from exc
        except OSError as exc:
            raise httpx.ConnectError(str(exc), request=request) from exc
        # The request goes out in one write; waiting to fill a segment only adds latency.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return _Connection(sock, origin)

    # --- a request --------------------------------------------------------------------------

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if self._closed:
            raise RuntimeError("the transport is closed")
        streamed = (
            "transfer-encoding" in request.headers and "content-length" not in request.headers
        )
        if request.url.scheme != "http" or streamed:
            return self._other().handle_request(request)
        body = request.read()
        for name, value in request.headers.raw:
            if _BAD_NAME.search(name) or _BAD_VALUE.search(value):
                # What h11 refuses too: a CR or LF would start a header of its own.
                raise httpx.LocalProtocolError(f"illegal header {name!r}", request=request)
        head = [b"%s %s HTTP/1.1\r\n" % (request.method.encode(), request.url.raw_path)]
        head += [b"%s: %s\r\n" % (name, value) for name, value in request.headers.raw]
        head.append(b"\r\n")
        conn = self._take(request)
        try:
            return self._exchange(conn, request, b"".join(head) + body)
        except BaseException:
            conn.close()
            raise

    def _exchange(
        self, conn: _Connection, request: httpx.Request, message: bytes
    ) -> httpx.Response:
        # A request once written is never sent again (as httpcore): the server may have acted
        # on it. A connection the server closed while idle is caught before reuse (_take).
        conn.sock.settimeout(_timeout(request, "write"))
        written = True
        try:
            conn.sock.sendall(message)
        except TimeoutError as exc:
            raise httpx.WriteTimeout(str(exc), request=request) from exc
        except OSError:
            # The server stopped reading: it may have answered already (a 413 for a body
            # over its limit, sent before the body was read), so its answer is read.
            written = False
        conn.sock.settimeout(_timeout(request, "read"))
        try:
            while True:
                status, version, reason, headers = self._head(conn, request)
                if not 100 <= status < 200 or status == 101:
                    break
        except TimeoutError as exc:
            raise httpx.ReadTimeout(str(exc), request=request) from exc
        except (_Closed, ConnectionResetError):
            closed = "the server closed the connection without answering"
            raise httpx.RemoteProtocolError(closed, request=request) from None
        except OSError as exc:
            raise httpx.ReadError(str(exc), request=request) from exc
        framing, keep = _framing(request, status, headers)
        keep = keep and written  # a request cut short leaves the connection unusable
        return httpx.Response(
            status,
            headers=headers,
            stream=_Body(self, conn, request, framing, keep),
            request=request,
            extensions={
                "http_version": version,
                "reason_phrase": reason,
                "network_stream": conn.stream,
            },
        )

    @staticmethod
    def _head(
        conn: _Connection, request: httpx.Request
    ) -> tuple[int, bytes, bytes, list[tuple[bytes, bytes]]]:
        """The status, HTTP version, reason and headers of the next answer on ``conn``."""
        while True:
            end = conn.buffer.find(b"\r\n\r\n")
            if end >= 0:
                break
            if len(conn.buffer) > MAX_HEAD_BYTES:
                raise httpx.RemoteProtocolError(
                    "the answer's headers are too long", request=request
                )
            try:
                conn.buffer += conn.recv()
            except _Closed:
                if conn.buffer:
                    raise httpx.RemoteProtocolError(
                        "the server closed the connection mid-answer", request=request
                    ) from None
                raise
        head, conn.buffer = conn.buffer[:end], conn.buffer[end + 4 :]
        status_line, *lines = head.split(b"\r\n")
        parts = status_line.split(b" ", 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or not parts[1].isdigit():
            raise httpx.RemoteProtocolError(
                f"bad status line {status_line[:60]!r}", request=request
            )
        headers = []
        for line in lines:
            name, sep, value = line.partition(b":")
            if not sep or not name or name != name.strip():
                raise httpx.RemoteProtocolError(f"bad header line {line[:60]!r}", request=request)
            headers.append((name, value.strip()))
        return int(parts[1]), parts[0], parts[2] if len(parts) > 2 else b"", headers

    # --- the rest ---------------------------------------------------------------------------

    def _other(self) -> httpx.BaseTransport:
        with self._lock:
            if self._fallback is None:
                self._fallback = self._make_fallback()
            return self._fallback

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, {}
            fallback = self._fallback
        for conn in (c for conns in idle.values() for c in conns):
            conn.close()
        if fallback is not None:
            fallback.close()


def _timeout(request: httpx.Request, kind: str) -> float | None:
    timeouts: dict[str, Any] = request.extensions.get("timeout", {})
    value = timeouts.get(kind)
    return None if value is None else float(value)


def _framing(
    request: httpx.Request, status: int, headers: list[tuple[bytes, bytes]]
) -> tuple[tuple[str, int], bool]:
    """How the body of an answer ends, and whether its connection can carry another request."""
    length: int | None = None
    chunked = False
    keep = True
    for name, value in headers:
        lowered = name.lower()
        if lowered == b"content-length":
            if not value.isdigit():
                raise httpx.RemoteProtocolError(f"bad Content-Length {value!r}", request=request)
            length = int(value)
        elif lowered == b"transfer-encoding":
            chunked = value.lower().endswith(b"chunked")
        elif lowered == b"connection":
            keep = b"close" not in value.lower()
    if request.method == "HEAD" or status in _NO_BODY_STATUS:
        return ("length", 0), keep
    if chunked:
        return ("chunked", 0), keep
    if length is not None:
        return ("length", length), keep
    return ("end", 0), False
