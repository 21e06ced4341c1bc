"""MCS registerDevice and its companions (mcs-registerDevice.md, REAL-CLIENTS.md §5).

Devices live in ``registry.devices`` with vendor ``mcs``: ``device_key`` is the MCS
``deviceId``, ``secret`` the MCS ``deviceKey``, ``product_key`` the ``prodId``; a product's
``org_id`` is the user that owns it.

Deviations from the real platform:
- a request of several devices is all or nothing: the first invalid device answers for the
  whole request (the ``credentials`` answer has no failure list), and so does a fault
  injected on one device (``device_fault`` is asked with each new ``deviceId``);
- codes other than the documented 1002 are the HTTP status (400, 404, 500), as in MCS's newer
  envelope; the descriptions are the emulator's own;
- serials are not checked for uniqueness; a serial is not needed for a test device;
- registering activates the device (``isActive``, ``activatedAt``); data channels, firmware,
  tags and ``removeData`` are not emulated;
- ids: ``deviceId`` "D" + 7 letters/digits, ``deviceKey`` 16 letters/digits (the real formats).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, delete, select

from emulator.core import registry
from emulator.core.context import Ctx
from emulator.core.errors import VendorError
from emulator.core.faults import device_fault
from emulator.core.sql import HotSql, const, dumps, insert_of, list_params, param, param_list
from emulator.vendors.mcs.auth import Caller
from emulator.vendors.mcs.errors import DeviceError
from emulator.vendors.mcs.schemas import RegisterDeviceRequest

VENDOR = "mcs"
REGISTER = "mcs.register_device"
_ID_ATTEMPTS = 20
_D = registry.devices
_P = registry.products


@dataclass(frozen=True)
class Product:
    prod_id: str
    owner: str | None
    name: str
    attrs: dict[str, Any]

    @property
    def requires_serial(self) -> bool:
        return bool(self.attrs.get("requiresSerial"))

    @property
    def chip_name(self) -> str:
        return str(self.attrs.get("chipName") or "MT7687")


@dataclass(frozen=True)
class Registered:
    device_id: str
    device_key: str
    chip_name: str


# registerDevice runs on every request of a load test: its statements run on the driver's
# cursor (core/sql.py).
_D, _P = registry.devices, registry.products
_PRODUCTS = HotSql(
    select(_P.c.product_key, _P.c.org_id, _P.c.name, _P.c.attrs).where(
        _P.c.namespace == param("ns"),
        _P.c.vendor == const("mcs"),
        _P.c.product_key.in_(param_list("ids")),
    )
)
_ID_TAKEN = HotSql(
    select(_D.c.id).where(
        _D.c.namespace == param("ns"), _D.c.vendor == const("mcs"), _D.c.device_key == param("id")
    )
)
_INSERT = HotSql(
    insert_of(_D, (
        "namespace", "vendor", "product_key", "device_key", "org_id", "name", "secret", "online",
        "attrs", "created_at", "updated_at",
    ))
)  # fmt: skip


def _products(conn: Connection, ctx: Ctx, prod_ids: set[str]) -> dict[str, Product]:
    wanted = sorted(prod_ids)
    rows = _PRODUCTS.sized("ids", len(wanted)).all(
        conn, {"ns": ctx.namespace, **list_params("ids", wanted)}
    )
    return {
        row.product_key: Product(row.product_key, row.org_id, row.name, dict(row.attrs or {}))
        for row in rows
    }


def _check(device: RegisterDeviceRequest, products: dict[str, Product], caller: Caller) -> Product:
    product = products.get(device.prod_id)
    if product is None:
        raise VendorError(DeviceError.NOT_FOUND, f"product {device.prod_id} not found")
    if not caller.owns(product.owner):
        raise VendorError(DeviceError.NO_ACCESS_RIGHT)
    if product.requires_serial and not device.is_test and not device.serial:
        raise VendorError(
            DeviceError.BAD_REQUEST,
            f"serial is required: product {device.prod_id} registers devices by serial",
        )
    return product


def _id_taken(conn: Connection, ctx: Ctx, device_id: str) -> bool:
    return _ID_TAKEN.first(conn, {"ns": ctx.namespace, "id": device_id}) is not None


def _new_device_id(ctx: Ctx) -> str:
    return "D" + ctx.ids.alnum(7)


def register_devices(
    ctx: Ctx, caller: Caller, devices: Sequence[RegisterDeviceRequest]
) -> list[Registered]:
    """registerDevice: every device is created, or none is."""
    with ctx.read() as conn:
        products = _products(conn, ctx, {d.prod_id for d in devices})
    checked = [(device, _check(device, products, caller)) for device in devices]
    ids = [_new_device_id(ctx) for _ in checked]
    # Asked before any row is written: a faulted device leaves the whole request undone.
    for device_id in ids:
        fault = device_fault(ctx, REGISTER, device_id)
        if fault is not None:
            raise fault
    now = ctx.now_ms()
    out: list[Registered] = []
    with ctx.begin() as conn:
        for (device, product), device_id in zip(checked, ids, strict=True):
            for _ in range(_ID_ATTEMPTS):
                if not _id_taken(conn, ctx, device_id):
                    break
                device_id = _new_device_id(ctx)
            else:
                raise VendorError(DeviceError.INTERNAL_ERROR, "could not generate a deviceId")
            device_key = ctx.ids.alnum(16)
            _INSERT.execute(
                conn,
                {
                    "namespace": ctx.namespace,
                    "vendor": VENDOR,
                    "product_key": product.prod_id,
                    "device_key": device_id,
                    "org_id": product.owner,
                    "name": device.name,
                    "secret": device_key,
                    "online": False,
                    "attrs": dumps(
                        {
                            "isTest": device.is_test,
                            "description": device.description,
                            "serial": device.serial,
                            "deviceImageURL": device.device_image_url,
                        }
                    ),
                    "created_at": now,
                    "updated_at": now,
                },
            )
            out.append(Registered(device_id, device_key, product.chip_name))
    return out


def _select(conn: Connection, ctx: Ctx, device_ids: Sequence[str]) -> dict[str, Any]:
    rows = conn.execute(
        select(_D).where(
            _D.c.namespace == ctx.namespace, _D.c.vendor == VENDOR,
            _D.c.device_key.in_(list(device_ids)),
        )
    )  # fmt: skip
    return {row.device_key: row for row in rows}


def _owned(
    ids: Sequence[str], rows: dict[str, Any], products: dict[str, Product], caller: Caller
) -> None:
    for device_id in ids:
        row = rows.get(device_id)
        if row is None:
            raise VendorError(DeviceError.NOT_FOUND, f"device {device_id} not found")
        product = products.get(row.product_key)
        if not caller.owns(product.owner if product else None):
            raise VendorError(DeviceError.NO_ACCESS_RIGHT)


def split_ids(path_value: str) -> list[str]:
    """``d1,d2`` (the doc's comma-separated form), in order, without repeats or blanks."""
    return list(dict.fromkeys(part.strip() for part in path_value.split(",") if part.strip()))


def get_devices(ctx: Ctx, caller: Caller, device_ids: Sequence[str]) -> list[dict[str, Any]]:
    """Retrieve device information: one entry per id, in the order asked."""
    if not device_ids:
        raise VendorError(DeviceError.NOT_FOUND, "device not found")
    with ctx.read() as conn:
        rows = _select(conn, ctx, device_ids)
        products = _products(conn, ctx, {row.product_key for row in rows.values()})
    _owned(device_ids, rows, products, caller)
    return [_info(rows[i], products.get(rows[i].product_key)) for i in device_ids]


def _info(row: Any, product: Product | None) -> dict[str, Any]:
    attrs = row.attrs or {}
    return {
        "deviceId": row.device_key,
        "deviceKey": row.secret,
        "name": row.name,
        "description": attrs.get("description"),
        "product": {
            "prodId": row.product_key,
            "prodVersion": "1",
            "name": product.name if product else "",
            "description": "",
            "displayConfigs": [],
            "chip": product.chip_name if product else "",
        },
        "dataChannels": [],
        "fw": None,
        "trustIpRange": ["*.*.*.*"],
        "lastIp": None,
        "deviceImageURL": attrs.get("deviceImageURL"),
        "isHeartbeating": bool(row.online),
        "isVerified": True,
        "isActive": True,
        "isTest": bool(attrs.get("isTest", False)),
        # Seconds, as the doc samples (946684800).
        "activatedAt": row.created_at // 1000,
        "deactivatedAt": None,
        "tags": [],
        "privilege": "Owner",
    }


def deregister_device(ctx: Ctx, caller: Caller, device_id: str) -> dict[str, Any]:
    """deregisterDevice: the device is removed; ``deregisteredAt`` in seconds."""
    with ctx.begin() as conn:
        rows = _select(conn, ctx, [device_id])
        products = _products(conn, ctx, {row.product_key for row in rows.values()})
        _owned([device_id], rows, products, caller)
        conn.execute(delete(_D).where(_D.c.id == rows[device_id].id))
    return {"deviceId": device_id, "deregisteredAt": ctx.clock.now_s()}
