"""Bodies of the EnOS DPS pvs/device actions; class names follow the docs' struct names."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from emulator.core.limits import INT32_MAX
from emulator.vendors.enos.connect.schemas import StringI18n
from emulator.vendors.enos.envelope import EnosModel

# "Map (Key is of String type and the Value is of Integer, String, Enum or Date type)"; the
# values are checked against the org's master-data definitions by the service.
DeviceData = dict[str, Any]


class PvsDeviceAllocateRequest(EnosModel):
    sn: str = Field(min_length=1)
    device_data: DeviceData | None = None


class PvsDeviceCreateInfo(EnosModel):
    """Create: ``count`` new SNs in a registration group (the range is checked by the service,
    which answers the doc's own message for it)."""

    group_id: str
    count: int
    desc: str | None = None
    batch_tag: StringI18n | None = None
    device_data: DeviceData | None = None


class PvsDeviceUpdateRequest(EnosModel):
    sn: str = Field(min_length=1)
    desc: str | None = None
    batch_tag: StringI18n | None = None
    device_data: DeviceData | None = None


class PvsDeviceDeleteRequest(EnosModel):
    group_id: str
    sn_list: list[str]


class PvsDeviceResetRequest(EnosModel):
    group_id: str
    sns: list[str]


class PaginationRequest(EnosModel):
    # A Java int on the vendor's side: a larger page number is a parameter error.
    page_no: int = Field(default=1, ge=1, le=INT32_MAX)
    # "10 records are displayed per page by default. The maximum records per page is 1,000".
    page_size: int = Field(default=10, ge=1, le=1000)


class PvsDeviceSearchRequest(EnosModel):
    expression: str
    pagination: PaginationRequest = Field(default_factory=PaginationRequest)


class PvsDeviceStatus(EnosModel):
    current_status: str
    connected_time: int | None
    allocated_time: int | None
    finished_time: int | None
    discarded_time: int | None


class PvsDevice(EnosModel):
    """The PvsDevice struct answered by allocate, get and search."""

    sn: str
    group_id: str
    region_id: str | None
    org_id: str | None
    product_key: str | None
    batch_order: int | None
    batch_tag: dict[str, Any] | None
    device_data: DeviceData
    desc: str | None
    status: PvsDeviceStatus
    reprovisioning: bool
    allocate_error_msg: str | None
    create_by: str | None
    create_time: int
    update_by: str | None
    update_time: int
    manufacturer_org_id: str | None
    connect_status: str
    allocate_status: str
