"""FastAPI's own OpenTelemetry stays off for the requests the emulator serves: a process that
configures tracer, meter and logger providers (a suite tracing the code under test, with the
plugin's server in that process) gets no spans, metrics or logs of them. A plain FastAPI app
in the same process does: the check can fail.

Providers are set once per process (OpenTelemetry's globals), so this runs in a child.
"""

from __future__ import annotations

import os
import subprocess
import sys

SCRIPT = """
import asyncio, tempfile
import httpx
from fastapi import FastAPI
from opentelemetry import _logs, metrics, trace
from pydantic import BaseModel
from emulator.app import create_app
from emulator.config import Settings

asked = {"tracer": 0, "meter": 0, "logger": 0}

# Providers of their own (FastAPI ignores the no-op ones), counting what they are asked for.
class Tracers(trace.TracerProvider):
    def get_tracer(self, name, *args, **kwargs):
        asked["tracer"] += 1
        return trace.NoOpTracer()

class Meters(metrics.MeterProvider):
    def get_meter(self, name, *args, **kwargs):
        asked["meter"] += 1
        return metrics.NoOpMeter(name)

class Loggers(_logs.LoggerProvider):
    def get_logger(self, name, *args, **kwargs):
        asked["logger"] += 1
        return _logs.NoOpLogger(name)

trace.set_tracer_provider(Tracers())
metrics.set_meter_provider(Meters())
_logs.set_logger_provider(Loggers())

async def calls(app, get, post):
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        # A success, and a body FastAPI refuses (validation failures are logged).
        return (await client.get(get)).status_code, (await client.post(post, json=[])).status_code

class Item(BaseModel):
    name: str

plain = FastAPI()

@plain.get("/ping")
async def ping():
    return {}

@plain.post("/items")
async def items(item: Item):
    return item

def report(name, statuses):
    print(name, *statuses, *(f"{kind}={count}" for kind, count in asked.items()))
    asked.update(tracer=0, meter=0, logger=0)

with tempfile.TemporaryDirectory() as tmp:
    emulator = create_app(Settings(db=f"{tmp}/t.db"))
    report("emulator", asyncio.run(calls(emulator, "/_emulator/health", "/_emulator/faults")))
    emulator.state.emulator.dispose()
report("plain", asyncio.run(calls(plain, "/ping", "/items")))
"""


def _run() -> dict[str, list[str]]:
    # Without the OTEL_* of the environment: an agent that set providers first would make
    # the child's own refused.
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        capture_output=True, text=True, timeout=120, check=False, env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return {line.split()[0]: line.split()[1:] for line in done.stdout.splitlines() if line}


def test_the_emulator_reports_nothing_to_configured_providers() -> None:
    lines = _run()
    assert lines["emulator"] == ["200", "400", "tracer=0", "meter=0", "logger=0"]
    # The same process, a plain FastAPI app: each provider is asked.
    plain = lines["plain"]
    assert plain[:2] == ["200", "422"]
    for asked in plain[2:]:
        assert not asked.endswith("=0"), plain
