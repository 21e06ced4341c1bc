"""``emulator.loopback.LoopbackTransport``: the plugin's HTTP/1.1 client transport.

Against the emulator on a real socket, it must give what httpx's own transport gives; against
a scripted server (a socket answering bytes written here), it must frame bodies, reuse and
retire connections, and fail with httpx's exceptions as httpx's own transport does.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from emulator.app import create_app
from emulator.config import Settings
from emulator.loopback import LoopbackTransport
from emulator.testing import listening_socket, serve_in_thread

MCS = {"Authorization": "Bearer any-well-formed-token"}
PLUG = {"prodId": "a1234567890", "name": "plug", "isTest": True}


@pytest.fixture(scope="module")
def emulator_url() -> Iterator[str]:
    with serve_in_thread(create_app(Settings(db=":memory:", seed=7))) as url:
        yield url


# --- against the emulator -----------------------------------------------------------------


def exchanges(client: httpx.Client) -> list[tuple[int, dict[str, str], bytes]]:
    """A few requests of each kind: a vendor success and error, control plane, 404, HEAD."""
    # The same clock on both servers: the answers carry creation times.
    client.post("/_emulator/clock", json={"freeze": 1_700_000_000_000}).raise_for_status()
    answers = [
        client.post("/ns/lb/mcs/v2/devices", headers=MCS, json=PLUG),
        client.post("/ns/lb/mcs/v2/devices", headers=MCS, content=b"{not json"),
        client.get("/ns/lb/_emulator/devices", params={"vendor": "mcs"}),
        client.get("/ns/lb/no/such/path"),
        client.head("/_emulator/health"),
        client.get("/_emulator/ui/static/main.js"),
    ]
    drop = {"date", "x-request-id"}
    return [
        (a.status_code, {k: v for k, v in a.headers.items() if k not in drop}, a.content)
        for a in answers
    ]


def test_the_emulator_answers_it_as_it_answers_httpx_own_transport() -> None:
    settings = Settings(db=":memory:", seed=7)
    with serve_in_thread(create_app(settings)) as one, serve_in_thread(create_app(settings)) as two:
        with (
            httpx.Client(base_url=one) as plain,
            httpx.Client(base_url=two, transport=LoopbackTransport()) as lean,
        ):
            expected = exchanges(plain)
            got = exchanges(lean)
    assert [status for status, _, _ in got] == [200, 400, 200, 404, 405, 200]
    assert got == expected


def test_one_connection_carries_sequential_requests(emulator_url: str) -> None:
    transport = LoopbackTransport()
    with httpx.Client(base_url=emulator_url, transport=transport) as client:
        client.get("/_emulator/health").raise_for_status()
        [first] = idle(transport)
        for _ in range(3):
            client.get("/_emulator/health").raise_for_status()
        assert idle(transport) == [first]


def idle(transport: LoopbackTransport) -> list[socket.socket]:
    return [conn.sock for conns in transport._idle.values() for conn in conns]


def test_each_server_gets_its_own_connections() -> None:
    """One transport, two servers (the plugin shares one between the emulators of different
    settings): a request reaches the server its URL names, whichever connection is idle."""
    transport = LoopbackTransport()
    settings = Settings(db=":memory:", seed=7)
    with (
        serve_in_thread(create_app(settings)) as one,
        serve_in_thread(create_app(settings)) as two,
        httpx.Client(transport=transport) as client,
    ):
        for _ in range(3):
            for url in (one, two):
                answer = client.post(f"{url}/ns/lb/mcs/v2/devices", headers=MCS, json=PLUG)
                assert answer.status_code == 200
        for url in (one, two):
            devices = client.get(f"{url}/ns/lb/_emulator/devices").json()
            assert devices["total"] == 3
        assert len(idle(transport)) == 2


def test_concurrent_requests_each_take_a_connection(emulator_url: str) -> None:
    transport = LoopbackTransport()
    with httpx.Client(base_url=f"{emulator_url}/ns/lb-threads", transport=transport) as client:

        def register(n: int) -> int:
            body = {**PLUG, "name": f"plug{n}"}
            return client.post("/mcs/v2/devices", headers=MCS, json=body).status_code

        with ThreadPoolExecutor(8) as pool:
            assert list(pool.map(register, range(64))) == [200] * 64
        devices = client.get("/_emulator/devices", params={"vendor": "mcs"}).json()
        assert {d["name"] for d in devices["devices"]} == {f"plug{n}" for n in range(64)}
        assert 1 <= len(idle(transport)) <= 8


# --- against a scripted server --------------------------------------------------------------

Script = Callable[[socket.socket, int], None]


class Scripted:
    """A server that runs ``script(connection, number)`` for each connection it accepts."""

    def __init__(self, script: Script) -> None:
        self.sock = listening_socket()
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.accepted = 0
        self._script = script
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            threading.Thread(target=self._run, args=(conn, self.accepted), daemon=True).start()

    def _run(self, conn: socket.socket, number: int) -> None:
        with conn:
            try:
                self._script(conn, number)
            except OSError:
                pass

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def scripted() -> Iterator[Callable[[Script], Scripted]]:
    servers: list[Scripted] = []

    def start(script: Script) -> Scripted:
        servers.append(Scripted(script))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def read_request(conn: socket.socket) -> bytes:
    """One request's head and (Content-Length) body."""
    data = b""
    while b"\r\n\r\n" not in data:
        piece = conn.recv(65536)
        if not piece:
            return data
        data += piece
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(body) < length:
        body += conn.recv(65536)
    return head + b"\r\n\r\n" + body


