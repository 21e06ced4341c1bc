"""Invoke Service and Set Measurement Point: tickets of the command engine that travel to the
device over MQTT (vendors/enos/mqtt).

- ``pendingTtl`` 0 (instant): the device must be online, else 11721; the route then waits up
  to ``timeout`` seconds for the device's reply;
- ``pendingTtl`` > 0 (cached): the ticket is kept until the TTL runs out on the emulator
  clock, and delivered when the device logs in.

Deviations from the real platform: no thing model, so any ``serviceId`` and any input are
accepted; the cache holds any number of commands (EnOS: 50 per device).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from emulator.core import commands
from emulator.core.context import Ctx
from emulator.core.errors import VendorError
from emulator.vendors.enos.commands.errors import CommandError
from emulator.vendors.enos.connect.service import VENDOR, invalid, require_org
from emulator.vendors.enos.mqtt import protocol

INVOKE_SERVICE = "enos.connect.invoke_service"
SET_MEASUREPOINT = "enos.connect.set_measurepoint"
MAX_PENDING_TTL_S = 172_800
MAX_TIMEOUT_S = 60
DEFAULT_TIMEOUT_S = 30


@dataclass(frozen=True)
class Target:
    org_id: str | None
    asset_id: str | None
    product_key: str | None
    device_key: str | None


def _int(name: str, raw: str | None, default: int, low: int, high: int) -> int:
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise invalid(name, f"{name} must be an integer") from None
    if not low <= value <= high:
        raise invalid(name, f"{name} must be in [{low}, {high}]")
    return value


def pending_ttl(raw: str | None) -> int:
    return _int("pendingTtl", raw, 0, 0, MAX_PENDING_TTL_S)


def timeout(raw: str | None) -> int:
    return _int("timeout", raw, DEFAULT_TIMEOUT_S, 1, MAX_TIMEOUT_S)


def _device_keys(ctx: Ctx, conn: Any, target: Target) -> tuple[str, str]:
    from emulator.vendors.enos.connect.service import _select_device

    try:
        row = _select_device(
            conn, ctx, target.org_id or "", target.asset_id, target.product_key, target.device_key
        )
    except VendorError as exc:
        if exc.error.code == CommandError.DEVICE_NOT_FOUND.code:
            raise VendorError(CommandError.DEVICE_NOT_FOUND) from None
        raise
    return row.product_key, row.device_key


def send(
    ctx: Ctx, target: Target, *, operation: str, topic_path: str, method: str, params: Any,
    identity: str, ttl_s: int,
) -> dict[str, Any]:  # fmt: skip
    """The ticket of one command: delivered now (device online), cached (``ttl_s`` > 0), or
    11721 (instant, device offline)."""
    with ctx.begin() as conn:
        require_org(conn, ctx, target.org_id)
        pk, dk = _device_keys(ctx, conn, target)
        route = commands.route(conn, ctx, VENDOR, pk, dk)
        out = commands.Outgoing(
            target=route,
            ticket=ctx.ids.lower_alnum(20),
            operation=operation,
            payload={
                "topic": protocol.sys_topic(pk, dk, topic_path),
                "method": method,
                "params": params,
            },
            identity=identity,
            qos=1,
            cache_s=ttl_s if ttl_s > 0 else None,
            cover=False,
        )
        try:
            return commands.send(conn, ctx, out)
        except commands.Undeliverable:
            raise VendorError(CommandError.DEVICE_OFFLINE) from None


def invoke_service(
    ctx: Ctx, target: Target, service_id: str | None, input_data: dict[str, Any], ttl_s: int
) -> dict[str, Any]:
    if not service_id:
        raise invalid("serviceId", "serviceId is missing")
    return send(
        ctx, target, operation=INVOKE_SERVICE, topic_path=f"thing/service/{service_id}",
        method=f"thing.service.{service_id}", params=input_data, identity=service_id,
        ttl_s=ttl_s,
    )  # fmt: skip


def set_measurepoint(
    ctx: Ctx, target: Target, measurepoints: dict[str, Any], ttl_s: int
) -> dict[str, Any]:
    if not measurepoints:
        raise invalid("measurepoints", "measurepoints is missing")
    return send(
        ctx, target, operation=SET_MEASUREPOINT, topic_path="thing/service/measurepoint/set",
        method="thing.service.measurepoint.set", params=measurepoints,
        identity="measurepoint.set", ttl_s=ttl_s,
    )  # fmt: skip


def ticket_state(ctx: Ctx, ticket: str) -> dict[str, Any]:
    with ctx.begin() as conn:
        return commands.get(conn, ctx, ticket)


def timed_out(ctx: Ctx, ticket: str, timeout_s: int) -> None:
    """No reply within ``timeout``: the ticket fails, and the caller gets the timeout code."""
    try:
        with ctx.begin() as conn:
            commands.ack(conn, ctx, ticket, False, {"timeout": timeout_s})
    except (commands.CommandNotFound, commands.CommandStateError):
        pass  # answered meanwhile
