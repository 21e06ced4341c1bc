"""The command engine: commands sent through a vendor API reach simulated devices.

Vendor-neutral: a vendor service resolves each device's :class:`Route` (:func:`routes`) and
calls :func:`send_many` with its own payloads; the control plane shows what each device
received and lets a test acknowledge it. Every command is a ticket with a state history on
the emulator clock:

- connection online: delivered at once; ``qos`` 1 -> ``sent`` until the device acks
  (``succeeded`` / ``failed``), ``qos`` 0 -> ``delivered``;
- connection offline, cache enabled: ``cached`` until ``expires_at``, delivered when the
  connection comes online (:func:`deliver_pending`, the control plane's ON_ONLINE hook),
  ``expired`` after; cache disabled: :class:`Undeliverable`, the vendor reports a failure;
- cover: a new identical command (same device and ``identity``) turns the cached ones
  ``superseded``;
- a sub-device is reached through its gateway's connection (``via``).

Expiry is evaluated lazily whenever a ticket is read or a connection comes online, and is
stamped with the instant the cache time ran out, so advancing the clock is enough to see it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, and_, func, or_, select, update
from sqlalchemy.sql.elements import ColumnElement

from emulator.core import registry
from emulator.core.context import Ctx
from emulator.core.sql import HotSql, const, dumps, insert_of, list_params, param, param_list

SENT = "sent"
DELIVERED = "delivered"
SUCCEEDED = "succeeded"
FAILED = "failed"
CACHED = "cached"
EXPIRED = "expired"
SUPERSEDED = "superseded"
STATES = (SENT, DELIVERED, SUCCEEDED, FAILED, CACHED, EXPIRED, SUPERSEDED)

_C = registry.commands
_D = registry.devices


class Undeliverable(Exception):
    """The command cannot be taken for this device; the vendor words the failure."""

    NO_DEVICE = "no_device"
    NO_GATEWAY = "no_gateway"
    OFFLINE = "offline"
    GATEWAY_OFFLINE = "gateway_offline"

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class CommandNotFound(LookupError):
    pass


class CommandStateError(ValueError):
    """An operation that the ticket's current state does not allow (e.g. a second ack)."""


@dataclass(frozen=True)
class Route:
    vendor: str
    product_key: str
    device_key: str
    # The gateway whose connection carries the command, or None for a direct connection.
    via: tuple[str, str] | None
    online: bool


def _device(conn: Connection, ctx: Ctx, vendor: str, product_key: str, device_key: str) -> Any:
    return conn.execute(
        select(_D.c.online, _D.c.gateway_product_key, _D.c.gateway_device_key).where(
            _D.c.namespace == ctx.namespace, _D.c.vendor == vendor,
            _D.c.product_key == product_key, _D.c.device_key == device_key,
        )
    ).first()  # fmt: skip


def device_exists(
    conn: Connection, ctx: Ctx, vendor: str, product_key: str, device_key: str
) -> bool:
    return _device(conn, ctx, vendor, product_key, device_key) is not None


# (productKey, deviceKey, the gateway the request names or None)
Ref = tuple[str, str, tuple[str, str] | None]
# Keys per IN (...) query: well under SQLite's bound-parameter limit.
_CHUNK = 400


_DEVICES = HotSql(
    select(
        _D.c.product_key, _D.c.device_key, _D.c.online, _D.c.gateway_product_key,
        _D.c.gateway_device_key,
    ).where(
        _D.c.namespace == param("ns"), _D.c.vendor == param("vendor"),
        _D.c.device_key.in_(param_list("keys")),
    )
)  # fmt: skip


def _devices(
    conn: Connection, ctx: Ctx, vendor: str, keys: set[tuple[str, str]]
) -> dict[tuple[str, str], Any]:
    """The devices among ``keys`` (product key, device key), in a few queries."""
    found: dict[tuple[str, str], Any] = {}
    device_keys = sorted({dk for _, dk in keys})
    for start in range(0, len(device_keys), _CHUNK):
        chunk = device_keys[start : start + _CHUNK]
        params = {"ns": ctx.namespace, "vendor": vendor, **list_params("keys", chunk)}
        # Product keys are checked here: one list in the query keeps it to one statement shape.
        for row in _DEVICES.sized("keys", len(chunk)).all(conn, params):
            key = (row.product_key, row.device_key)
            if key in keys:
                found[key] = row
    return found


