"""Every table of the emulator, in one module (the SQLModel guidance).

One device registry serves all vendors: a row is scoped by ``namespace`` and ``vendor``.
A vendor's own tables live in its package (``vendors/<name>/tables.py``, on the same
metadata) and carry a vendor prefix in their names. ``attrs`` columns hold the vendor's own
fields that no other vendor shares (EnOS ``timezone``, Quectel ``authMode``), so the common
columns stay the ones every vendor needs to find and simulate a device.

Times are integers in milliseconds on the emulator clock.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Connection,
    Float,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    Update,
    func,
    select,
    update,
)
from sqlmodel import Field, SQLModel

from emulator.core.sql import HotSql, param
from emulator.core.vendor import vendors

Attrs = dict[str, Any]

# The name of the devices' unique key (schema version 6 put the device key first).
DEVICE_KEY = "uq_devices_key"


class Namespace(SQLModel, table=True):
    """A namespace that holds state; created from the baseline on first use."""

    __tablename__ = "namespaces"

    name: str = Field(primary_key=True)
    created_at: int = Field(sa_type=BigInteger)


class Product(SQLModel, table=True):
    """A product of any vendor. ``org_id``: the EnOS org, or the MCS user that owns it."""

    __tablename__ = "products"

    namespace: str = Field(primary_key=True)
    vendor: str = Field(primary_key=True)
    product_key: str = Field(primary_key=True)
    org_id: str | None = None
    name: str = ""
    attrs: Attrs = Field(default_factory=dict, sa_type=JSON)
    # Devices counted against the EnOS quota (11739 "Exceed max device size"). A counter, not
    # a COUNT(*), so a create stays as fast with a million devices as with none. Derived
    # state: kept by the EnOS services, recounted after bulk loads, never exported.
    quota_used: int = Field(default=0, sa_column_kwargs={"info": {"derived": True}})


class Device(SQLModel, table=True):
    """A device of any vendor, and the state of its simulated twin (``online``).

    ``device_key`` identifies the device inside its product (MCS: the ``deviceId``);
    ``secret`` is its credential (EnOS ``deviceSecret``, Quectel device secret, MCS
    ``deviceKey``).
    """

    __tablename__ = "devices"
    __table_args__ = (
        # Device key before product key: the unique key also serves lookups by device key
        # alone (MCS deviceIds are unique across products; batchControlDevice finds a whole
        # list of devices in one query), so no second index on it. Generated device keys
        # are random: each index they lead is one more page a create dirties.
        UniqueConstraint("namespace", "vendor", "device_key", "product_key", name=DEVICE_KEY),
        Index("ix_devices_asset", "namespace", "vendor", "asset_id"),
        # A product's devices, in id order (the rowid ends every SQLite index entry).
        Index("ix_devices_product", "namespace", "vendor", "product_key"),
    )

    id: int | None = Field(default=None, primary_key=True)
    namespace: str
    vendor: str
    product_key: str
    device_key: str
    org_id: str | None = None
    asset_id: str | None = None
    name: str = ""
    secret: str = ""
    online: bool = False
    gateway_product_key: str | None = None
    gateway_device_key: str | None = None
    attrs: Attrs = Field(default_factory=dict, sa_type=JSON)
    created_at: int = Field(default=0, sa_type=BigInteger)
    updated_at: int = Field(default=0, sa_type=BigInteger)
    first_online_at: int | None = Field(default=None, sa_type=BigInteger)
    last_online_at: int | None = Field(default=None, sa_type=BigInteger)
    last_offline_at: int | None = Field(default=None, sa_type=BigInteger)


class Credential(SQLModel, table=True):
    """An API credential: EnOS and Quectel access keys, Quectel user domains and end users,
    MCS apps and users. ``key`` is the public half, ``secret`` the private half."""

    __tablename__ = "credentials"
    __table_args__ = (UniqueConstraint("namespace", "vendor", "kind", "key"),)

    id: int | None = Field(default=None, primary_key=True)
    namespace: str
    vendor: str
    kind: str
    key: str
    secret: str = ""
    attrs: Attrs = Field(default_factory=dict, sa_type=JSON)


class Token(SQLModel, table=True):
    """A token issued by one of the emulated token services."""

    __tablename__ = "tokens"
    __table_args__ = (UniqueConstraint("namespace", "vendor", "token"),)

    id: int | None = Field(default=None, primary_key=True)
    namespace: str
    vendor: str
    kind: str
    token: str
    subject: str
    issued_at: int = Field(sa_type=BigInteger)
    expires_at: int = Field(sa_type=BigInteger)
    attrs: Attrs = Field(default_factory=dict, sa_type=JSON)


class Binding(SQLModel, table=True):
    """A device bound to an end user (Quectel end-user API)."""

    __tablename__ = "bindings"

    namespace: str = Field(primary_key=True)
    vendor: str = Field(primary_key=True)
    user: str = Field(primary_key=True)
    product_key: str = Field(primary_key=True)
    device_key: str = Field(primary_key=True)


class Command(SQLModel, table=True):
    """A command ticket sent to a device, with its state history on the emulator clock.

    ``via_*`` names the gateway whose connection carries the command to a sub-device (None:
    the device's own connection). ``identity`` is what makes two commands "identical" for the
    vendor's cover rule. ``delivery_seq`` orders a device's inbox (assigned on delivery).
    """

    __tablename__ = "commands"
    __table_args__ = (
        UniqueConstraint("namespace", "ticket"),
        Index("ix_commands_device", "namespace", "vendor", "product_key", "device_key"),
        Index("ix_commands_via", "namespace", "vendor", "via_product_key", "via_device_key"),
        # The next delivery_seq is MAX()+1 per namespace: an index keeps it O(log n).
        Index("ix_commands_seq", "namespace", "delivery_seq"),
    )

    id: int | None = Field(default=None, primary_key=True)
    namespace: str
    ticket: str
    vendor: str
    operation: str = ""
    product_key: str
    device_key: str
    via_product_key: str | None = None
    via_device_key: str | None = None
    state: str
    qos: int = 1
    identity: str = ""
    payload: Attrs = Field(default_factory=dict, sa_type=JSON)
    history: list[Attrs] = Field(default_factory=list, sa_type=JSON)
    expires_at: int | None = Field(default=None, sa_type=BigInteger)
    delivered_at: int | None = Field(default=None, sa_type=BigInteger)
    delivery_seq: int | None = None
    created_at: int = Field(default=0, sa_type=BigInteger)
    updated_at: int = Field(default=0, sa_type=BigInteger)


def table_of(model: type[SQLModel]) -> Table:
    """The Core table of a model, for the hot paths that skip the ORM."""
    table: Table = model.__table__  # type: ignore[attr-defined]
    return table


namespaces = table_of(Namespace)
products = table_of(Product)
devices = table_of(Device)
credentials = table_of(Credential)
tokens = table_of(Token)
bindings = table_of(Binding)
commands = table_of(Command)


def device_row(
    vendor: str, product_key: str, device_key: str, *, now: int, online: bool = False,
    **columns: Any,
) -> dict[str, Any]:  # fmt: skip
    """A whole ``devices`` row (every column but ``namespace`` and ``id``), the one shape of a
    device for the fixtures and the fleet generator: a device online since ``now`` when
    ``online``; ``columns`` sets the vendor's own (``secret``, ``asset_id``, ``attrs``...)."""
    row: dict[str, Any] = {
        "vendor": vendor,
        "product_key": product_key,
        "device_key": device_key,
        "org_id": None,
        "asset_id": None,
        "name": device_key,
        "secret": "",
        "online": online,
        "gateway_product_key": None,
        "gateway_device_key": None,
        "attrs": {},
        "created_at": now,
        "updated_at": now,
        "first_online_at": now if online else None,
        "last_online_at": now if online else None,
        "last_offline_at": None,
    }
    row.update(columns)
    return row


def derived_columns(table: Table) -> set[str]:
    """Columns computed from other rows: not part of a snapshot, recomputed on load."""
    return {c.name for c in table.c if c.info.get("derived")}


def _recount_quota_statement() -> Update:
    d = devices
    held = (
        select(func.count())
        .where(
            d.c.namespace == products.c.namespace,
            d.c.vendor == products.c.vendor,
            d.c.product_key == products.c.product_key,
        )
        .scalar_subquery()
    )
    return update(products).where(products.c.namespace == param("ns")).values(quota_used=held)


# Built once, run on the driver's cursor: every new namespace runs it.
_RECOUNT_QUOTA = HotSql(_recount_quota_statement())


def recount_quota(conn: Connection, namespace: str) -> None:
    """Recompute ``products.quota_used`` of a namespace after a bulk load."""
    _RECOUNT_QUOTA.execute(conn, {"ns": namespace})


def namespaced_tables() -> list[Table]:
    """Every table whose rows belong to a namespace (the vendors' own tables included)."""
    vendors()  # their tables are defined when their packages load
    return [t for t in SQLModel.metadata.sorted_tables if "namespace" in t.c]


# Shared state of several emulator processes on one database (PostgreSQL, or ``--workers N``
# on one SQLite file): the clock, armed faults and the journal. Core tables outside the
# namespaced ones (their namespace column is ``ns``), so a reset, an import or a snapshot
# never touches them; one process alone keeps them in memory and never writes here.
shared_state = Table(
    "emulator_shared_state",
    SQLModel.metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("frozen_ms", BigInteger, nullable=True),
    Column("offset_ms", BigInteger, nullable=False, default=0),
    # Bumped by every change of the fault rules / of the namespaces (a drop): each process
    # drops its cached view when the number it last saw changes.
    Column("faults_version", BigInteger, nullable=False, default=0),
    Column("namespaces_version", BigInteger, nullable=False, default=0),
    Column("fault_counter", BigInteger, nullable=False, default=0),
)

shared_faults = Table(
    "emulator_faults",
    SQLModel.metadata,
    Column("seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("ns", String, nullable=False, index=True),
    Column("rule_id", String, nullable=False),
    Column("operation", String, nullable=False),
    Column("code", Integer, nullable=True),
    # A device message's fault that drops instead of answering (core/operations.ACTIONS).
    Column("action", String, nullable=True),
    Column("times", Integer, nullable=True),
    Column("probability", Float, nullable=False),
    Column("seed", BigInteger, nullable=True),
    # Draws taken from the rule's sequence so far: any process computes the next one from this
    # count (core/faults.py draw).
    Column("draws", Integer, nullable=False, default=0),
    Column("latency_ms", Integer, nullable=False, default=0),
    Column("device_key", String, nullable=True),
    Column("expires_at", BigInteger, nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Column("fired", Integer, nullable=False, default=0),
)

shared_journal = Table(
    "emulator_journal",
    SQLModel.metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("ns", String, nullable=False),
    Column("operation", String, nullable=False),
    # The whole entry as JSON text (bodies are text already; the answer's bytes as latin-1).
    Column("entry", Text, nullable=False),
    Index("ix_emulator_journal_ns", "ns", "id"),
)

# Applied schema migrations (emulator/core/db.py): one row, the version of this database.
schema_version = Table(
    "schema_version",
    SQLModel.metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("version", Integer, nullable=False),
)