def answering(*answers: bytes, then_close: bool = False) -> Script:
    """Each request on a connection gets the next answer; the connection closes after them."""

    def script(conn: socket.socket, number: int) -> None:
        for answer in answers:
            if not read_request(conn):
                return
            conn.sendall(answer)
        if not then_close:
            read_request(conn)

    return script


def client_of(server: Scripted, **kwargs: object) -> httpx.Client:
    return httpx.Client(base_url=server.url, transport=LoopbackTransport(), **kwargs)  # type: ignore[arg-type]


def test_the_request_goes_out_whole_in_one_message(scripted: Callable[[Script], Scripted]) -> None:
    seen: list[bytes] = []

    def script(conn: socket.socket, number: int) -> None:
        seen.append(read_request(conn))
        conn.sendall(b"HTTP/1.1 201 Created\r\nContent-Length: 2\r\nX-Odd: a b \r\n\r\nok")

    with client_of(scripted(script)) as client:
        answer = client.post("/p?q=1", json={"a": 1}, headers={"X-Custom": "v"})
    assert (answer.status_code, answer.reason_phrase, answer.text) == (201, "Created", "ok")
    assert answer.headers["x-odd"] == "a b"
    assert answer.http_version == "HTTP/1.1"
    head, _, body = seen[0].partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    assert lines[0] == b"POST /p?q=1 HTTP/1.1"
    assert b"X-Custom: v" in lines
    assert b"Content-Length: 7" in lines
    assert body == b'{"a":1}'