def routes(
    conn: Connection, ctx: Ctx, vendor: str, refs: Sequence[Ref]
) -> list[Route | Undeliverable]:
    """How a command reaches each device ``(productKey, deviceKey, gateway)``: the gateway as
    the request names it, else the one the device is registered behind, else the device's own
    connection. An unknown device or gateway is :class:`Undeliverable` in its place."""
    devices = _devices(conn, ctx, vendor, {(pk, dk) for pk, dk, _ in refs})
    vias: list[tuple[str, str] | None] = []
    for pk, dk, gateway in refs:
        row = devices.get((pk, dk))
        via = gateway
        if via is None and row is not None and row.gateway_product_key and row.gateway_device_key:
            via = (row.gateway_product_key, row.gateway_device_key)
        vias.append(via)
    missing = {via for via in vias if via is not None and via not in devices}
    gateways = {**devices, **_devices(conn, ctx, vendor, missing)} if missing else devices
    out: list[Route | Undeliverable] = []
    for (pk, dk, _), via in zip(refs, vias, strict=True):
        row = devices.get((pk, dk))
        if row is None:
            out.append(Undeliverable(Undeliverable.NO_DEVICE))
        elif via is None:
            out.append(Route(vendor, pk, dk, None, bool(row.online)))
        elif via not in gateways:
            out.append(Undeliverable(Undeliverable.NO_GATEWAY))
        else:
            out.append(Route(vendor, pk, dk, via, bool(gateways[via].online)))
    return out


def route(
    conn: Connection,
    ctx: Ctx,
    vendor: str,
    product_key: str,
    device_key: str,
    gateway: tuple[str, str] | None = None,
) -> Route:
    """:func:`routes` for one device; raises :class:`Undeliverable`."""
    [found] = routes(conn, ctx, vendor, [(product_key, device_key, gateway)])
    if isinstance(found, Undeliverable):
        raise found
    return found


_LAST_SEQ = HotSql(select(func.max(_C.c.delivery_seq)).where(_C.c.namespace == param("ns")))
_COMMAND_COLUMNS = (
    "namespace", "ticket", "vendor", "operation", "product_key", "device_key", "via_product_key",
    "via_device_key", "qos", "identity", "payload", "created_at", "updated_at", "delivered_at",
    "delivery_seq", "expires_at", "state", "history",
)  # fmt: skip
_INSERT_COMMAND = HotSql(insert_of(_C, _COMMAND_COLUMNS))


# PostgreSQL runs transactions of several processes at once: MAX()+1 is taken under a lock of
# the namespace, held to the commit (SQLite has one writer at a time).
_SEQ_LOCK = HotSql(
    select(func.pg_advisory_xact_lock(func.hashtext(const("commands:") + param("ns"))))
)


# SQLite takes its one write lock at a transaction's first write: taken here before MAX() is
# read, when nothing was written yet, so two connections (threads, --workers) never read the
# same MAX.
_N = registry.namespaces
_SQLITE_WRITE_LOCK = HotSql(
    update(_N).values(created_at=_N.c.created_at).where(_N.c.name == param("ns"))
)


def _next_seq(conn: Connection, ctx: Ctx) -> int:
    if conn.dialect.name == "postgresql":
        _SEQ_LOCK.execute(conn, {"ns": ctx.namespace})
    elif conn.dialect.name == "sqlite" and not conn.connection.dbapi_connection.in_transaction:  # type: ignore[union-attr]
        _SQLITE_WRITE_LOCK.execute(conn, {"ns": ctx.namespace})
    row = _LAST_SEQ.first(conn, {"ns": ctx.namespace})
    return int((row[0] if row else None) or 0) + 1


def _delivered_state(qos: int) -> str:
    return SENT if qos == 1 else DELIVERED


@dataclass(frozen=True)
class Outgoing:
    """One command to send: ``cache_s`` None disables the cache; ``identity`` is what makes
    two commands identical for ``cover``."""

    target: Route
    ticket: str
    operation: str
    payload: dict[str, Any]
    identity: str
    qos: int
    cache_s: int | None
    cover: bool


