"""The fleet generator behind ``iot-emulator fleet``: many devices, written straight into the
database, for demos and load tests.

Rows have the shape the vendor services write (``registry.devices``), so every API serves
them as if they had been created through it. They go in with ``executemany`` in transactions
of ``batch_size`` rows: fast (a million devices in well under the few minutes a load test can
wait), and short enough that a running emulator on the same SQLite file (WAL mode) keeps
answering between two batches.

Device keys are ``<prefix><number>`` (zero-padded); a second run with the same prefix
continues the numbering. Each vendor says what its rows hold beyond the common columns
(``Vendor.devices``: secrets, asset ids, attrs); they come from a seeded generator of the
fleet's own (``fleet:<namespace>:<first number>``), so a fleet never replays the ids the
emulator itself will generate for the namespace.

Command traffic (a vendor with ``Vendor.fleet_commands``): tickets sent through the command
engine exactly as the vendor's command API sends them, spread over the new devices in turn;
an online device has its command delivered (``sent``, awaiting the device's ack), an offline
one has it ``cached`` until it connects or the cache time runs out.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import islice
from typing import Any

from sqlalchemy import Connection, Engine, select

from emulator.core import commands, registry
from emulator.core.clock import Clock
from emulator.core.context import Ctx
from emulator.core.ids import Ids
from emulator.core.vendor import Vendor, names, vendors

DEFAULT_BATCH = 20_000
# Zero-padded numbers sort like numbers; wider when the fleet needs it.
MIN_DIGITS = 7

_D = registry.devices
_P = registry.products


class FleetError(ValueError):
    """A fleet that cannot be generated; the message says why and what would work."""


@dataclass(frozen=True)
class FleetSpec:
    vendor: str
    product_key: str
    count: int
    online_share: float = 0.0
    namespace: str = "default"
    prefix: str = "fleet"
    seed: int | None = None
    batch_size: int = DEFAULT_BATCH


@dataclass(frozen=True)
class FleetResult:
    created: int
    online: int
    first_key: str
    last_key: str
    seconds: float
    # What the vendor's ``prepare`` reports: a device quota raised so the fleet fits (EnOS).
    quota_raised_to: int | None = None


def generate(
    engine: Engine,
    spec: FleetSpec,
    *,
    clock: Clock | None = None,
    progress: Callable[[int], None] | None = None,
) -> FleetResult:
    """Write ``spec.count`` devices of one product into a namespace that exists already.

    ``progress`` is called with the number of rows of each committed batch.
    """
    vendor = fleet_vendor(spec.vendor)
    if spec.count < 1:
        raise FleetError("count must be at least 1")
    if not 0.0 <= spec.online_share <= 1.0:
        raise FleetError("the online share must be between 0 and 1")
    started = time.perf_counter()
    now = (clock or Clock()).now_ms()
    with engine.begin() as conn:
        product = _product(conn, spec)
        start = _next_number(conn, spec)
        quota = None
        if vendor.devices is not None and vendor.devices.prepare is not None:
            quota = vendor.devices.prepare(conn, spec.namespace, product, spec.count)
        taken = _taken(conn, spec, vendor)
    digits = max(MIN_DIGITS, len(str(start + spec.count - 1)))
    ids = Ids(spec.seed, f"fleet:{spec.namespace}:{start}")
    rows = _rows(spec, vendor, product, ids, now, start, digits, taken)
    online = 0
    first_key = f"{spec.prefix}{start:0{digits}d}"
    insert = _D.insert()
    while True:
        batch = list(islice(rows, spec.batch_size))
        if not batch:
            break
        online += sum(1 for row in batch if row["online"])
        with engine.begin() as conn:
            conn.execute(insert, batch)
        if progress is not None:
            progress(len(batch))
    with engine.begin() as conn:
        registry.recount_quota(conn, spec.namespace)
    return FleetResult(
        created=spec.count,
        online=online,
        first_key=first_key,
        last_key=f"{spec.prefix}{start + spec.count - 1:0{digits}d}",
        seconds=time.perf_counter() - started,
        quota_raised_to=quota,
    )


def _product(conn: Connection, spec: FleetSpec) -> Any:
    product = conn.execute(
        select(_P.c.product_key, _P.c.org_id, _P.c.attrs).where(
            _P.c.namespace == spec.namespace, _P.c.vendor == spec.vendor,
            _P.c.product_key == spec.product_key,
        )
    ).first()  # fmt: skip
    if product is None:
        known = conn.execute(
            select(_P.c.product_key)
            .where(_P.c.namespace == spec.namespace, _P.c.vendor == spec.vendor)
            .order_by(_P.c.product_key)
        ).scalars()
        listed = ", ".join(known) or "(none: add one to the fixtures)"
        raise FleetError(
            f"no {spec.vendor} product {spec.product_key!r} in namespace {spec.namespace!r}; "
            f"its {spec.vendor} products: {listed}"
        )
    return product


def _next_number(conn: Connection, spec: FleetSpec) -> int:
    """One past the highest ``<prefix><number>`` key of the vendor in the namespace (from 1).

    Per vendor, not per product: MCS device ids are unique across products.
    """
    keys = conn.execute(
        select(_D.c.device_key).where(
            _D.c.namespace == spec.namespace, _D.c.vendor == spec.vendor,
            _D.c.device_key >= spec.prefix, _D.c.device_key < spec.prefix + "\U0010ffff",
        )
    ).scalars()  # fmt: skip
    highest = 0
    for key in keys:
        suffix = key[len(spec.prefix) :]
        if suffix.isdigit():
            highest = max(highest, int(suffix))
    return highest + 1


def fleet_vendor(name: str) -> Vendor:
    for vendor in vendors():
        if vendor.name == name:
            return vendor
    raise FleetError(f"unknown vendor {name!r}; use one of {', '.join(names())}")


def _taken(conn: Connection, spec: FleetSpec, vendor: Vendor) -> dict[str, set[Any]]:
    """The values in use of the columns the vendor keeps unique in a namespace."""
    unique = vendor.devices.unique if vendor.devices is not None else ()
    return {
        column: set(
            conn.execute(
                select(_D.c[column]).where(
                    _D.c.namespace == spec.namespace, _D.c.vendor == spec.vendor,
                    _D.c[column].is_not(None),
                )
            ).scalars()
        )
        for column in unique
    }  # fmt: skip


def _rows(
    spec: FleetSpec, vendor: Vendor, product: Any, ids: Ids, now: int, start: int, digits: int,
    taken: dict[str, set[Any]],
) -> Iterator[dict[str, Any]]:  # fmt: skip
    """The rows, in the shape the vendor's own service writes (``Vendor.devices``)."""
    share = spec.online_share
    for i in range(spec.count):
        number = start + i
        key = f"{spec.prefix}{number:0{digits}d}"
        # Exactly round-down(count * share) devices online, spread evenly over the fleet.
        online = int((i + 1) * share) > int(i * share)
        row = registry.device_row(
            spec.vendor, spec.product_key, key, now=now, online=online, org_id=product.org_id,
            namespace=spec.namespace,
        )  # fmt: skip
        if vendor.devices is not None:
            own = vendor.devices.make(key, product, ids)
            # A drawn id already in use (8 random characters: rare) is drawn again.
            while any(own.get(c) in values for c, values in taken.items()):
                own = vendor.devices.make(key, product, ids)
            for column, values in taken.items():
                values.add(own.get(column))
            row.update(own)
        yield row


