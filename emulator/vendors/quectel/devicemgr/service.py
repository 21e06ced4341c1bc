"""Quectel SaaS device manager behaviour: devicemgr-createBatch.md and its companions
(REAL-CLIENTS.md §3: device create/detail/delete, product device overview, products).

Devices live in the shared registry with vendor ``quectel``: ``secret`` is the device secret,
``attrs`` hold ``authMode``, ``sn``, ``fingerPrint`` and ``psk``. The end-user
batchControlDevice API sends commands to these rows by (productKey, deviceKey).

Deviations from the real platform:
- createBatch's ``data`` (``ActionResultOfobject``) is undocumented: it answers
  ``{"successList":[{"data":{credentials}}],"failureList":[{"data":{pk,dk},"msg"}]}`` like
  the vendor's batchControlDevice; valid devices are created, invalid ones reported;
- a device secret (20 characters) is issued for dynamic and static authentication alike;
  X.509 devices get none;
- no limit is put on deviceKey, deviceName or sn beyond the request-size limit;
- single ``device/create`` answers 50005 for a duplicate deviceKey, a missing fingerPrint
  or psk (the docs name no code for these); ``device/detail`` and ``device/delete`` answer
  70130 for an unknown product as for an unknown device;
- the device name defaults to the deviceKey; ``isVerified`` follows ``isActived``;
- the overview's ``deviceKey`` filter is an exact match; ``pageSize`` is capped at 1000;
- product fields the fixtures do not set take defaults: ``accessType`` 0, ``dataFmt`` 3,
  ``netWay`` "2", ``logoPath`` null, ``aiCapabilityStatus`` false.
"""

from __future__ import annotations

from collections.abc import Sequence
from operator import itemgetter
from typing import Any, NamedTuple

from pydantic import ValidationError
from sqlalchemy import Connection, delete, func, select
from sqlalchemy.exc import IntegrityError, OperationalError

from emulator.core import registry
from emulator.core.bodies import whole_unicode
from emulator.core.context import Ctx
from emulator.core.errors import VendorError
from emulator.core.faults import device_fault
from emulator.core.limits import INT32_MAX
from emulator.core.sql import HotSql, const, dumps, insert_of, list_params, param, param_list
from emulator.vendors.quectel.devicemgr.errors import VALIDATION, SaasError
from emulator.vendors.quectel.devicemgr.schemas import (
    AUTH_MODES,
    DeviceCreateBatchDto,
    DeviceCreateSingleR3Dto,
    DeviceDeleteR3Dto,
    DeviceItem,
)

VENDOR = "quectel"
OP_CREATE_BATCH = "quectel.devicemgr.create_batch"
MAX_PAGE_SIZE = 1000

# A concurrent writer can take a deviceKey between our check and our insert; the batch is
# then rolled back and checked again, so the duplicate is reported instead of a 50000.
_WRITE_ATTEMPTS = 3

MSG_EXISTS = "The device already exists"
MSG_DUPLICATE_IN_REQUEST = "Duplicate deviceKey in the request"
MSG_NO_FINGERPRINT = "param check error: fingerPrint is required for X509 authentication"
MSG_NO_PSK = "param check error: psk is required for China Telecom AEP products"

_D = registry.devices
_P = registry.products
SECRET_LENGTH = 20  # ids.device_secret()
# createBatch carries a load test's traffic: its statements run on the driver's cursor
# (core/sql.py), where SQLAlchemy's per-row parameter processing would cost more than
# SQLite's own work on a 500-device batch.
_INSERT_COLUMNS = (
    "namespace", "vendor", "product_key", "device_key", "name", "secret", "online", "attrs",
    "created_at", "updated_at",
)  # fmt: skip
_INSERT = HotSql(insert_of(_D, _INSERT_COLUMNS))
_BY_DEVICE_KEY = itemgetter(_INSERT_COLUMNS.index("device_key"))
_EXISTING = HotSql(
    select(_D.c.device_key).where(
        _D.c.namespace == param("ns"),
        _D.c.vendor == const("quectel"),
        _D.c.product_key == param("pk"),
        _D.c.device_key.in_(param_list("keys")),
    )
)
_PRODUCT = HotSql(
    select(_P.c.product_key, _P.c.name, _P.c.attrs).where(
        _P.c.namespace == param("ns"),
        _P.c.vendor == const("quectel"),
        _P.c.product_key == param("pk"),
    )
)


