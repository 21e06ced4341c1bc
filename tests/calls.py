"""One-off HTTP calls to a live emulator from the tests, with a timeout fit for a busy host.

httpx's module functions give up after 5 s. On a CI host with a core kept busy by other work, a
server process that is starting, checkpointing or serving a 500-device batch can take longer
than that, and the test would fail on a timeout that says nothing about the emulator. A test
that waits on an answer waits for it (bounded, so a hung server still fails the test).
"""

from __future__ import annotations

from typing import Any

import httpx

TIMEOUT = httpx.Timeout(60)


def get(url: str, **kwargs: Any) -> httpx.Response:
    return httpx.get(url, **{"timeout": TIMEOUT, **kwargs})


def post(url: str, **kwargs: Any) -> httpx.Response:
    return httpx.post(url, **{"timeout": TIMEOUT, **kwargs})


def put(url: str, **kwargs: Any) -> httpx.Response:
    return httpx.put(url, **{"timeout": TIMEOUT, **kwargs})


def delete(url: str, **kwargs: Any) -> httpx.Response:
    return httpx.delete(url, **{"timeout": TIMEOUT, **kwargs})