def send_commands(
    ctx: Ctx,
    spec: FleetSpec,
    result: FleetResult,
    count: int,
    *,
    progress: Callable[[int], None] | None = None,
) -> dict[str, int]:
    """Send ``count`` commands to the devices of a fleet just generated, one device after the
    other (round again when there are more commands than devices). Returns tickets per state.
    """
    traffic = fleet_vendor(spec.vendor).fleet_commands
    if traffic is None:
        raise FleetError(f"command traffic exists for {', '.join(command_vendors())} only")
    with ctx.read() as conn:
        devices = conn.execute(
            select(_D.c.device_key, _D.c.online)
            .where(
                _D.c.namespace == spec.namespace, _D.c.vendor == spec.vendor,
                _D.c.product_key == spec.product_key,
                _D.c.device_key >= result.first_key, _D.c.device_key <= result.last_key,
            )
            .order_by(_D.c.device_key)
            .limit(count)
        ).all()  # fmt: skip
    if not devices:
        raise FleetError("the fleet has no devices to send commands to")
    ids = Ids(spec.seed, f"fleet-commands:{spec.namespace}:{result.first_key}")
    states: dict[str, int] = {}
    for start in range(0, count, spec.batch_size):
        size = min(spec.batch_size, count - start)
        batch = [
            commands.Outgoing(
                target=commands.Route(
                    spec.vendor,
                    spec.product_key,
                    devices[n % len(devices)].device_key,
                    None,
                    bool(devices[n % len(devices)].online),
                ),
                ticket=ids.hex(32),
                operation=traffic.operation,
                payload=dict(traffic.payload),
                identity=traffic.identity,
                qos=1,
                cache_s=traffic.cache_s,
                cover=False,
            )  # fmt: skip
            for n in range(start, start + size)
        ]
        with ctx.begin() as conn:
            for sent in commands.send_many(conn, ctx, batch):
                if isinstance(sent, dict):
                    states[sent["state"]] = states.get(sent["state"], 0) + 1
        if progress is not None:
            progress(size)
    return states


def command_vendors() -> list[str]:
    """The vendors the fleet generator can send commands to."""
    return [v.name for v in vendors() if v.fleet_commands is not None]