# --- shared checks --------------------------------------------------------------------------


def _item_error(exc: ValidationError) -> VendorError:
    """The documented code and message of a device entry's first invalid field."""
    err = exc.errors()[0]
    loc = [part for part in err.get("loc", ()) if isinstance(part, str)]
    field = loc[-1] if loc else "device"
    code = VALIDATION.get((field, str(err.get("type"))))
    if code is not None:
        return VendorError(code)
    detail = f"{field} is missing" if err.get("type") == "missing" else err.get("msg", "invalid")
    return VendorError(SaasError.PARAM_CHECK_ERROR, f"param check error: {field}: {detail}")


def _product(conn: Connection, ctx: Ctx, product_key: str) -> Any | None:
    return _PRODUCT.one(conn, {"ns": ctx.namespace, "pk": product_key})


def _require_product(conn: Connection, ctx: Ctx, product_key: str) -> Any:
    product = _product(conn, ctx, product_key)
    if product is None:
        raise VendorError(SaasError.PRODUCT_NOT_FOUND)
    return product


def _is_aep(product: Any) -> bool:
    return bool((product.attrs or {}).get("aep"))


def _rule_error(item: _Device | DeviceCreateSingleR3Dto, aep: bool) -> str | None:
    """The documented conditional requirements: fingerPrint for X.509, psk on AEP."""
    if item.auth_mode == 2 and not item.finger_print:
        return MSG_NO_FINGERPRINT
    if aep and not item.psk:
        return MSG_NO_PSK
    return None


def _new_devices(
    ctx: Ctx, product_key: str, items: Sequence[_Device], secrets: Sequence[str], now: int
) -> tuple[list[tuple[Any, ...]], list[dict[str, Any]]]:
    """The devices rows of new devices (tuples in ``_INSERT_COLUMNS`` order, attrs as the JSON
    text of the column) and each one's credentials as answered, in one pass: a 500-device
    batch builds 500 of each, and a dict per row to pick its values from cost more."""
    ns = ctx.namespace
    rows: list[tuple[Any, ...]] = []
    answers: list[dict[str, Any]] = []
    for (key, mode, name, finger_print, psk, sn), secret in zip(items, secrets, strict=True):
        mode = mode or 0
        name = name or key
        if mode == 2:
            secret = ""  # X.509 devices authenticate with their certificate: no secret
        if sn is None and finger_print is None and psk is None:
            attrs = _BARE_ATTRS[mode]
        else:
            attrs = dumps({"authMode": mode, "sn": sn, "fingerPrint": finger_print, "psk": psk})
        rows.append((ns, VENDOR, product_key, key, name, secret, False, attrs, now, now))
        answers.append({
            "productKey": product_key, "deviceKey": key, "deviceName": name, "sn": sn,
            "authMode": mode, "deviceSecret": secret or None, "fingerPrint": finger_print,
            "psk": psk,
        })  # fmt: skip
    return rows, answers


def _secrets(ctx: Ctx, count: int) -> list[str]:
    """``count`` device secrets from one draw: the same seeded sequence as ``count`` calls of
    ``ids.device_secret()``, at a fraction of the cost for a 500-device batch."""
    pool = ctx.ids.alnum(SECRET_LENGTH * count)
    return [pool[i : i + SECRET_LENGTH] for i in range(0, len(pool), SECRET_LENGTH)]


def _insert_devices(conn: Connection, rows: list[tuple[Any, ...]]) -> None:
    """One multi-row insert (executemany) of rows made by :func:`_new_devices`, in deviceKey
    order: two batches racing on the same keys then wait for each other's keys in one order,
    where in their requests' orders each could hold a key the other waits for (PostgreSQL
    aborts one of them as a deadlock)."""
    _INSERT.executemany_rows(conn, _INSERT_COLUMNS, sorted(rows, key=_BY_DEVICE_KEY))


def _existing_keys(conn: Connection, ctx: Ctx, product_key: str, keys: Sequence[str]) -> set[str]:
    found: set[str] = set()
    # Chunks keep each statement well under the databases' bound-parameter limits.
    for start in range(0, len(keys), 500):
        chunk = keys[start : start + 500]
        params = {"ns": ctx.namespace, "pk": product_key, **list_params("keys", chunk)}
        found |= {row.device_key for row in _EXISTING.sized("keys", len(chunk)).all(conn, params)}
    return found


