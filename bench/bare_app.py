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


app = FastAPI()


@app.post("/echo")
async def echo(body: Echo) -> Echo:
    return body
