"""Control-plane bodies (camelCase on the wire, like the vendor APIs)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictInt
from pydantic.alias_generators import to_camel

from emulator.core.limits import INT32_MAX, INT64_MAX, MAX_TTL_SECONDS


class ControlModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


class Health(ControlModel):
    status: str
    version: str
    auth: str
    namespaces: int
    # Device-protocol listeners running with the app: where each one listens.
    listeners: list[dict[str, Any]] = Field(default_factory=list)


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


# --- journal, faults, clock, seed (issue 7) -----------------------------------------------


class StrictControlModel(ControlModel):
    # A typo in a rule or an assertion must fail loudly, not arm something else.
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


class FaultSpec(StrictControlModel):
    """``POST /_emulator/faults``: make an operation (or one device of a batch, or one
    device's messages) fail."""

    operation: str = Field(min_length=1)
    # code and times sit in INTEGER columns, seed in a BIGINT one (core/limits.py).
    code: int | None = Field(
        default=None, ge=-INT32_MAX, le=INT32_MAX, description="a documented code of the operation"
    )
    times: int | None = Field(
        default=None, ge=1, le=INT32_MAX, description="firings; absent: until cleared"
    )
    probability: float = Field(default=1.0, gt=0, le=1)
    seed: int | None = Field(
        default=None, ge=0, le=INT64_MAX, description="makes probability reproducible"
    )
    latency_ms: int = Field(default=0, ge=0, le=120_000)
    device_key: str | None = Field(default=None, min_length=1, description='"*": every device')
    ttl_seconds: float | None = Field(
        default=None, gt=0, le=MAX_TTL_SECONDS, description="on the emulator clock"
    )
    # Spelled out rather than imported from core/operations.ACTIONS: a Literal needs them.
    action: Literal["dropReply", "dropConnection"] | None = Field(
        default=None,
        description="device messages only (GET /_emulator/operations lists which take it): "
        "dropReply handles the message and never answers; dropConnection closes the "
        "device's connection instead of answering",
    )


class VerifyRequest(StrictControlModel):
    """``POST /_emulator/requests/verify``: ``count`` exact, or ``atLeast`` (default 1)."""

    operation: str | None = None
    count: int | None = Field(default=None, ge=0, le=INT64_MAX)
    at_least: int | None = Field(default=None, ge=0, le=INT64_MAX)
    body_contains: Any = Field(
        default=None, description="a string (substring of the body) or JSON (a subset of it)"
    )


class ClockUpdate(StrictControlModel):
    """``POST /_emulator/clock``: ``freeze`` at epoch ms, an ISO time or ``true`` (now);
    ``advance`` by seconds (both: freeze, then advance)."""

    freeze: int | str | bool | None = None
    # Strict: ``false`` is not a number of seconds (nor, for the seed, a seed).
    advance: StrictFloat | None = None


class SeedRequest(StrictControlModel):
    seed: StrictInt | None = Field(ge=-INT64_MAX, le=INT64_MAX, description="null: random again")