# --- createBatch ----------------------------------------------------------------------------


def _failure(product_key: str, device_key: object, msg: str) -> dict[str, Any]:
    dk = device_key if isinstance(device_key, str) else ""
    return {"data": {"productKey": product_key, "deviceKey": dk}, "msg": msg}


class _Device(NamedTuple):
    """A valid device entry of a batch."""

    device_key: str
    auth_mode: int | None
    device_name: str | None
    finger_print: str | None
    psk: str | None
    sn: str | None


_PLAIN_FIELDS = frozenset(("deviceKey", "authMode", "deviceName", "fingerPrint", "psk", "sn"))


def _plain_device(raw: dict[str, Any]) -> _Device | None:
    """The entry as :class:`DeviceItem` would validate it, when it plainly is valid: only
    the wire's field names, a non-empty deviceKey, authMode absent, null or 0-2, the other
    fields absent, null or text. Anything else (snake_case names, other fields, a number
    as text, an invalid value) is None and goes through :class:`DeviceItem`, which accepts
    or refuses it with its documented code. Pydantic costs about 2 us an entry, this a
    tenth of that: most of a millisecond on a 500-device batch."""
    if not raw.keys() <= _PLAIN_FIELDS:
        return None
    get = raw.get
    key, mode = get("deviceKey"), get("authMode")
    # Not ASCII: pydantic refuses half a character (a lone surrogate) in a key it measures.
    if type(key) is not str or not key or not (key.isascii() or whole_unicode(key)):
        return None
    if mode is not None and (type(mode) is not int or mode not in AUTH_MODES):
        return None
    device = _Device(key, mode, get("deviceName"), get("fingerPrint"), get("psk"), get("sn"))
    for text in device[2:]:
        if text is not None and type(text) is not str:
            return None
    return device


def _device(raw: dict[str, Any]) -> _Device:
    """A batch entry validated; raises ValidationError for an invalid one."""
    device = _plain_device(raw)
    if device is not None:
        return device
    item = DeviceItem.model_validate(raw)
    return _Device(
        item.device_key, item.auth_mode, item.device_name, item.finger_print, item.psk, item.sn
    )


# The attrs of a device with no sn, fingerPrint or psk (most of a batch), by authMode, as the
# JSON text of the column.
_BARE_ATTRS = {
    mode: dumps({"authMode": mode, "sn": None, "fingerPrint": None, "psk": None})
    for mode in AUTH_MODES
}


def _plan_batch(
    ctx: Ctx, conn: Connection, request: DeviceCreateBatchDto, aep: bool
) -> tuple[list[tuple[Any, ...]], list[dict[str, Any]], list[dict[str, Any]]]:
    """Split the batch into rows to insert, and the success and failure entries."""
    pk = request.product_key
    items: list[tuple[int, _Device]] = []
    failures: dict[int, dict[str, Any]] = {}
    seen: set[str] = set()
    # Asked once for the batch: with no rule armed (as in almost every batch) no device can
    # draw a fault, and 500 calls that find that out cost more than the check.
    faulty = ctx.emulator.faults.armed(ctx.namespace)
    for index, raw in enumerate(request.devices):
        if faulty:
            raw_key = raw.get("deviceKey")
            fault = device_fault(ctx, OP_CREATE_BATCH, raw_key if isinstance(raw_key, str) else "")
            if fault is not None:
                failures[index] = _failure(pk, raw_key, fault.message)
                continue
        try:
            item = _device(raw)
        except ValidationError as exc:
            failures[index] = _failure(pk, raw.get("deviceKey"), _item_error(exc).message)
            continue
        # _rule_error only when a rule can apply (X.509, or an AEP product).
        problem = _rule_error(item, aep) if aep or item.auth_mode == 2 else None
        if problem is None and item.device_key in seen:
            problem = MSG_DUPLICATE_IN_REQUEST
        if problem is not None:
            failures[index] = _failure(pk, item.device_key, problem)
            continue
        seen.add(item.device_key)
        items.append((index, item))
    existing = _existing_keys(conn, ctx, pk, [item.device_key for _, item in items])
    now = ctx.now_ms()
    fresh = items
    if existing:
        fresh = [(index, item) for index, item in items if item.device_key not in existing]
        for index, item in items:
            if item.device_key in existing:
                failures[index] = _failure(pk, item.device_key, MSG_EXISTS)
    rows, answers = _new_devices(
        ctx, pk, [item for _, item in fresh], _secrets(ctx, len(fresh)), now
    )
    # Both lists keep the request's order (``fresh`` does).
    successes = [{"data": answer} for answer in answers]
    return rows, successes, [failures[i] for i in sorted(failures)]


