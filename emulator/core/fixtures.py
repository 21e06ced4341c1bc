"""Fixture files: the declarative state the emulator starts from and resets to.

A fixture document is YAML (or JSON) with one optional section per registered vendor (its
``Vendor.fixtures``, a :class:`FixtureSection`), plus ``tables`` and ``overrides`` that a
state export writes. It is validated (unknown keys are refused, so a typo fails loudly),
checked for dangling references, and turned once into table rows (:class:`Baseline`) that a
reset writes back into a namespace. The format is documented in docs/fixtures.md.

The state export (the reverse: rows back into a document) is in ``core/snapshot.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, NoReturn, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model
from pydantic.alias_generators import to_camel
from sqlalchemy import JSON, Connection, Table, UniqueConstraint

from emulator.core import registry
from emulator.core.ids import Ids
from emulator.core.sql import HotSql, dumps, insert_of
from emulator.core.vendor import vendors


class FixtureError(ValueError):
    """A fixture file that cannot be loaded; the message names the file, entry and field.

    ``where`` (``<vendor>.devices[0].productKey``) and ``reason`` are the parts after the
    source, when the error is about one entry: several files merged name the file that holds
    the entry (``core/layering.py``).
    """

    def __init__(self, message: str, *, where: str | None = None, reason: str = "") -> None:
        super().__init__(message)
        self.where = where
        self.reason = reason

    @classmethod
    def at(cls, source: str, where: str, reason: str) -> FixtureError:
        return cls(f"{source}: {where}: {reason}", where=where, reason=reason)


class FixtureModel(BaseModel):
    model_config = ConfigDict(extra="forbid", alias_generator=to_camel, populate_by_name=True)


class DeviceFixture(FixtureModel):
    """A device of any vendor. ``deviceKey`` is the vendor's device id; ``secret`` its
    credential (generated when absent)."""

    product_key: str = Field(min_length=1)
    device_key: str = Field(min_length=1)
    name: str = ""
    secret: str | None = None
    asset_id: str | None = None
    online: bool = False
    gateway_product_key: str | None = None
    gateway_device_key: str | None = None
    attrs: dict[str, Any] = Field(default_factory=dict)
    created_at: int | None = None

    def row(self, vendor: str, ids: Ids, now: int, **columns: Any) -> dict[str, Any]:
        """The ``devices`` row of this entry (``registry.device_row``)."""
        created = self.created_at if self.created_at is not None else now
        own = {
            "name": self.name,
            "secret": self.secret if self.secret is not None else ids.device_secret(),
            "asset_id": self.asset_id,
            "gateway_product_key": self.gateway_product_key,
            "gateway_device_key": self.gateway_device_key,
            "attrs": self.attrs,
        }
        return registry.device_row(
            vendor, self.product_key, self.device_key, now=created, online=self.online,
            **{**own, **columns},
        )  # fmt: skip


class RowOverride(FixtureModel):
    """Columns of one row that its entry above does not carry (written by a state export:
    ``updatedAt``, ``lastOnlineAt``, a DPS device's allocation, ...). ``key`` names the row by
    its identity columns (snake_case column names, like ``columns``)."""

    table: str
    key: dict[str, Any]
    columns: dict[str, Any]


class FixtureDocument(FixtureModel):
    """A whole document: one field per vendor section (see :func:`document_model`), then
    ``tables`` (rows of tables no section says: commands) and ``overrides`` (the extra columns
    of rows a section does say), which a state export writes so export, reset and import
    round-trip exactly."""

    if TYPE_CHECKING:
        tables: dict[str, list[dict[str, Any]]]
        overrides: list[RowOverride]

        def __getattr__(self, name: str) -> Any: ...

    def section(self, name: str) -> Any:
        return getattr(self, name)


_DOCUMENT_MODELS: dict[tuple[tuple[str, type[BaseModel]], ...], type[FixtureDocument]] = {}


def document_model() -> type[FixtureDocument]:
    """The document model of the registered vendors (built once per set of vendors)."""
    sections = tuple(
        (v.name, v.fixtures.model) for v in vendors() if v.fixtures is not None
    )  # fmt: skip
    model = _DOCUMENT_MODELS.get(sections)
    if model is None:
        fields: dict[str, Any] = {
            name: (section, Field(default_factory=section)) for name, section in sections
        }
        fields["tables"] = (dict[str, list[dict[str, Any]]], Field(default_factory=dict))
        fields["overrides"] = (list[RowOverride], Field(default_factory=list))
        model = create_model("FixtureDocument", __base__=FixtureDocument, **fields)
        _DOCUMENT_MODELS[sections] = model
    return model


# --- what a vendor declares --------------------------------------------------------------

S = TypeVar("S", bound=FixtureModel)
Fail = Callable[[str, str], NoReturn]


class Rows:
    """Where a section's entries become rows (:meth:`FixtureSection.rows`)."""

    def __init__(self, base: Baseline, ids: Ids, now: int) -> None:
        self._base = base
        self.ids = ids
        self.now = now

    def add(self, table: Table, row: dict[str, Any]) -> None:
        self._base.rows.setdefault(table, []).append(row)


class Export:
    """What a section's exporter reads: the rows of one namespace that may be its own (the
    rows of its ``vendor`` in shared tables, every row of its own tables), and where it says
    which rows its entries describe. Rows it does not keep stay raw (``tables``)."""

    def __init__(
        self, vendor: str, rows: dict[Table, list[dict[str, Any]]], own: Sequence[Table]
    ) -> None:
        self.vendor = vendor
        self._rows = rows
        self._own = set(own)
        self.typed: set[int] = set()

    def rows(self, table: Table) -> list[dict[str, Any]]:
        rows = self._rows.get(table, [])
        if table in self._own or "vendor" not in table.c:
            return rows
        return [row for row in rows if row["vendor"] == self.vendor]

    def keep(self, row: dict[str, Any], entry: dict[str, Any] | None) -> bool:
        """Record that ``entry`` (None: nothing) describes ``row``; True when it does."""
        if entry is None:
            return False
        self.typed.add(id(row))
        return True

    def devices(
        self, of_product: Callable[[dict[str, Any]], bool]
    ) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
        """The device entries of a section: a device row whose product the section exported
        (``of_product``) and that makes a valid entry is kept, with its entry; any other
        stays a raw row."""
        for row in self.rows(registry.devices):
            if not of_product(row):
                continue
            item = entry(DeviceFixture, same_named(DeviceFixture, row))
            if self.keep(row, item):
                assert item is not None  # keep() is True only for an entry
                yield row, item


def entry(model: type[FixtureModel], data: dict[str, Any]) -> dict[str, Any] | None:
    """``data`` as an entry of ``model`` when it is a valid one (else the row stays raw)."""
    try:
        model.model_validate(data)
    except ValidationError:
        return None
    return data


def attrs_of(row: dict[str, Any]) -> dict[str, Any] | None:
    """A row's ``attrs`` object ({} when null); None when it is not an object."""
    attrs = row.get("attrs")
    if attrs is None:
        return {}
    return attrs if isinstance(attrs, dict) else None


def same_named(model: type[FixtureModel], row: dict[str, Any]) -> dict[str, Any]:
    """The fields of ``model`` that are columns of the same name (and set in the row)."""
    return {f: row[f] for f in model.model_fields if f in row and row[f] is not None}


def _no_references(section: Any, fail: Fail) -> None:
    return None


@dataclass(frozen=True)
class FixtureSection(Generic[S]):
    """A vendor's section of a fixture document (``<vendor name>:`` in the file).

    - ``model``: its schema (a :class:`FixtureModel` whose fields are lists of entries);
    - ``rows(section, rows)``: its entries as table rows (``rows.add``);
    - ``export(export)``: the section (a dict of entry lists, snake_case fields) that says the
      rows it keeps; the columns its entries do not carry become ``overrides``;
    - ``check(section, fail)``: its references (``fail(where, message)``, where relative to
      the section: ``orgs[0].devices[1].productKey``);
    - ``tables``: tables of its own (every row is handed to its exporter); in shared tables
      it sees the rows of its vendor;
    - ``identities``: the fields naming an entry of one of its lists, most specific first: a
      merged entry with the identity of an existing one updates it.
    """

    model: type[S]
    rows: Callable[[S, Rows], None]
    export: Callable[[Export], dict[str, Any]]
    check: Callable[[S, Fail], None] = _no_references
    tables: tuple[Table, ...] = ()
    identities: tuple[tuple[str, ...], ...] = ()


def _sections() -> list[tuple[str, FixtureSection[Any]]]:
    return [(v.name, v.fixtures) for v in vendors() if v.fixtures is not None]


# --- reading ------------------------------------------------------------------------------


def _location(loc: Sequence[int | str]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(document)"


def parse_document(data: Any, source: str, *, check: bool = True) -> FixtureDocument:
    """Validate a document; ``check=False`` leaves references to the caller (a merge checks
    them against the state it merges into)."""
    if data is None:
        data = {}
    try:
        doc = document_model().model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise FixtureError.at(source, _location(first["loc"]), first["msg"]) from None
    if check:
        check_references(doc, source)
    return doc


def check_references(doc: FixtureDocument, source: str) -> None:
    for name, section in _sections():

        def fail(where: str, message: str, name: str = name) -> NoReturn:
            raise FixtureError.at(source, f"{name}.{where}", message)

        section.check(doc.section(name), fail)


# --- rows ---------------------------------------------------------------------------------

# Issued tokens are not state a user restores: a snapshot leaves them out, an import keeps them.
NOT_EXPORTED = frozenset({"tokens"})


@dataclass
class Baseline:
    """Fixture documents turned into rows once, so a reset only has to write them.

    Not changed once written: :meth:`write` prepares its statements on first use.
    """

    rows: dict[Table, list[dict[str, Any]]] = field(default_factory=dict)
    _inserts: list[tuple[HotSql, list[dict[str, Any]]]] | None = field(
        default=None, repr=False, compare=False
    )

    def write(self, conn: Connection, namespace: str) -> None:
        for statement, rows in self._prepared():
            statement.executemany(conn, [{**row, "namespace": namespace} for row in rows])
        registry.recount_quota(conn, namespace)

    def _prepared(self) -> list[tuple[HotSql, list[dict[str, Any]]]]:
        """One insert per table on the driver's cursor, its JSON values already text: a test
        suite creates a namespace per test, and SQLAlchemy building the same statements and
        encoding the same values each time cost more than writing the rows."""
        if self._inserts is None:
            inserts = []
            for table, rows in self.rows.items():
                if not rows:
                    continue
                # The defaults SQLAlchemy's insert would fill in, given as values.
                defaults = {
                    c.name: column_default(table, c.name)
                    for c in table.c
                    if c.default is not None and c.name not in rows[0]
                }
                columns = [*rows[0], *defaults]
                as_json = [c for c in columns if isinstance(table.c[c].type, JSON)]
                # A JSON column's None is JSON null, as SQLAlchemy's own insert writes it.
                full = [{**defaults, **row} for row in rows]
                values = [{**row, **{c: dumps(row[c]) for c in as_json}} for row in full]
                inserts.append((HotSql(insert_of(table, [*columns, "namespace"])), values))
            self._inserts = inserts
        return self._inserts

    def finish(self, doc: FixtureDocument, source: str = "fixtures") -> Baseline:
        """Add the raw rows and overrides of ``doc``, and give every row of a table the same
        columns (one executemany per table on reset)."""
        tables = {t.name: t for t in registry.namespaced_tables()}
        for name, rows in doc.tables.items():
            table = tables.get(name)
            if table is None or name in NOT_EXPORTED:
                known = ", ".join(sorted(set(tables) - NOT_EXPORTED))
                raise FixtureError(f"{source}: tables.{name}: unknown table; tables: {known}")
            for i, row in enumerate(rows):
                unknown = bad_columns(table, row)
                if unknown:
                    raise FixtureError(
                        f"{source}: tables.{name}[{i}]: unknown columns {sorted(unknown)}"
                    )
                self.rows.setdefault(table, []).append(dict(row))
        for i, override in enumerate(doc.overrides):
            table = tables.get(override.table)
            where = f"{source}: overrides[{i}]"
            if table is None:
                raise FixtureError(f"{where}: unknown table {override.table!r}")
            key = identity(table)
            if set(override.key) != set(key):
                raise FixtureError(f"{where}: key must name {list(key)}")
            unknown = bad_columns(table, override.columns)
            if unknown:
                raise FixtureError(f"{where}: unknown columns {sorted(unknown)}")
            for row in self.rows.get(table, []):
                if all(row.get(k) == override.key[k] for k in key):
                    row.update(override.columns)
                    break
            else:
                raise FixtureError(f"{where}: no {override.table} row {override.key}")
        for table, rows in self.rows.items():
            names = set().union(*rows) if rows else set()
            for row in rows:
                for name in names - row.keys():
                    row[name] = column_default(table, name)
        return self


def build_baseline(doc: FixtureDocument, ids: Ids, now: int) -> Baseline:
    """The rows of ``doc``: each vendor's section in registration order (the order its
    seeded ids are drawn in), then the raw rows and the overrides."""
    base = Baseline()
    sink = Rows(base, ids, now)
    for name, section in _sections():
        section.rows(doc.section(name), sink)
    return base.finish(doc)


def identity(table: Table) -> tuple[str, ...]:
    """The columns naming a row inside its namespace: a unique constraint, else the key. In
    the table's column order, not the index's (which is chosen for speed)."""
    for constraint in table.constraints:
        if isinstance(constraint, UniqueConstraint):
            names = {c.name for c in constraint.columns} - {"namespace"}
            return tuple(c.name for c in table.c if c.name in names)
    return tuple(c.name for c in table.primary_key if c.name != "namespace")


def column_default(table: Table, name: str) -> Any:
    default = table.c[name].default
    if default is None:
        return None
    if default.is_scalar:
        return default.arg  # type: ignore[attr-defined]
    if default.is_callable:
        return default.arg(None)  # type: ignore[attr-defined]
    return None


def bad_columns(table: Table, row: dict[str, Any]) -> list[str]:
    """Columns a fixture row may not set: unknown ones, the namespace and generated ids."""
    allowed = {c.name for c in table.c} - {"namespace"}
    if has_serial_id(table):
        allowed.discard("id")
    return sorted(set(row) - allowed)


def has_serial_id(table: Table) -> bool:
    return "id" in table.c and table.c["id"].primary_key


def row_identities(state: Baseline) -> set[tuple[str, tuple[Any, ...]]]:
    """(table name, identity values) of every row of ``state``."""
    out: set[tuple[str, tuple[Any, ...]]] = set()
    for table, rows in state.rows.items():
        key = identity(table)
        out.update((table.name, tuple(row.get(k) for k in key)) for row in rows)
    return out