def send_many(
    conn: Connection, ctx: Ctx, batch: Sequence[Outgoing]
) -> list[dict[str, Any] | Undeliverable]:
    """Create the tickets of a batch, in order: each delivered now, or cached for ``cache_s``
    seconds; :class:`Undeliverable` in its place when the connection is offline and the cache
    disabled. One insert for the whole batch."""
    now = ctx.now_ms()
    results: list[dict[str, Any] | Undeliverable] = []
    pending: list[dict[str, Any]] = []
    seq: int | None = None
    for out in batch:
        target = out.target
        if not target.online and out.cache_s is None:
            reason = Undeliverable.GATEWAY_OFFLINE if target.via else Undeliverable.OFFLINE
            results.append(Undeliverable(reason))
            continue
        if out.cache_s is not None and out.cover:
            _supersede(conn, ctx, target, out.identity, out.ticket, now)
            for earlier in pending:
                if (
                    earlier["state"] == CACHED and earlier["identity"] == out.identity
                    and (earlier["product_key"], earlier["device_key"])
                    == (target.product_key, target.device_key)
                ):  # fmt: skip
                    earlier["state"] = SUPERSEDED
                    earlier["history"].append({"state": SUPERSEDED, "at": now, "by": out.ticket})
        via_pk, via_dk = target.via if target.via else (None, None)
        entry: dict[str, Any] = {"at": now}
        if target.via:
            entry["via"] = {"productKey": via_pk, "deviceKey": via_dk}
        row: dict[str, Any] = {
            "namespace": ctx.namespace, "ticket": out.ticket, "vendor": target.vendor,
            "operation": out.operation, "product_key": target.product_key,
            "device_key": target.device_key, "via_product_key": via_pk,
            "via_device_key": via_dk, "qos": out.qos, "identity": out.identity,
            "payload": out.payload, "created_at": now, "updated_at": now,
        }  # fmt: skip
        if target.online:
            seq = _next_seq(conn, ctx) if seq is None else seq + 1
            state = _delivered_state(out.qos)
            row |= {"delivered_at": now, "delivery_seq": seq, "expires_at": None}
        else:
            state = CACHED
            row |= {"delivered_at": None, "delivery_seq": None}
            row["expires_at"] = now + int(out.cache_s or 0) * 1000
            entry["until"] = row["expires_at"]
        row |= {"state": state, "history": [{"state": state, **entry}]}
        pending.append(row)
        results.append(row)
    if pending:
        _INSERT_COMMAND.executemany(
            conn,
            [
                {**r, "payload": dumps(r["payload"]), "history": dumps(r["history"])}
                for r in pending
            ],
        )
    return [r if isinstance(r, Undeliverable) else view(r) for r in results]


def send(conn: Connection, ctx: Ctx, out: Outgoing) -> dict[str, Any]:
    """:func:`send_many` for one command; raises :class:`Undeliverable`."""
    [result] = send_many(conn, ctx, [out])
    if isinstance(result, Undeliverable):
        raise result
    return result


def _supersede(conn: Connection, ctx: Ctx, target: Route, identity: str, by: str, now: int) -> None:
    where = (
        _C.c.namespace == ctx.namespace, _C.c.vendor == target.vendor,
        _C.c.product_key == target.product_key, _C.c.device_key == target.device_key,
        _C.c.identity == identity,
    )  # fmt: skip
    expire_due(conn, ctx, and_(*where))
    for row in conn.execute(select(_C).where(*where, _C.c.state == CACHED)).all():
        _transition(conn, row, SUPERSEDED, now, by=by)


def _transition(conn: Connection, row: Any, state: str, at: int, **changes: Any) -> dict[str, Any]:
    """Move a ticket to ``state`` and append it to the history. Keyword arguments that name a
    column update it; the others are recorded in the history entry."""
    columns = {k: v for k, v in changes.items() if k in _C.c}
    extra = {k: v for k, v in changes.items() if k not in _C.c}
    history = [*(row.history or []), {"state": state, "at": at, **extra}]
    conn.execute(
        update(_C)
        .where(_C.c.id == row.id)
        .values(state=state, history=history, updated_at=at, **columns)
    )
    return {**row._asdict(), "state": state, "history": history, "updated_at": at, **columns}


def expire_due(conn: Connection, ctx: Ctx, where: ColumnElement[bool]) -> None:
    """Cached tickets whose cache time has run out on the emulator clock become ``expired``."""
    now = ctx.now_ms()
    due = conn.execute(
        select(_C).where(
            _C.c.namespace == ctx.namespace, _C.c.state == CACHED, _C.c.expires_at <= now, where
        )
    ).all()
    for row in due:
        _transition(conn, row, EXPIRED, int(row.expires_at))


def _connection_of(vendor: str, product_key: str, device_key: str) -> ColumnElement[bool]:
    """Tickets carried by this device's connection: its own, and its sub-devices' via it."""
    own = and_(
        _C.c.product_key == product_key, _C.c.device_key == device_key,
        _C.c.via_product_key.is_(None),
    )  # fmt: skip
    through = and_(_C.c.via_product_key == product_key, _C.c.via_device_key == device_key)
    return and_(_C.c.vendor == vendor, or_(own, through))