def create_batch(ctx: Ctx, request: DeviceCreateBatchDto) -> dict[str, Any]:
    """Add Devices (Batch): every valid device is created in one transaction, with one
    multi-row insert; each device's outcome is reported."""
    for attempt in range(_WRITE_ATTEMPTS):
        try:
            with ctx.begin() as conn:
                product = _require_product(conn, ctx, request.product_key)
                rows, successes, failures = _plan_batch(ctx, conn, request, _is_aep(product))
                if rows:
                    _insert_devices(conn, rows)
            return {"successList": successes, "failureList": failures}
        except (IntegrityError, OperationalError):
            if attempt == _WRITE_ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


# --- single device --------------------------------------------------------------------------


def create_device(ctx: Ctx, request: DeviceCreateSingleR3Dto) -> dict[str, Any]:
    """Add Device (Single): the created device's credentials."""
    with ctx.begin() as conn:
        product = _require_product(conn, ctx, request.product_key)
        problem = _rule_error(request, _is_aep(product))
        if problem is not None:
            raise VendorError(SaasError.PARAM_CHECK_ERROR, problem)
        if _existing_keys(conn, ctx, request.product_key, [request.device_key]):
            raise VendorError(SaasError.PARAM_CHECK_ERROR, f"param check error: {MSG_EXISTS}")
        item = _Device(
            request.device_key, request.auth_mode, request.device_name, request.finger_print,
            request.psk, request.sn,
        )  # fmt: skip
        secret = ctx.ids.device_secret()
        rows, answers = _new_devices(ctx, request.product_key, [item], [secret], ctx.now_ms())
        try:
            _insert_devices(conn, rows)
        except IntegrityError:
            raise VendorError(
                SaasError.PARAM_CHECK_ERROR, f"param check error: {MSG_EXISTS}"
            ) from None
    return answers[0]


def _details(row: Any, data_fmt: int) -> dict[str, Any]:
    attrs = row.attrs or {}
    actived = row.first_online_at is not None
    return {
        "activedTime": row.first_online_at,
        "authMode": attrs.get("authMode", 0),
        "createTime": row.created_at,
        "dataFmt": data_fmt,
        "deviceKey": row.device_key,
        "deviceName": row.name,
        "deviceStatus": 1 if row.online else 0,
        "firstConnTime": row.first_online_at,
        "isActived": int(actived),
        "isVerified": int(actived),
        "isVirtual": 0,
        "lastConnTime": row.last_online_at,
        "lastOfflineTime": row.last_offline_at,
        "productKey": row.product_key,
        "sn": attrs.get("sn"),
        "updateTime": row.updated_at,
    }


def _data_fmt(product: Any | None) -> int:
    return int((product.attrs or {}).get("dataFmt", 3)) if product is not None else 3


def _device_where(ctx: Ctx, product_key: str, device_key: str) -> tuple[Any, ...]:
    return (
        _D.c.namespace == ctx.namespace, _D.c.vendor == VENDOR,
        _D.c.product_key == product_key, _D.c.device_key == device_key,
    )  # fmt: skip


def device_detail(ctx: Ctx, *, product_key: str, device_key: str) -> dict[str, Any]:
    """Query Device Details."""
    with ctx.read() as conn:
        row = conn.execute(select(_D).where(*_device_where(ctx, product_key, device_key))).first()
        if row is None:
            raise VendorError(SaasError.DEVICE_NOT_FOUND)
        return _details(row, _data_fmt(_product(conn, ctx, product_key)))


def delete_device(ctx: Ctx, request: DeviceDeleteR3Dto) -> None:
    """Delete Device: ``data`` is null."""
    with ctx.begin() as conn:
        result = conn.execute(
            delete(_D).where(*_device_where(ctx, request.product_key, request.device_key))
        )
        if result.rowcount == 0:
            raise VendorError(SaasError.DEVICE_NOT_FOUND)


