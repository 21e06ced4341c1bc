"""The vendor contract: one object per vendor package says everything the rest of the
emulator needs to know about that vendor, so core, the control plane, the CLI, the fleet
generator, conformance and the dashboard derive their lists from the registered vendors and
never name one.

``emulator/vendors/builtin.py`` registers the built-in vendors (the one registration point);
:func:`register` adds another (the test vendor under ``tests/`` does). The docs page
"Adding a vendor" walks through the fields.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import AfterValidator
from pydantic_core import PydanticCustomError

from emulator.core.masking import GENERIC, Credentials

if TYPE_CHECKING:
    from fastapi import APIRouter
    from sqlalchemy import Connection

    from emulator.control.schemas import DeviceView
    from emulator.core.context import Ctx, Emulator
    from emulator.core.fixtures import FixtureSection
    from emulator.core.ids import Ids
    from emulator.core.operations import Operation
    from emulator.core.routing import VendorRoute

# (conn, ctx, device) inside the transaction that brings a device online.
OnlineHook = Callable[["Connection", "Ctx", "DeviceView"], None]
# A listener started with the app and stopped with it (e.g. a device-protocol broker).
Listener = Callable[["Emulator"], AbstractAsyncContextManager[None]]


@dataclass(frozen=True)
class DeviceRows:
    """How this vendor's device rows look (``registry.devices``), for the fleet generator:
    ``make(key, product, ids)`` gives the vendor columns of one new device (``secret``,
    ``asset_id``, ``attrs``...); the common ones (namespace, keys, times, online) are core's.
    ``prepare(conn, namespace, product_key, count)`` runs before a fleet is written (EnOS
    raises the product's quota) and returns what the fleet result reports, or None.
    """

    make: Callable[[str, Any, Ids], dict[str, Any]]
    prepare: Callable[[Connection, str, Any, int], int | None] | None = None
    # The columns ``make`` fills that must stay unique in the namespace (the asset id).
    unique: tuple[str, ...] = ()


@dataclass(frozen=True)
class FleetCommands:
    """Command traffic the fleet generator can send to this vendor's devices: what the
    vendor's own command API sends (``operation``, ``payload``, the cover ``identity``)."""

    operation: str
    payload: Mapping[str, Any]
    identity: str
    cache_s: int


@dataclass(frozen=True)
class Vendor:
    """One vendor, as the rest of the emulator sees it."""

    # The first part of its operation ids and the ``vendor`` column of its rows.
    name: str
    # For people: the OpenAPI description, the CLI help.
    title: str
    # The routers of its documented operations (matched first), then its companions.
    routers: Sequence[APIRouter] = ()
    companion_routers: Sequence[APIRouter] = ()
    # Routers mounted beside the control plane (``/_emulator/...``): vendor-only views.
    control_routers: Sequence[APIRouter] = ()
    # (path prefix, route class): an unknown path under the prefix answers in that route's
    # envelope with its ``validation_fallback`` code.
    fallbacks: Sequence[tuple[str, type[VendorRoute]]] = ()
    # Operations registered with the vendor (core/operations.py), when its routes modules do
    # not register them on import; unregistering the vendor removes them.
    operations: Sequence[Operation] = ()
    # Vendor document file -> the operation it documents (conformance report).
    docs: Mapping[str, str] = field(default_factory=dict)
    # The vendor's success code in its envelope (None: success carries no code).
    success_code: int | None = None
    # Its credential fields, beyond names that say token, secret or password: what the
    # journal and the access log mask (core/masking.py).
    credentials: Credentials = GENERIC
    # Its section of a fixture file (``<name>:``; core/fixtures.py); None: it has none.
    fixtures: FixtureSection[Any] | None = None
    devices: DeviceRows | None = None
    fleet_commands: FleetCommands | None = None
    # A product key that exists in the default fixtures (CLI examples).
    example_product: str = ""
    # Called once on the running emulator when the app is created: register hooks there.
    setup: Sequence[Callable[[Emulator], None]] = ()
    # Started with the app (its lifespan), stopped with it.
    listeners: Sequence[Listener] = ()


_REGISTERED: list[Vendor] = []
_LOADED = False


def _load_builtin() -> None:
    global _LOADED
    if not _LOADED:
        _LOADED = True
        importlib.import_module("emulator.vendors.builtin")


def register(vendor: Vendor) -> Vendor:
    """Add a vendor (a second registration under the same name replaces the first)."""
    from emulator.core import operations

    operations.register(*vendor.operations)
    for i, known in enumerate(_REGISTERED):
        if known.name == vendor.name:
            _REGISTERED[i] = vendor
            return vendor
    _REGISTERED.append(vendor)
    return vendor


def unregister(name: str) -> None:
    from emulator.core import operations

    for vendor in _REGISTERED:
        if vendor.name == name:
            for operation in vendor.operations:
                operations.OPERATIONS.pop(operation.id, None)
    _REGISTERED[:] = [v for v in _REGISTERED if v.name != name]


@contextmanager
def registered(vendor: Vendor) -> Iterator[Vendor]:
    """``vendor`` registered for the duration of the block (tests)."""
    _load_builtin()
    register(vendor)
    try:
        yield vendor
    finally:
        unregister(vendor.name)


def vendors() -> tuple[Vendor, ...]:
    """Every registered vendor, in registration order."""
    _load_builtin()
    return tuple(_REGISTERED)


def names() -> tuple[str, ...]:
    return tuple(v.name for v in vendors())


def get(name: str) -> Vendor:
    for vendor in vendors():
        if vendor.name == name:
            return vendor
    raise KeyError(name)


def check_name(value: str | None) -> str | None:
    """A validator for a ``vendor`` parameter: one of the registered vendors (or None).
    Registered at request time, not at import: a vendor registered later is accepted too."""
    known = names()
    if value is not None and value not in known:
        choices = ", ".join(repr(n) for n in known[:-1])
        choices = f"{choices} or {known[-1]!r}" if choices else repr(known[-1])
        raise PydanticCustomError(
            "literal_error", "Input should be {expected}", {"expected": choices}
        )
    return value


# A ``vendor`` path or query parameter of the control plane.
VendorName = Annotated[str, AfterValidator(check_name)]
VendorFilter = Annotated[str | None, AfterValidator(check_name)]


@dataclass
class Hooks:
    """Hooks on one running emulator, registered by the vendors' ``setup`` at app creation."""

    on_online: list[OnlineHook] = field(default_factory=list)

    def device_online(self, conn: Connection, ctx: Ctx, device: DeviceView) -> None:
        for hook in self.on_online:
            hook(conn, ctx, device)
