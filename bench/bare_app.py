"""The baseline of every ratio: a bare FastAPI app that validates a small JSON body and echoes it.

It is the practical ceiling of the stack (FastAPI + pydantic + uvicorn, one worker).
"""

from __future__ import annotations

from fastapi import FastAPI
from pydantic import BaseModel


class Echo(BaseModel):
    productKey: str
    deviceKey: str | None = None
    timezone: str


# FastAPI's own OpenTelemetry off, as in the emulator (emulator/app.py): the ratios compare
# the app's work, not the check for a provider (about 8 us a request) one side skips.
app = FastAPI(telemetry={"tracing": False, "metrics": False, "logs": False})


@app.post("/echo")
async def echo(body: Echo) -> Echo:
    return body