# --- lists ----------------------------------------------------------------------------------


def check_page(page_num: int, page_size: int) -> None:
    # integer(int32) in the docs: a larger page number is a parameter error, not a crash.
    if not 1 <= page_num <= INT32_MAX:
        raise VendorError(
            SaasError.PARAM_CHECK_ERROR, f"param check error: pageNum must be 1..{INT32_MAX}"
        )
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise VendorError(
            SaasError.PARAM_CHECK_ERROR,
            f"param check error: pageSize must be between 1 and {MAX_PAGE_SIZE}",
        )


def page_fields(total: int, page_num: int, page_size: int) -> dict[str, int]:
    """The SaaS paging fields, at the top level of a list answer."""
    pages = (total + page_size - 1) // page_size
    return {"pageNum": page_num, "pageSize": page_size, "pages": pages, "total": total}


def device_overview(
    ctx: Ctx, *, product_key: str, page_num: int, page_size: int, device_key: str | None,
    device_status: int | None, active_status: int | None,
) -> tuple[list[dict[str, Any]], dict[str, int]]:  # fmt: skip
    """Query Device List Under Product: one page, and its paging fields."""
    check_page(page_num, page_size)
    for name, value in (("deviceStatus", device_status), ("activeStatus", active_status)):
        if value not in (None, 0, 1):
            raise VendorError(SaasError.PARAM_CHECK_ERROR, f"param check error: {name}: 0 or 1")
    where = [
        _D.c.namespace == ctx.namespace,
        _D.c.vendor == VENDOR,
        _D.c.product_key == product_key,
    ]
    if device_key:
        where.append(_D.c.device_key == device_key)
    if device_status is not None:
        where.append(_D.c.online == bool(device_status))
    if active_status is not None:
        active = _D.c.first_online_at.is_not(None)
        where.append(active if active_status else _D.c.first_online_at.is_(None))
    with ctx.read() as conn:
        product = _require_product(conn, ctx, product_key)
        total = conn.execute(select(func.count()).select_from(_D).where(*where)).scalar_one()
        rows = conn.execute(
            select(_D).where(*where).order_by(_D.c.id)
            .limit(page_size).offset((page_num - 1) * page_size)
        ).all()  # fmt: skip
    data_fmt = _data_fmt(product)
    return [_details(row, data_fmt) for row in rows], page_fields(total, page_num, page_size)


def _product_item(row: Any, detail: bool = False) -> dict[str, Any]:
    attrs = row.attrs or {}
    item: dict[str, Any] = {
        "accessType": int(attrs.get("accessType", 0)),
        "connectPlatform": 1 if attrs.get("aep") else 0,
        "createTime": str(attrs.get("createTime", "")),
        "dataFmt": int(attrs.get("dataFmt", 3)),
        "logoPath": attrs.get("logoPath"),
        "netWay": str(attrs.get("netWay", "2")),
        "productKey": row.product_key,
        "productName": row.name,
        "updateTime": str(attrs.get("updateTime", "")),
    }
    if detail:
        item["productConfig"] = {"aiCapabilityStatus": bool(attrs.get("aiCapabilityStatus"))}
    return item


def product_list(
    ctx: Ctx, *, page_num: int, page_size: int, product_key: str | None
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """Query Product List: the fixtures' Quectel products, one page."""
    check_page(page_num, page_size)
    where = [_P.c.namespace == ctx.namespace, _P.c.vendor == VENDOR]
    if product_key:
        where.append(_P.c.product_key == product_key)
    with ctx.read() as conn:
        total = conn.execute(select(func.count()).select_from(_P).where(*where)).scalar_one()
        rows = conn.execute(
            select(_P).where(*where).order_by(_P.c.product_key)
            .limit(page_size).offset((page_num - 1) * page_size)
        ).all()  # fmt: skip
    return [_product_item(row) for row in rows], page_fields(total, page_num, page_size)


def product_detail(ctx: Ctx, *, product_key: str) -> dict[str, Any]:
    """Query Product Details."""
    with ctx.read() as conn:
        return _product_item(_require_product(conn, ctx, product_key), detail=True)
