"""Control-plane bodies (camelCase on the wire, like the vendor APIs)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


class ControlModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


class Health(ControlModel):
    status: str
    version: str
    auth: str
    namespaces: int


class DeviceView(ControlModel):
    vendor: str
    product_key: str
    device_key: str
    name: str
    secret: str
    org_id: str | None
    asset_id: str | None
    online: bool
    gateway_product_key: str | None
    gateway_device_key: str | None
    attrs: dict[str, Any]
    created_at: int
    updated_at: int
    first_online_at: int | None
    last_online_at: int | None
    last_offline_at: int | None


class DeviceList(ControlModel):
    namespace: str
    total: int
    devices: list[DeviceView]


class ResetResult(ControlModel):
    namespace: str
    reset: bool = True
