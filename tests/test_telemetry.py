"""FastAPI's own OpenTelemetry stays off in the emulator: a process that configures a tracer
provider (a suite tracing the code under test, with the plugin's server in that process) gets
no spans of the emulator's requests. A plain FastAPI app in the same process does: the check
can fail.

A tracer provider is set once per process (OpenTelemetry's global), so this runs in a child.
"""

from __future__ import annotations

import subprocess
import sys

SCRIPT = """
import asyncio, tempfile
import httpx
from fastapi import FastAPI
from opentelemetry import trace
from emulator.app import create_app
from emulator.config import Settings

asked = []

class Recorder(trace.TracerProvider):
    def get_tracer(self, name, *args, **kwargs):
        asked.append(name)
        return trace.NoOpTracer()

trace.set_tracer_provider(Recorder())

async def call(app, path):
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        return (await client.get(path)).status_code

plain = FastAPI()

@plain.get("/ping")
async def ping():
    return {}

with tempfile.TemporaryDirectory() as tmp:
    emulator = create_app(Settings(db=f"{tmp}/t.db"))
    status = asyncio.run(call(emulator, "/_emulator/health"))
    print("emulator", status, len(asked))
    status = asyncio.run(call(plain, "/ping"))
    print("plain", status, len(asked))
    emulator.state.emulator.dispose()
"""


def test_the_emulator_adds_no_spans_to_a_configured_tracer() -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "emulator 200 0"
    plain, status, asked = lines[1].split()
    assert status == "200"
    assert int(asked) > 0  # a plain FastAPI app asks the provider for a tracer
