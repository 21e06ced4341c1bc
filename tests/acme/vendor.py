"""Acme's one object: everything the emulator needs to know about it."""

from __future__ import annotations

from typing import Any

from emulator.core.ids import Ids
from emulator.core.masking import Credentials
from emulator.core.vendor import DeviceRows, Vendor
from tests.acme import fixtures
from tests.acme.routes import CREATE_DEVICE, NAME, OPERATIONS, AcmeRoute, router


def _fleet_device(key: str, product: Any, ids: Ids) -> dict[str, Any]:
    return {"secret": ids.device_secret()}


VENDOR = Vendor(
    name=NAME,
    title="Acme (test vendor)",
    routers=(router,),
    operations=OPERATIONS,
    fallbacks=(("/acme/", AcmeRoute),),
    docs={"acme-create-device.md": CREATE_DEVICE},
    success_code=0,
    # The journal masks the device secret its answer names pairingCode.
    credentials=Credentials(answer=frozenset({"pairingCode"})),
    fixtures=fixtures.SECTION,
    devices=DeviceRows(make=_fleet_device),
    example_product="AcmeP1",
)
