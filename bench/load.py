"""Load generation: wrk when it is installed, a small asyncio client otherwise.

Both drive a server at a fixed concurrency for a fixed time and report requests/s and the
p50/p99 latency of successful requests. Whichever is used drives the bare app and the
emulator alike, so the ratios compare like with like.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

# Each run's request numbers start past the last run's: a scenario that makes its keys from
# the number (createBatch) would otherwise send a run's keys again in the next run against the
# same server (the measured run after its warm-up), and be answered "already exists".
_RUN_SPAN = 10_000_000
_runs = itertools.count(1)


@dataclass
class Scenario:
    """One request shape. ``body_lua`` (optional): Lua statements that set a local ``body``
    afresh for each request in wrk (``counter`` counts requests); ``body_fn`` does the same
    for the Python fallback from the request number."""

    name: str
    method: str
    path: str
    headers: dict[str, str]
    body: str = ""
    body_lua: str = ""
    body_fn: Callable[[int], str] | None = None

    def body_for(self, n: int) -> str:
        return self.body_fn(n) if self.body_fn is not None else self.body


@dataclass
class Result:
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    errors: int
    tool: str


def wrk_available() -> bool:
    return shutil.which("wrk") is not None


def run(base_url: str, scenario: Scenario, *, seconds: float, connections: int) -> Result:
    first = next(_runs) * _RUN_SPAN
    if wrk_available():
        return _run_wrk(base_url, scenario, seconds=seconds, connections=connections, first=first)
    return asyncio.run(
        _run_python(base_url, scenario, seconds=seconds, connections=connections, first=first)
    )


def _lua(scenario: Scenario, first: int = 0) -> str:
    lines = [f'wrk.method = "{scenario.method}"']
    for key, value in scenario.headers.items():
        lines.append(f"wrk.headers[{json.dumps(key)}] = {json.dumps(value)}")
    if scenario.body_lua:
        lines += [
            f"counter = {first}",
            "request = function()",
            "  counter = counter + 1",
            f"  {scenario.body_lua}",
            "  return wrk.format(nil, nil, nil, body)",
            "end",
        ]
    elif scenario.body:
        lines.append(f"wrk.body = {json.dumps(scenario.body)}")
    return "\n".join(lines) + "\n"


def _ms(text: str) -> float:
    number, unit = float(re.sub(r"[a-z]+$", "", text)), re.sub(r"^[0-9.]+", "", text)
    return number * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def _run_wrk(
    base_url: str, scenario: Scenario, *, seconds: float, connections: int, first: int = 0
) -> Result:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(_lua(scenario, first))
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{max(1, int(seconds))}s", "--latency",
         "-s", script.name, base_url + scenario.path],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    Path(script.name).unlink()
    rps = float(re.search(r"Requests/sec:\s+([0-9.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"^\s*50%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"^\s*99%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return Result(rps, p50, p99, int(non2xx.group(1)) if non2xx else 0, "wrk")


async def _run_python(
    base_url: str, scenario: Scenario, *, seconds: float, connections: int, first: int = 0
) -> Result:
    latencies: list[float] = []
    errors = 0
    counter = first
    deadline = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=connections)
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=30) as client:

        async def worker() -> None:
            nonlocal errors, counter
            while time.perf_counter() < deadline:
                counter += 1
                body = scenario.body_for(counter)
                start = time.perf_counter()
                response = await client.request(
                    scenario.method, scenario.path, content=body.encode(), headers=scenario.headers
                )
                latencies.append(time.perf_counter() - start)
                if response.status_code != 200:
                    errors += 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(connections)))
        elapsed = time.perf_counter() - started
    latencies.sort()

    def pick(q: float) -> float:
        return latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000

    return Result(len(latencies) / elapsed, pick(0.5), pick(0.99), errors, "python")
