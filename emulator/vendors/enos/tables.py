"""EnOS's own tables (on the registry's metadata, core/registry.py): orgs, and the DPS
inventory (registration groups, master-data definitions, SNs)."""

from __future__ import annotations

from sqlalchemy import JSON, BigInteger
from sqlmodel import Field, SQLModel

from emulator.core.registry import Attrs, table_of


class EnosOrg(SQLModel, table=True):
    __tablename__ = "enos_orgs"

    namespace: str = Field(primary_key=True)
    org_id: str = Field(primary_key=True)
    name: str = ""


class DpsGroup(SQLModel, table=True):
    """An EnOS DPS registration group: where an allocated SN's device is created."""

    __tablename__ = "dps_groups"

    namespace: str = Field(primary_key=True)
    org_id: str = Field(primary_key=True)
    group_id: str = Field(primary_key=True)
    product_key: str
    region_id: str = ""
    # The master-data group whose definitions check ``deviceData``; None: every definition.
    master_data_group: str | None = None
    attrs: Attrs = Field(default_factory=dict, sa_type=JSON)


class DpsMasterData(SQLModel, table=True):
    """An EnOS DPS master-data definition: the type a ``deviceData`` key must have."""

    __tablename__ = "dps_master_data"

    namespace: str = Field(primary_key=True)
    org_id: str = Field(primary_key=True)
    key: str = Field(primary_key=True)
    data_type: str
    master_data_group: str = "default"
    attrs: Attrs = Field(default_factory=dict, sa_type=JSON)


class DpsDevice(SQLModel, table=True):
    """An SN of an org's DPS inventory, and its provisioning state."""

    __tablename__ = "dps_devices"

    namespace: str = Field(primary_key=True)
    org_id: str = Field(primary_key=True)
    sn: str = Field(primary_key=True)
    group_id: str
    # "init" (in the inventory) or "allocated"; "connected" is derived from ``connected_at``.
    allocate_status: str = "init"
    allocated_at: int | None = Field(default=None, sa_type=BigInteger)
    # First connection of the provisioned device since its last allocation (ON_ONLINE hook).
    connected_at: int | None = Field(default=None, sa_type=BigInteger)
    reprovisioning: bool = False
    # The connection-service device an allocation provisioned (kept across re-allocations).
    product_key: str | None = None
    device_key: str | None = None
    attrs: Attrs = Field(default_factory=dict, sa_type=JSON)
    created_at: int = Field(default=0, sa_type=BigInteger)
    updated_at: int = Field(default=0, sa_type=BigInteger)


orgs = table_of(EnosOrg)
dps_groups = table_of(DpsGroup)
dps_master_data = table_of(DpsMasterData)
dps_devices = table_of(DpsDevice)
