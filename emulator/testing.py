"""Running the emulator for tests: a real uvicorn server in a background thread.

Used by the emulator's own suite (server mode) and by the pytest plugin.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from fastapi import FastAPI


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def serve_in_thread(
    app: FastAPI, host: str = "127.0.0.1", port: int = 0, *, lifespan: bool = False
) -> Iterator[str]:
    """Serve ``app`` on a real socket until the block ends; yields the base URL.

    ``lifespan``: run the app's startup and shutdown too (its device-protocol listeners)."""
    from emulator.config import Settings
    from emulator.server import uvicorn_options

    port = port or free_port(host)
    emulator = getattr(app.state, "emulator", None)
    settings: Settings = emulator.settings if emulator is not None else Settings()
    config = uvicorn.Config(
        app, host=host, port=port, log_level="warning",
        lifespan="on" if lifespan else "off", **uvicorn_options(settings),
    )  # fmt: skip
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"iot-emulator:{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"the emulator did not start on {host}:{port}")
        time.sleep(0.01)
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
