"""Bodies of registerDevice and its companions; field names are the doc's."""

from __future__ import annotations

from typing import Any

from pydantic import Field, StrictBool

from emulator.vendors.mcs.envelope import McsModel


class RegisterDeviceRequest(McsModel):
    """One device, as the doc's field table describes it. Unknown fields are ignored."""

    # Declared in the doc's order: the first invalid field is the one reported.
    prod_id: str = Field(min_length=1)
    name: str = Field(min_length=1)
    # "Bool": JSON true or false only, as the real (JSON-schema checked) API.
    is_test: StrictBool
    description: str | None = None
    # "Depends on the product registration criteria ... Not needed if isTest is true".
    serial: str | None = None
    # Added by the later revision of the doc (single-object shape).
    device_image_url: str | None = Field(default=None, alias="deviceImageURL")


class RegisterDevicesRequest(McsModel):
    """The doc's example shape: ``{"devices": [...]}``, answered with ``credentials``."""

    devices: list[RegisterDeviceRequest] = Field(min_length=1)


class RegisteredDevice(McsModel):
    """The later revision's answer to a single object (``chipName`` added)."""

    device_id: str
    device_key: str
    chip_name: str


class Credential(McsModel):
    device_id: str
    device_key: str


class RegisteredDevices(McsModel):
    """The answer to ``{"devices": [...]}``; ``deviceKey`` always spelt right (DESIGN.md)."""

    credentials: list[Credential]


class ProductInfo(McsModel):
    prod_id: str
    prod_version: str
    name: str
    description: str
    display_configs: list[Any]
    chip: str


class DeviceInfo(McsModel):
    """Retrieve device information: one entry of ``results``."""

    device_id: str
    device_key: str
    name: str
    description: str | None
    product: ProductInfo
    data_channels: list[Any]
    fw: dict[str, Any] | None
    trust_ip_range: list[str]
    last_ip: str | None
    device_image_url: str | None = Field(alias="deviceImageURL")
    is_heartbeating: bool
    is_verified: bool
    is_active: bool
    is_test: bool
    activated_at: int | None
    deactivated_at: int | None
    tags: list[Any]
    privilege: str


class DeviceInfoList(McsModel):
    results: list[DeviceInfo]


class Deregistered(McsModel):
    device_id: str
    deregistered_at: int
