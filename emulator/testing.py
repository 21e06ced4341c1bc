"""Running the emulator for tests: a real uvicorn server in a background thread.

Used by the emulator's own suite (server mode) and by the pytest plugin.
"""

from __future__ import annotations

import random
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from fastapi import FastAPI

# Where free_port looks: below Linux's ephemeral range (32768-60999), so a port picked here is
# never handed to some client's outgoing connection between the pick and the server's bind;
# picked at random, so tests running in parallel rarely try the same one.
_PICK_FROM = range(20_000, 32_768)
# Not the module's generator: a test or the emulator may have seeded it, and every process
# would then pick the same ports.
_RANDOM = random.SystemRandom()


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port on ``host`` that nothing listens on now, for a server started next.

    The port is free when picked, not reserved: prefer binding port 0 yourself where the
    server can take a socket (``serve_in_thread``)."""
    for _ in range(100):
        port = _RANDOM.choice(_PICK_FROM)
        with socket.socket() as sock:
            try:
                sock.bind((host, port))
            except OSError:
                continue
            return port
    with socket.socket() as sock:  # the whole range busy: whatever the kernel gives
        sock.bind((host, 0))
        chosen: int = sock.getsockname()[1]
        return chosen


def listening_socket(host: str = "127.0.0.1", port: int = 0) -> socket.socket:
    """A TCP socket bound to ``host:port`` and listening, for a server to take over.

    Made with ``IPPROTO_TCP`` named rather than left 0: the connections accepted from it
    inherit that, and asyncio turns Nagle's algorithm off (``TCP_NODELAY``) only on sockets
    that say they are TCP. With Nagle on, an answer written in two pieces (headers, then
    body) waited for the client's delayed ACK: about 40 ms a request on Linux.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    return sock


@contextmanager
def serve_in_thread(
    app: FastAPI, host: str = "127.0.0.1", port: int = 0, *, lifespan: bool = False
) -> Iterator[str]:
    """Serve ``app`` on a real socket until the block ends; yields the base URL.

    The socket is bound here, before the server starts (port 0: any free port), so no other
    process can take the port in between, and a client that connects early waits in the
    listen queue instead of being refused. ``lifespan``: run the app's startup and shutdown
    too (its device-protocol listeners).
    """
    from emulator.config import Settings
    from emulator.server import uvicorn_options

    sock = listening_socket(host, port)
    family = sock.family
    port = sock.getsockname()[1]
    emulator = getattr(app.state, "emulator", None)
    settings: Settings = emulator.settings if emulator is not None else Settings()
    config = uvicorn.Config(
        app, host=host, port=port, log_level="warning",
        lifespan="on" if lifespan else "off", **uvicorn_options(settings),
    )  # fmt: skip
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name=f"iot-emulator:{port}", daemon=True
    )
    thread.start()
    # Waits for the event (the server started, or its thread ended); the bound only turns a
    # server that hangs into an error, however loaded the machine.
    deadline = time.monotonic() + 120
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            sock.close()
            raise RuntimeError(f"the emulator did not start on {host}:{port}")
        time.sleep(0.01)
    url_host = f"[{host}]" if family == socket.AF_INET6 else host
    try:
        yield f"http://{url_host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=60)
        sock.close()
