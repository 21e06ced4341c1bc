"""Device simulation on the control plane: what a device received, and its acknowledgements.

- ``GET  /_emulator/devices/{vendor}/{productKey}/{deviceKey}/commands[?wait=&after=]``
- ``GET  /_emulator/commands[?vendor=&productKey=&deviceKey=&state=]``
- ``GET  /_emulator/commands/{ticket}``
- ``POST /_emulator/commands/{ticket}/ack``  ``{"success": true|false, "payload": ...}``

The engine is :mod:`emulator.core.commands`; :func:`install` registers its delivery of cached
commands on the running emulator's ``device came online`` hook.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import Field
from sqlalchemy import Connection

from emulator.control.errors import ControlError
from emulator.control.schemas import ControlModel, DeviceView
from emulator.core import commands
from emulator.core.context import Ctx, Emulator
from emulator.core.limits import INT64_MAX
from emulator.core.routing import LockWaitingRoute, request_context
from emulator.core.vendor import VendorFilter, VendorName

router = APIRouter(prefix="/_emulator", tags=["control plane"], route_class=LockWaitingRoute)

CtxDep = Annotated[Ctx, Depends(request_context)]
Vendor = VendorName
State = Literal["sent", "delivered", "succeeded", "failed", "cached", "expired", "superseded"]

# Long-poll granularity. The wait is transport time (wall clock), not emulated time.
_POLL_S = 0.05
MAX_WAIT_S = 60.0


def _deliver_on_online(conn: Connection, ctx: Ctx, device: DeviceView) -> None:
    commands.deliver_pending(conn, ctx, device.vendor, device.product_key, device.device_key)


def install(emulator: Emulator) -> None:
    """A device that comes online receives its cached commands."""
    emulator.hooks.on_online.append(_deliver_on_online)


class AckRequest(ControlModel):
    success: bool = True
    payload: Any = None


class Inbox(ControlModel):
    vendor: str
    product_key: str
    device_key: str
    # The highest ``seq`` seen: pass it back as ``after`` to wait for the next command only.
    last_seq: int
    commands: list[dict[str, Any]] = Field(default_factory=list)


def _read_inbox(
    ctx: Ctx, vendor: str, product_key: str, device_key: str, after: int
) -> list[dict[str, Any]]:
    with ctx.read() as conn:
        if not commands.device_exists(conn, ctx, vendor, product_key, device_key):
            raise ControlError(404, f"no {vendor} device {product_key}/{device_key}")
        return commands.inbox(conn, ctx, vendor, product_key, device_key, after)


@router.get(
    "/devices/{vendor}/{product_key}/{device_key}/commands",
    operation_id="control.device_commands",
)
async def device_commands(
    ctx: CtxDep,
    vendor: Vendor,
    product_key: str,
    device_key: str,
    wait: Annotated[float, Query(ge=0, le=MAX_WAIT_S)] = 0,
    after: Annotated[int, Query(ge=0, le=INT64_MAX)] = 0,
) -> Inbox:
    """What the simulated device has received (through its own connection, or as a gateway for
    its sub-devices), oldest first. ``after``: only commands with a higher ``seq``. ``wait``:
    long-poll up to that many seconds until something arrives."""
    items = _read_inbox(ctx, vendor, product_key, device_key, after)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait
    while not items and loop.time() < deadline:
        await asyncio.sleep(min(_POLL_S, max(0.0, deadline - loop.time())))
        items = _read_inbox(ctx, vendor, product_key, device_key, after)
    last = max((int(item["seq"]) for item in items), default=after)
    return Inbox(
        vendor=vendor, product_key=product_key, device_key=device_key, last_seq=last,
        commands=items,
    )  # fmt: skip


@router.get("/commands", operation_id="control.list_commands")
async def list_commands(
    ctx: CtxDep,
    vendor: VendorFilter = None,
    product_key: Annotated[str | None, Query(alias="productKey")] = None,
    device_key: Annotated[str | None, Query(alias="deviceKey")] = None,
    state: State | None = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
    offset: Annotated[int, Query(ge=0, le=INT64_MAX)] = 0,
) -> dict[str, Any]:
    """Every command ticket of the namespace, oldest first."""
    with ctx.begin() as conn:
        total, items = commands.list_commands(
            conn, ctx, vendor=vendor, product_key=product_key, device_key=device_key,
            state=state, limit=limit, offset=offset,
        )  # fmt: skip
    return {"namespace": ctx.namespace, "total": total, "commands": items}


@router.get("/commands/{ticket}", operation_id="control.get_command")
async def get_command(ctx: CtxDep, ticket: str) -> dict[str, Any]:
    """A ticket: its state and its history with timestamps (emulator clock, milliseconds)."""
    try:
        with ctx.begin() as conn:
            return commands.get(conn, ctx, ticket)
    except commands.CommandNotFound:
        raise ControlError(404, f"no command ticket {ticket}") from None


@router.post("/commands/{ticket}/ack", operation_id="control.ack_command")
async def ack_command(ctx: CtxDep, ticket: str, body: AckRequest | None = None) -> dict[str, Any]:
    """The device acknowledges a qos 1 command: ``succeeded`` (success true) or ``failed``."""
    body = body or AckRequest()
    try:
        with ctx.begin() as conn:
            return commands.ack(conn, ctx, ticket, body.success, body.payload)
    except commands.CommandNotFound:
        raise ControlError(404, f"no command ticket {ticket}") from None
    except commands.CommandStateError as exc:
        raise ControlError(409, str(exc)) from None
