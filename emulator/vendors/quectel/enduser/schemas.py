"""Bodies of the Quectel end-user API; class names follow the docs' schema names.

batchControlDevice's rules are conditional (``dataFormat`` only for passthrough, ``cacheTime``
only with the cache on), so its body is checked by :func:`parse_batch_control` in one ordered
pass, in the order of the doc's table; the pydantic models document the wire in OpenAPI.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import Field

from emulator.core.errors import ErrorCode, VendorError
from emulator.vendors.quectel.enduser.errors import BatchControlError as E
from emulator.vendors.quectel.enduser.errors import GenericError
from emulator.vendors.quectel.envelope import QuectelModel

PASSTHROUGH = 1
TYPES = (1, 2, 3)  # 1 passthrough, 2 property, 3 service
DATA_FORMATS = (1, 2)  # 1 hex, 2 text
ENABLE, DISABLE = 1, 2
MAX_PASSTHROUGH = 4096
CACHE_TIME_RANGE = (1, 7_776_000)


class Pkdk(QuectelModel):
    product_key: str
    device_key: str
    gateway_product_key: str | None = None
    gateway_device_key: str | None = None


class BatchControlDevice(QuectelModel):
    """The doc's "Batch Control Device" body (documentation only; see parse_batch_control)."""

    type: int = Field(description="1 passthrough, 2 property, 3 service")
    data: str = Field(description="the command; at most 4096 characters for passthrough")
    data_format: int | None = Field(None, description="1 hex, 2 text; required for passthrough")
    device_list: list[Pkdk]
    is_cache: int | None = Field(None, description="1 enable, 2 disable (default)")
    is_cover: int | None = Field(None, description="1 overwrite, 2 keep (default)")
    cache_time: int | None = Field(None, description="1..7776000 s, required when caching")
    qos: int | None = Field(None, description="0 or 1 (default 1)")


class PkdkSuc(QuectelModel):
    data: Pkdk
    ticket: str


class PkdkMsg(QuectelModel):
    data: Pkdk
    msg: str


class PkdkResult(QuectelModel):
    success_list: list[PkdkSuc]
    failure_list: list[PkdkMsg]


class Token(QuectelModel):
    token: str
    expiration_time: int


class LoginToken(QuectelModel):
    access_token: Token
    refresh_token: Token


@dataclass(frozen=True)
class DeviceRef:
    """One ``deviceList`` entry; ``wire`` is echoed back in the success or failure list."""

    product_key: str
    device_key: str
    gateway: tuple[str, str] | None
    wire: dict[str, Any]


@dataclass(frozen=True)
class BatchControl:
    type: int
    data: str
    data_format: int | None
    devices: list[DeviceRef]
    cache_time: int | None  # None: cache disabled
    cover: bool
    qos: int


_MISSING = object()


def _int(value: Any) -> int | None:
    """An integer as Jackson reads one: a JSON integer, an integral float or a digit string."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    return None


def _absent(value: Any) -> bool:
    return value is _MISSING or value is None or (isinstance(value, str) and not value.strip())


def _enum(body: dict[str, Any], field: str, allowed: tuple[int, ...], error: ErrorCode) -> int:
    value = _int(body[field])
    if value is None or value not in allowed:
        raise VendorError(error)
    return value


def _generic(detail: str) -> VendorError:
    return VendorError(
        GenericError.PARAM_CHECK_ERROR, f"{GenericError.PARAM_CHECK_ERROR.message}: {detail}"
    )


def _text(entry: dict[str, Any], field: str) -> str:
    value = entry.get(field)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise _generic(f"deviceList.{field} must be a string")
    return value.strip()


def _device(entry: Any) -> DeviceRef:
    if not isinstance(entry, dict):
        raise _generic("deviceList entries must be objects")
    pk, dk = _text(entry, "productKey"), _text(entry, "deviceKey")
    gpk, gdk = _text(entry, "gatewayProductKey"), _text(entry, "gatewayDeviceKey")
    wire = {
        "deviceKey": entry.get("deviceKey"),
        "gatewayDeviceKey": entry.get("gatewayDeviceKey"),
        "gatewayProductKey": entry.get("gatewayProductKey"),
        "productKey": entry.get("productKey"),
    }
    return DeviceRef(pk, dk, (gpk, gdk) if gpk and gdk else None, wire)


def parse_batch_control(body: Any, limit: int) -> BatchControl:
    """Check a batchControlDevice body in the order of the doc's table; the first failing
    rule answers its code."""
    if not isinstance(body, dict):
        raise _generic("the body must be a JSON object")
    fields = ("type", "data", "dataFormat", "deviceList", "isCache", "isCover", "cacheTime", "qos")
    b = {name: body.get(name, _MISSING) for name in fields}
    if _absent(b["type"]):
        raise VendorError(E.TYPE_MISSING)
    type_ = _enum(b, "type", TYPES, E.TYPE_INVALID)
    data_format: int | None = None
    if type_ == PASSTHROUGH:
        if _absent(b["dataFormat"]):
            raise VendorError(E.DATA_FORMAT_MISSING)
        data_format = _enum(b, "dataFormat", DATA_FORMATS, E.DATA_FORMAT_INVALID)
    else:
        # DESIGN.md: a real client sends dataFormat 0 with type 2; it is not checked then.
        data_format = _int(b["dataFormat"]) if b["dataFormat"] is not _MISSING else None
    data = b["data"]
    if _absent(data):
        raise VendorError(E.DATA_MISSING)
    if not isinstance(data, str):
        raise _generic("data must be a string (type 2/3: a JSON-encoded list)")
    if type_ == PASSTHROUGH and len(data) > MAX_PASSTHROUGH:
        raise VendorError(E.DATA_TOO_LONG)
    entries = b["deviceList"]
    if entries is _MISSING or entries is None or entries == []:
        raise VendorError(E.DEVICE_LIST_MISSING)
    if not isinstance(entries, list):
        raise _generic("deviceList must be an array")
    if len(entries) > limit:
        raise VendorError(E.DEVICE_LIST_TOO_LONG, f"{E.DEVICE_LIST_TOO_LONG.message} ({limit})")
    devices = [_device(entry) for entry in entries]
    is_cache = DISABLE
    if not _absent(b["isCache"]):
        is_cache = _enum(b, "isCache", (ENABLE, DISABLE), E.IS_CACHE_OUT_OF_RANGE)
    is_cover = DISABLE
    if not _absent(b["isCover"]):
        is_cover = _enum(b, "isCover", (ENABLE, DISABLE), E.IS_COVER_OUT_OF_RANGE)
    cache_time: int | None = None
    if is_cache == ENABLE:
        if _absent(b["cacheTime"]):
            raise VendorError(E.CACHE_TIME_MISSING)
        cache_time = _int(b["cacheTime"])
        low, high = CACHE_TIME_RANGE
        if cache_time is None or not low <= cache_time <= high:
            raise VendorError(E.CACHE_TIME_OUT_OF_RANGE)
    qos = 1
    if not _absent(b["qos"]):
        value = _int(b["qos"])
        if value not in (0, 1):
            raise _generic("qos must be 0 or 1")
        qos = int(value)
    return BatchControl(
        type=type_, data=data, data_format=data_format, devices=devices,
        cache_time=cache_time, cover=is_cover == ENABLE and cache_time is not None, qos=qos,
    )  # fmt: skip
