"""Quectel as the rest of the emulator sees it: the vendor contract (core/vendor.py)."""

from __future__ import annotations

import json
from typing import Any

from emulator.core.ids import Ids
from emulator.core.masking import Credentials
from emulator.core.vendor import DeviceRows, FleetCommands, Vendor
from emulator.vendors.quectel import fixtures
from emulator.vendors.quectel.devicemgr.routes import (
    DeviceMgrRoute,
    SaasTokenRoute,
    products_router,
    token_router,
)
from emulator.vendors.quectel.devicemgr.routes import router as devicemgr_router
from emulator.vendors.quectel.enduser.routes import EnduserRoute
from emulator.vendors.quectel.enduser.routes import router as enduser_router
from emulator.vendors.quectel.enduser.routes import token_router as enduser_token_router
from emulator.vendors.quectel.enduser.service import BATCH_CONTROL_DEVICE

NAME = "quectel"
# What batchControlDevice's own doc twin sends: a property write, cached for a day.
_COMMAND = {"type": 2, "dataFormat": 0, "data": '[{"switch":true}]'}


def _fleet_device(key: str, product: Any, ids: Ids) -> dict[str, Any]:
    """A device as createBatch writes it (devicemgr/service.py)."""
    return {
        "secret": ids.device_secret(),
        "attrs": {"authMode": 0, "sn": None, "fingerPrint": None, "psk": None},
    }


VENDOR = Vendor(
    name=NAME,
    title="Quectel",
    routers=(devicemgr_router, enduser_router),
    companion_routers=(token_router, products_router, enduser_token_router),
    fallbacks=(
        ("/v2/quecauth/", SaasTokenRoute),
        ("/v2/devicemgr/", DeviceMgrRoute),
        ("/v2/quecproductmgr/", DeviceMgrRoute),
        ("/v2/enduser/", EnduserRoute),
        ("/v2/binding/", EnduserRoute),
    ),
    docs={
        "devicemgr-createBatch.md": "quectel.devicemgr.create_batch",
        "enduser-batchControlDevice.md": BATCH_CONTROL_DEVICE,
    },
    success_code=200,
    fixtures=fixtures.SECTION,
    devices=DeviceRows(make=_fleet_device),
    fleet_commands=FleetCommands(
        operation=BATCH_CONTROL_DEVICE,
        payload=_COMMAND,
        # The cover rule's identity, as batchControlDevice computes it.
        identity=json.dumps([_COMMAND["type"], _COMMAND["data"]]),
        cache_s=86_400,
    ),
    example_product="PK0001",
    # Masked in the journal and the access log (core/masking.py), beyond names that say
    # token, secret or password.
    credentials=Credentials(
        # emailPwdLogin: ``random`` is the AES key of the encrypted ``pwd`` (with it, the password
        # decrypts); ``signature`` signs them with the user domain's secret.
        fields=frozenset(
            {"pwd", "random", "signature", "password", "refreshToken", "refresh_token"}
        ),
    ),
)
