"""Bodies of the Quectel SaaS device manager; names follow the doc's DTOs."""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator

from emulator.vendors.quectel.envelope import QuectelModel

MAX_BATCH = 500  # "Device information, maximum 500 devices"
AUTH_MODES = (0, 1, 2)  # 0 dynamic, 1 static, 2 X.509


def _null_is_empty(value: object) -> object:
    # A null key is an empty key (50006/50007), not a type error (50005).
    return "" if value is None else value


class DeviceCreateBatchDto(QuectelModel):
    """createBatch body. Each device is validated on its own (:class:`DeviceItem`), so one bad
    entry fails that device, not the batch."""

    # Declared in the order the fields are checked: the first error is the one reported.
    product_key: str = Field(min_length=1)
    devices: list[dict[str, Any]] = Field(min_length=1, max_length=MAX_BATCH)

    _product_key = field_validator("product_key", mode="before")(_null_is_empty)


def _auth_mode_not_bool(value: object) -> object:
    # JSON true is not an authentication method, whatever Python thinks of True == 1.
    if isinstance(value, bool):
        raise ValueError("authMode must be 0, 1 or 2")
    return value


def _auth_mode_in_range(value: int | None) -> int | None:
    if value is not None and value not in AUTH_MODES:
        raise ValueError("authMode must be 0 (dynamic), 1 (static) or 2 (X509)")
    return value


class DeviceItem(QuectelModel):
    """One device of a batch."""

    device_key: str = Field(min_length=1)
    auth_mode: int | None = None
    device_name: str | None = None
    finger_print: str | None = None
    psk: str | None = None
    sn: str | None = None

    _device_key = field_validator("device_key", mode="before")(_null_is_empty)
    _auth_mode = field_validator("auth_mode", mode="before")(_auth_mode_not_bool)
    _auth_mode_range = field_validator("auth_mode")(_auth_mode_in_range)


class DeviceCreateSingleR3Dto(QuectelModel):
    """``device/create`` body: the device fields after its productKey (checked first)."""

    product_key: str = Field(min_length=1)
    device_key: str = Field(min_length=1)
    auth_mode: int | None = None
    device_name: str | None = None
    finger_print: str | None = None
    psk: str | None = None
    sn: str | None = None

    _keys = field_validator("product_key", "device_key", mode="before")(_null_is_empty)
    _auth_mode = field_validator("auth_mode", mode="before")(_auth_mode_not_bool)
    _auth_mode_range = field_validator("auth_mode")(_auth_mode_in_range)


class DeviceDeleteR3Dto(QuectelModel):
    product_key: str = Field(min_length=1)
    device_key: str = Field(min_length=1)

    _keys = field_validator("product_key", "device_key", mode="before")(_null_is_empty)


class DeviceCredentials(QuectelModel):
    """A created device, as a successList entry's ``data`` (secret for authMode 0 and 1)."""

    product_key: str
    device_key: str
    device_name: str
    sn: str | None = None
    auth_mode: int
    device_secret: str | None = None
    finger_print: str | None = None
    psk: str | None = None


class Pkdk(QuectelModel):
    product_key: str
    device_key: str


class BatchSuccess(QuectelModel):
    data: DeviceCredentials


class BatchFailure(QuectelModel):
    data: Pkdk
    msg: str


class BatchResult(QuectelModel):
    """createBatch ``data`` (DESIGN.md: shaped like the vendor's other batch API)."""

    success_list: list[BatchSuccess]
    failure_list: list[BatchFailure]


class DeviceDetails(QuectelModel):
    actived_time: int | None
    auth_mode: int
    create_time: int
    data_fmt: int
    device_key: str
    device_name: str
    device_status: int
    first_conn_time: int | None
    is_actived: int
    is_verified: int
    is_virtual: int
    last_conn_time: int | None
    last_offline_time: int | None
    product_key: str
    sn: str | None
    update_time: int


class ProductConfig(QuectelModel):
    ai_capability_status: bool = False


class ProductItem(QuectelModel):
    access_type: int
    connect_platform: int
    create_time: str
    data_fmt: int
    logo_path: str | None
    net_way: str
    product_key: str
    product_name: str
    update_time: str


class ProductDetails(ProductItem):
    product_config: ProductConfig


class Paged(QuectelModel):
    """The SaaS list envelope: the array in ``data``, paging at the top level."""

    code: int = 200
    msg: str = ""
    data: list[Any]
    page_num: int
    page_size: int
    pages: int
    total: int


class DeviceOverviewPage(Paged):
    data: list[DeviceDetails]


class ProductPage(Paged):
    data: list[ProductItem]


class AccessTokenData(QuectelModel):
    access_token: str = Field(alias="access_token")
    token_type: str = Field(alias="token_type")
    expires_in: int = Field(alias="expires_in")
    scope: str = ""


class AccessTokenResponse(QuectelModel):
    """accessKeyLogin / refreshToken: the token at the top level, snake_case, mirrored in
    ``data`` for a client that reads ``data.access_token`` (REAL-CLIENTS.md §3)."""

    code: int = 200
    msg: str = "OK"
    access_token: str = Field(alias="access_token")
    token_type: str = Field(default="jwt", alias="token_type")
    expires_in: int = Field(alias="expires_in")
    scope: str = ""
    data: AccessTokenData