def deliver_pending(
    conn: Connection, ctx: Ctx, vendor: str, product_key: str, device_key: str
) -> int:
    """The connection came online: its cached tickets are delivered, oldest first."""
    carried = _connection_of(vendor, product_key, device_key)
    expire_due(conn, ctx, carried)
    rows = conn.execute(
        select(_C)
        .where(_C.c.namespace == ctx.namespace, _C.c.state == CACHED, carried)
        .order_by(_C.c.id)
    ).all()
    now = ctx.now_ms()
    for row in rows:
        _transition(
            conn, row, _delivered_state(int(row.qos)), now,
            delivered_at=now, delivery_seq=_next_seq(conn, ctx),
        )  # fmt: skip
    return len(rows)


def inbox(
    conn: Connection, ctx: Ctx, vendor: str, product_key: str, device_key: str, after: int = 0
) -> list[dict[str, Any]]:
    """What the device's connection has received, oldest first (its sub-devices' included)."""
    rows = conn.execute(
        select(_C)
        .where(
            _C.c.namespace == ctx.namespace,
            _C.c.delivery_seq.is_not(None),
            _C.c.delivery_seq > after,
            _connection_of(vendor, product_key, device_key)
            | and_(
                _C.c.vendor == vendor,
                _C.c.product_key == product_key,
                _C.c.device_key == device_key,
            ),
        )
        .order_by(_C.c.delivery_seq)
    ).all()
    return [inbox_item(row._asdict()) for row in rows]


def _one(conn: Connection, ctx: Ctx, ticket: str) -> Any:
    where = and_(_C.c.namespace == ctx.namespace, _C.c.ticket == ticket)
    expire_due(conn, ctx, where)
    row = conn.execute(select(_C).where(where)).first()
    if row is None:
        raise CommandNotFound(ticket)
    return row


def get(conn: Connection, ctx: Ctx, ticket: str) -> dict[str, Any]:
    return view(_one(conn, ctx, ticket)._asdict())


def ack(conn: Connection, ctx: Ctx, ticket: str, success: bool, payload: Any) -> dict[str, Any]:
    """The device acknowledges a qos 1 command: ``succeeded`` or ``failed``."""
    row = _one(conn, ctx, ticket)
    if row.state != SENT:
        raise CommandStateError(
            f"ticket {ticket} is {row.state}: only a sent (qos 1, delivered) command takes an ack"
        )
    state = SUCCEEDED if success else FAILED
    return view(_transition(conn, row, state, ctx.now_ms(), result=payload))


def list_commands(
    conn: Connection,
    ctx: Ctx,
    *,
    vendor: str | None,
    product_key: str | None,
    device_key: str | None,
    state: str | None,
    limit: int,
    offset: int,
) -> tuple[int, list[dict[str, Any]]]:
    where: list[ColumnElement[bool]] = [_C.c.namespace == ctx.namespace]
    for column, value in (
        (_C.c.vendor, vendor), (_C.c.product_key, product_key), (_C.c.device_key, device_key),
    ):  # fmt: skip
        if value is not None:
            where.append(column == value)
    expire_due(conn, ctx, and_(*where))
    if state is not None:
        where.append(_C.c.state == state)
    total = conn.execute(select(func.count()).select_from(_C).where(*where)).scalar_one()
    rows = conn.execute(
        select(_C).where(*where).order_by(_C.c.id).limit(limit).offset(offset)
    ).all()
    return int(total), [view(row._asdict()) for row in rows]


def _gateway(row: dict[str, Any]) -> dict[str, str] | None:
    if row.get("via_product_key") is None:
        return None
    return {"productKey": row["via_product_key"], "deviceKey": row["via_device_key"]}


def inbox_item(row: dict[str, Any]) -> dict[str, Any]:
    """A command as the device received it."""
    return {
        "seq": row["delivery_seq"],
        "ticket": row["ticket"],
        "productKey": row["product_key"],
        "deviceKey": row["device_key"],
        "gateway": _gateway(row),
        "qos": row["qos"],
        "state": row["state"],
        "payload": row["payload"],
        "receivedAt": row["delivered_at"],
    }


def view(row: dict[str, Any]) -> dict[str, Any]:
    """A ticket with its state history (control-plane JSON)."""
    return {
        "ticket": row["ticket"],
        "vendor": row["vendor"],
        "operation": row.get("operation", ""),
        "productKey": row["product_key"],
        "deviceKey": row["device_key"],
        "gateway": _gateway(row),
        "qos": row["qos"],
        "state": row["state"],
        "payload": row["payload"],
        "createdAt": row["created_at"],
        "updatedAt": row["updated_at"],
        "expiresAt": row.get("expires_at"),
        "deliveredAt": row.get("delivered_at"),
        "seq": row.get("delivery_seq"),
        # What the device answered in its ack (None until it acks).
        "result": next((h["result"] for h in reversed(row["history"]) if "result" in h), None),
        "history": row["history"],
    }
