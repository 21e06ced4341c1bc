"""Bodies of the EnOS connection service; class names follow the doc's struct names."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from emulator.vendors.enos.envelope import EnosModel


class StringI18n(EnosModel):
    default_value: str = Field(min_length=1)
    i18n_value: dict[str, str] = Field(default_factory=dict, alias="i18nValue")


class DeviceCreateRequest(EnosModel):
    """Create Device body. Unknown fields (the sample's ``source``) are accepted and ignored."""

    # Declared in the order the fields are checked: the first error is the one reported.
    product_key: str = Field(min_length=1)
    timezone: str = Field(min_length=1)
    device_name: StringI18n
    device_attributes: dict[str, Any] = Field(default_factory=dict)
    device_key: str | None = Field(default=None, min_length=1, max_length=64)
    device_desc: str | None = None
    # In the real docs and the sample, missing from the doc's table.
    device_tags: dict[str, str] = Field(default_factory=dict)


class DeviceCreateResult(EnosModel):
    """The real struct (REAL-CLIENTS.md §6); ``deviceSecrete`` mirrors the sample's typo."""

    product_key: str
    device_key: str
    device_secret: str
    asset_id: str
    device_secrete: str = Field(alias="deviceSecrete")


class Device(EnosModel):
    """The Device struct answered by ``action=get``."""

    org_id: str
    asset_id: str
    product_key: str
    product_name: str
    device_key: str
    device_name: StringI18n
    device_secret: str
    device_desc: str | None
    timezone: str
    device_attributes: dict[str, Any]
    device_tags: dict[str, str]
    create_time: int
    status: str