def test_a_chunked_body_is_put_together(scripted: Callable[[Script], Scripted]) -> None:
    chunked = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5;ext=1\r\nhello\r\n1\r\n \r\n5\r\nworld\r\n0\r\nTrailer: x\r\n\r\n"
    )
    server = scripted(answering(chunked, b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nnext"))
    with client_of(server) as client:
        assert client.get("/").text == "hello world"
        assert client.get("/").text == "next"  # the same connection, framed right
    assert server.accepted == 1


def test_a_body_to_the_connections_end(scripted: Callable[[Script], Scripted]) -> None:
    server = scripted(answering(b"HTTP/1.1 200 OK\r\n\r\nall of it", then_close=True))
    with client_of(server) as client:
        assert client.get("/").text == "all of it"
        assert client.get("/").text == "all of it"  # a new connection: that one ended
    assert server.accepted == 2


def test_answers_without_a_body(scripted: Callable[[Script], Scripted]) -> None:
    server = scripted(
        answering(
            b"HTTP/1.1 204 No Content\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n",  # HEAD: the length, no body
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
        )
    )
    with client_of(server) as client:
        assert client.delete("/").status_code == 204
        head = client.head("/")
        assert (head.status_code, head.content, head.headers["content-length"]) == (200, b"", "9")
        assert client.get("/").text == "ok"
    assert server.accepted == 1


def test_connection_close_is_honoured(scripted: Callable[[Script], Scripted]) -> None:
    answer = b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\nx"
    server = scripted(answering(answer, then_close=True))
    with client_of(server) as client:
        assert [client.get("/").text for _ in range(3)] == ["x", "x", "x"]
    assert server.accepted == 3


def test_a_connection_the_server_closed_while_idle_is_not_reused(
    scripted: Callable[[Script], Scripted],
) -> None:
    closed = threading.Event()

    def script(conn: socket.socket, number: int) -> None:
        read_request(conn)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n%d" % number)
        conn.close()  # as a server's idle timeout does
        closed.set()

    server = scripted(script)
    with client_of(server) as client:
        assert client.get("/").text == "1"
        assert closed.wait(10)
        assert client.get("/").text == "2"


def test_a_request_once_written_is_never_sent_again(
    scripted: Callable[[Script], Scripted],
) -> None:
    """The server read the request on a kept-alive connection and closed it unanswered: it may
    have acted on it, so the request fails rather than going again (as with httpcore)."""
    seen: list[bytes] = []

    def script(conn: socket.socket, number: int) -> None:
        seen.append(read_request(conn))
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n%d" % number)
        seen.append(read_request(conn))  # the second request arrives, and goes unanswered

    server = scripted(script)
    with client_of(server) as client:
        assert client.get("/").text == "1"
        with pytest.raises(httpx.RemoteProtocolError):
            client.post("/create", content=b"once")
    assert server.accepted == 1
    assert [r.split(b" ", 2)[:2] for r in seen] == [[b"GET", b"/"], [b"POST", b"/create"]]


def test_an_answer_sent_before_the_body_was_read_is_read(
    scripted: Callable[[Script], Scripted],
) -> None:
    """A server that refuses a body by its Content-Length answers and closes without reading
    it (the emulator's 413): the client gets that answer, not a write error."""

    def script(conn: socket.socket, number: int) -> None:
        data = b""
        while b"\r\n\r\n" not in data:
            data += conn.recv(65536)
        conn.sendall(
            b"HTTP/1.1 413 Content Too Large\r\nConnection: close\r\nContent-Length: 3\r\n\r\nbig"
        )
        conn.shutdown(socket.SHUT_WR)
        conn.settimeout(5)
        try:
            while conn.recv(65536):  # drained, as a closing server's kernel does
                pass
        except OSError:
            pass

    server = scripted(script)
    with client_of(server) as client:
        answer = client.post("/", content=b"x" * 8_000_000)
    assert (answer.status_code, answer.text) == (413, "big")


@pytest.mark.parametrize(
    "headers", [{"X-Evil": "a\r\nX-Injected: 1"}, {"X-Nul": "a\x00b"}, {"Bad Name": "v"}]
)
def test_a_header_that_would_change_the_message_is_refused(headers: dict[str, str]) -> None:
    with (
        httpx.Client(transport=LoopbackTransport()) as client,
        pytest.raises(httpx.LocalProtocolError),
    ):
        client.get("http://127.0.0.1:1/", headers=headers)


def test_bytes_past_the_answer_retire_the_connection(
    scripted: Callable[[Script], Scripted],
) -> None:
    server = scripted(answering(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA", b""))
    with client_of(server) as client:
        assert client.get("/").text == "ok"
        assert client.get("/").text == "ok"  # on a new connection, not "EXTRA..."
    assert server.accepted == 2


def test_a_new_connection_closed_unanswered_is_an_error(
    scripted: Callable[[Script], Scripted],
) -> None:
    def script(conn: socket.socket, number: int) -> None:
        read_request(conn)  # and close, unanswered

    server = scripted(script)
    with client_of(server) as client, pytest.raises(httpx.RemoteProtocolError):
        client.get("/")
    assert server.accepted == 1


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", httpx.ReadError),
        (b"HTTP/1.1 200 OK\r\nContent-Le", httpx.RemoteProtocolError),
        (b"NOT-HTTP 200\r\n\r\n", httpx.RemoteProtocolError),
        (b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n", httpx.RemoteProtocolError),
        (b"HTTP/1.1 200 OK\r\nContent-Length: ten\r\n\r\n", httpx.RemoteProtocolError),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", httpx.RemoteProtocolError),
    ],
)
def test_broken_answers_raise_httpx_errors(
    scripted: Callable[[Script], Scripted], answer: bytes, error: type[Exception]
) -> None:
    server = scripted(answering(answer, then_close=True))
    with client_of(server) as client, pytest.raises(error):
        client.get("/")


@pytest.mark.parametrize(
    "sent_first",
    [b"", b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhalf"],
    ids=["no answer", "half a body"],
)
def test_an_answer_that_stops_coming_times_out_as_httpx_does(
    scripted: Callable[[Script], Scripted], sent_first: bytes
) -> None:
    release = threading.Event()

    def script(conn: socket.socket, number: int) -> None:
        read_request(conn)
        conn.sendall(sent_first)
        release.wait(30)

    server = scripted(script)
    try:
        with client_of(server, timeout=0.2) as client, pytest.raises(httpx.ReadTimeout):
            client.get("/")
    finally:
        release.set()


def test_a_refused_connection_is_a_connect_error() -> None:
    with listening_socket() as sock:
        port = sock.getsockname()[1]
    with (
        httpx.Client(transport=LoopbackTransport()) as client,
        pytest.raises(httpx.ConnectError),
    ):
        client.get(f"http://127.0.0.1:{port}/")


def test_a_body_left_unread_retires_its_connection(
    scripted: Callable[[Script], Scripted],
) -> None:
    big = b"HTTP/1.1 200 OK\r\nContent-Length: 200000\r\n\r\n" + b"x" * 200_000
    server = scripted(answering(big, big))
    with client_of(server) as client:
        with client.stream("GET", "/") as answer:
            assert next(answer.iter_raw())  # a first piece, then the rest left unread
        assert client.get("/").content == b"x" * 200_000
    assert server.accepted == 2


def test_what_it_does_not_speak_goes_to_the_fallback() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(200, text="fallback")

    def streamed() -> Iterator[bytes]:
        yield b"piece"

    transport = LoopbackTransport(fallback=lambda: httpx.MockTransport(handler))
    with httpx.Client(transport=transport) as client:
        assert client.get("https://example.invalid/x").text == "fallback"
        assert client.post("http://127.0.0.1:1/up", content=streamed()).text == "fallback"
    assert seen == ["https://example.invalid/x", "http://127.0.0.1:1/up"]
