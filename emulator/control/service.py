"""Control-plane behaviour; no FastAPI here."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Any

import yaml
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from emulator import __version__
from emulator.control.errors import ControlError
from emulator.control.schemas import (
    ClockUpdate,
    DeviceList,
    DeviceView,
    FaultSpec,
    Health,
    VerifyRequest,
)
from emulator.core import fixtures, journal, namespaces, registry, snapshot
from emulator.core.context import Ctx, Emulator
from emulator.core.faults import FaultSpecError
from emulator.core.layering import parse_yaml
from emulator.core.operations import OPERATIONS


def health(emulator: Emulator) -> Health:
    return Health(
        status="ok",
        version=__version__,
        auth=emulator.settings.auth,
        namespaces=len(emulator.namespaces.names()),
        listeners=[listener.describe() for listener in emulator.listeners.values()],
    )


def list_devices(
    ctx: Ctx,
    *,
    vendor: str | None,
    product_key: str | None,
    online: bool | None,
    limit: int,
    offset: int,
) -> DeviceList:
    t = registry.devices
    where = [t.c.namespace == ctx.namespace]
    if vendor is not None:
        where.append(t.c.vendor == vendor)
    if product_key is not None:
        where.append(t.c.product_key == product_key)
    if online is not None:
        where.append(t.c.online == online)
    with ctx.read() as conn:
        total = conn.execute(select(func.count()).select_from(t).where(*where)).scalar_one()
        rows = conn.execute(
            select(*(t.c[name] for name in _column_names()))
            .where(*where)
            .order_by(t.c.id)
            .limit(limit)
            .offset(offset)
        ).mappings()
        devices = [DeviceView.model_validate(dict(row)) for row in rows]
    return DeviceList(namespace=ctx.namespace, total=total, devices=devices)


def _column_names() -> list[str]:
    return [
        "vendor", "product_key", "device_key", "name", "secret", "org_id", "asset_id", "online",
        "gateway_product_key", "gateway_device_key", "attrs", "created_at", "updated_at",
        "first_online_at", "last_online_at", "last_offline_at",
    ]  # fmt: skip


def set_online(
    ctx: Ctx, *, vendor: str, product_key: str, device_key: str, online: bool
) -> DeviceView:
    """Bring a simulated device online or take it offline (the device's connection)."""
    t = registry.devices
    where = (
        t.c.namespace == ctx.namespace, t.c.vendor == vendor,
        t.c.product_key == product_key, t.c.device_key == device_key,
    )  # fmt: skip
    now = ctx.now_ms()
    with ctx.begin() as conn:
        row = conn.execute(select(t.c.first_online_at).where(*where)).first()
        if row is None:
            raise ControlError(404, f"no {vendor} device {product_key}/{device_key}")
        changes: dict[str, object] = {"online": online, "updated_at": now}
        if online:
            changes["last_online_at"] = now
            if row.first_online_at is None:
                changes["first_online_at"] = now
        else:
            changes["last_offline_at"] = now
        conn.execute(update(t).where(*where).values(**changes))
        view = DeviceView.model_validate(
            dict(
                conn.execute(select(*(t.c[n] for n in _column_names())).where(*where))
                .mappings()
                .one()
            )
        )
        if online:
            # Inside the same transaction: cached commands, DPS connect status (hooks
            # registered on this emulator at app creation).
            ctx.emulator.hooks.device_online(conn, ctx, view)
    return view


# --- journal and verification ------------------------------------------------------------

# ``namespace=*`` on the journal routes: every namespace.
ALL_NAMESPACES = "*"
NEAREST_MISSES = 5


def list_requests(
    emulator: Emulator, *, namespace: str | None, operation: str | None, limit: int
) -> dict[str, Any]:
    entries = emulator.journal.query(namespace=namespace, operation=operation, limit=limit)
    return {
        "namespace": namespace or ALL_NAMESPACES,
        "count": len(entries),
        "requests": [e.to_json() for e in entries],
    }


def known_operations(emulator: Emulator) -> set[str]:
    return set(OPERATIONS) | {e.operation for e in emulator.journal.query()}


def verify(emulator: Emulator, namespace: str, spec: VerifyRequest) -> tuple[bool, dict[str, Any]]:
    """Whether the journal of ``namespace`` holds what ``spec`` expects, and the report."""
    if spec.count is not None and spec.at_least is not None:
        raise ControlError(400, "give count or atLeast, not both")
    if spec.operation is not None and spec.operation not in known_operations(emulator):
        known = ", ".join(sorted(OPERATIONS))
        raise ControlError(400, f"unknown operation {spec.operation!r}; operations: {known}")
    entries = emulator.journal.query(namespace=namespace)
    matches: list[journal.Entry] = []
    misses: list[tuple[int, journal.Entry, str]] = []
    for entry in entries:
        reason = _mismatch(entry, spec)
        if reason is None:
            matches.append(entry)
        else:
            rank = 0 if spec.operation is None or entry.operation == spec.operation else 1
            misses.append((rank, entry, reason))
    matched = len(matches)
    if spec.count is not None:
        ok, expected = matched == spec.count, {"count": spec.count}
    else:
        at_least = 1 if spec.at_least is None else spec.at_least
        ok, expected = matched >= at_least, {"atLeast": at_least}
    report: dict[str, Any] = {"namespace": namespace, "matched": matched, "expected": expected}
    if ok:
        return True, report
    what = spec.operation or "any operation"
    if spec.body_contains is not None:
        what += f" with body containing {json.dumps(spec.body_contains, ensure_ascii=False)}"
    wanted = next(f"{k} {v}" for k, v in expected.items())
    report["message"] = f"expected {wanted} request(s) of {what}, found {matched}"
    misses.sort(key=lambda m: m[0])  # stable: newest first within a rank
    report["nearestMisses"] = [
        {**_summary(entry), "reason": reason} for _, entry, reason in misses[:NEAREST_MISSES]
    ]
    if spec.count is not None and matched > spec.count:
        report["matches"] = [_summary(e) for e in matches[:NEAREST_MISSES]]
    return False, report


def _summary(entry: journal.Entry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "operation": entry.operation,
        "method": entry.method,
        "path": entry.path,
        "status": entry.status,
        "vendorCode": entry.vendor_code,
        "injected": entry.injected,
        "body": entry.body_value(),
    }


def _mismatch(entry: journal.Entry, spec: VerifyRequest) -> str | None:
    """Why ``entry`` does not match (``None``: it does)."""
    if spec.operation is not None and entry.operation != spec.operation:
        return f"operation is {entry.operation}"
    pattern = spec.body_contains
    if pattern is None:
        return None
    if isinstance(pattern, str):
        return None if pattern in (entry.body or "") else f"body does not contain {pattern!r}"
    return _difference(pattern, entry.body_value(), "body")


def _difference(pattern: Any, value: Any, where: str) -> str | None:
    """The first place where ``value`` does not contain ``pattern`` (JSON subset match)."""
    if isinstance(pattern, dict):
        if not isinstance(value, dict):
            return f"{where} is not an object"
        for key, sub in pattern.items():
            if key not in value:
                return f"{where} has no {key!r}"
            found = _difference(sub, value[key], f"{where}.{key}")
            if found is not None:
                return found
        return None
    if isinstance(pattern, list):
        if not isinstance(value, list):
            return f"{where} is not a list"
        for i, sub in enumerate(pattern):
            if all(_difference(sub, item, where) is not None for item in value):
                return f"{where} has no item like {where}[{i}] of the pattern"
        return None
    if pattern != value or isinstance(pattern, bool) != isinstance(value, bool):
        return f"{where} is {json.dumps(value)}, not {json.dumps(pattern)}"
    return None


# --- faults -------------------------------------------------------------------------------


def arm_fault(ctx: Ctx, spec: FaultSpec) -> dict[str, Any]:
    try:
        rule = ctx.emulator.faults.arm(
            ctx.namespace,
            operation=spec.operation,
            code=spec.code,
            times=spec.times,
            probability=spec.probability,
            seed=spec.seed,
            latency_ms=spec.latency_ms,
            device_key=spec.device_key,
            ttl_seconds=spec.ttl_seconds,
            action=spec.action,
            now_ms=ctx.now_ms(),
        )
    except FaultSpecError as exc:
        raise ControlError(400, str(exc)) from None
    return rule.to_json()


def list_faults(ctx: Ctx) -> dict[str, Any]:
    rules = ctx.emulator.faults.rules(ctx.namespace, ctx.now_ms())
    return {"namespace": ctx.namespace, "faults": [r.to_json() for r in rules]}


def operations() -> dict[str, Any]:
    return {
        "operations": [
            {
                "id": op.id,
                "vendor": op.vendor,
                "codes": op.codes(),
                "faultOnly": sorted(op.fault_only),
                # What a fault may do instead of a code (device messages only).
                "actions": sorted(op.message.actions) if op.message is not None else [],
            }
            for op in sorted(OPERATIONS.values(), key=lambda o: o.id)
        ]
    }


# --- clock and seed -----------------------------------------------------------------------


def clock_view(emulator: Emulator) -> dict[str, Any]:
    # Several processes: the clock as every process sees it now, not this one's cached read.
    emulator.clock.sync()
    now = emulator.clock.now_ms()
    iso = datetime.fromtimestamp(now / 1000, tz=UTC).isoformat(timespec="milliseconds")
    return {"nowMs": now, "now": iso.replace("+00:00", "Z"), "frozen": emulator.clock.frozen}


def set_clock(emulator: Emulator, update: ClockUpdate) -> dict[str, Any]:
    if update.freeze is None and update.advance is None:
        raise ControlError(400, "give freeze (epoch ms, ISO time or true), advance (s), or both")
    clock = emulator.clock
    freeze = update.freeze
    if freeze is False:
        raise ControlError(400, "freeze: false is not a time; DELETE /_emulator/clock releases")
    at: int | None = None
    if isinstance(freeze, int) and freeze is not True:
        at = freeze
    elif isinstance(freeze, str):
        at = _parse_time(freeze)
    # Checked before anything moves: a time no date can show would break every later answer.
    target = clock.now_ms() if at is None else at
    if update.advance is not None:
        if not math.isfinite(update.advance):
            raise ControlError(400, "advance: give a finite number of seconds")
        target += int(update.advance * 1000)
    if not 0 <= target <= _MAX_CLOCK_MS:
        raise ControlError(400, "the clock must stay between 1970-01-01 and 9999-12-31 (UTC)")
    if freeze is True:
        clock.freeze()
    elif at is not None:
        clock.freeze(at)
    if update.advance is not None:
        clock.advance(update.advance)
    return clock_view(emulator)


# 9999-12-31T23:59:59.999Z: the last instant an ISO date can show.
_MAX_CLOCK_MS = 253_402_300_799_999


def _parse_time(text: str) -> int:
    if text.strip().lstrip("-").isdigit():
        return int(text)
    try:
        at = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ControlError(400, f"freeze: {text!r} is not epoch ms or an ISO 8601 time") from None
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return int(at.timestamp() * 1000)


def reseed(ctx: Ctx, seed: int | None) -> dict[str, Any]:
    ctx.emulator.reseed_namespace(ctx.namespace, seed)
    return {"namespace": ctx.namespace, "seed": seed}


# --- state, fixtures, reset, namespaces ----------------------------------------------------


def reset(emulator: Emulator, namespace: str) -> None:
    """Back to the baseline, with no faults, an empty journal and ids from the seed again."""
    emulator.namespaces.reset(namespace)
    emulator.restart_ids(namespace)
    emulator.faults.clear(namespace)
    emulator.journal.clear(namespace)


def export_state(ctx: Ctx) -> dict[str, Any]:
    ctx.emulator.namespaces.ensure(ctx.namespace)
    with ctx.read() as conn:
        return snapshot.dump_document(snapshot.export_document(conn, ctx.namespace))


def parse_fixture_text(raw: bytes, content_type: str, source: str) -> Any:
    """A fixture body: JSON, or YAML (a superset of JSON) unless the type says JSON."""
    try:
        text = raw.decode("utf-8")
        if "json" in content_type:
            return json.loads(text) if text.strip() else None
        return parse_yaml(text)
    # RecursionError: a document nested thousands of levels deep.
    except (UnicodeDecodeError, ValueError, RecursionError, yaml.YAMLError) as exc:
        raise ControlError(400, f"{source}: not valid JSON or YAML: {exc}") from None


def import_state(ctx: Ctx, data: Any) -> dict[str, Any]:
    """Replace the namespace's state by a document (issued tokens are kept)."""
    try:
        doc = fixtures.parse_document(data, "PUT /state")
        state = fixtures.build_baseline(doc, ctx.ids, ctx.now_ms())
    except fixtures.FixtureError as exc:
        raise ControlError(400, str(exc)) from None
    try:
        ctx.emulator.namespaces.replace(ctx.namespace, state)
    except IntegrityError as exc:
        raise ControlError(409, f"PUT /state: rows conflict: {exc.orig}") from None
    return {"namespace": ctx.namespace, "rows": _count(state)}


def merge_fixtures(ctx: Ctx, data: Any) -> dict[str, Any]:
    """Merge a document into the namespace: its entries are added, or update the entry with
    the same identity (only the fields it sets); issued tokens are kept.

    References may point at what the namespace holds already (a device of a product that is
    not in the document).
    """
    ctx.emulator.namespaces.ensure(ctx.namespace)
    source = "POST /fixtures"
    try:
        with ctx.read() as conn:
            current = snapshot.export_document(conn, ctx.namespace)
        merged = snapshot.merge_state(current, data, source)
        state = fixtures.build_baseline(merged, ctx.ids, ctx.now_ms())
    except fixtures.FixtureError as exc:
        raise ControlError(400, str(exc)) from None
    try:
        ctx.emulator.namespaces.replace(ctx.namespace, state)
    except IntegrityError as exc:
        raise ControlError(409, f"{source}: conflicts with the state: {exc.orig}") from None
    return {"namespace": ctx.namespace, "rows": _count(state)}


def _count(state: fixtures.Baseline) -> dict[str, int]:
    return {table.name: len(rows) for table, rows in state.rows.items() if rows}


def list_namespaces(emulator: Emulator) -> dict[str, Any]:
    return {
        "namespaces": [
            {"name": name, "createdAt": created} for name, created in emulator.namespaces.listing()
        ]
    }


def delete_namespace(emulator: Emulator, name: str) -> dict[str, Any]:
    if not namespaces.valid_name(name):
        raise ControlError(400, f"invalid namespace name {name!r}")
    found = emulator.namespaces.drop(name)
    emulator.forget(name)
    if not found:
        raise ControlError(404, f"no namespace {name!r}")
    return {"deleted": name}
