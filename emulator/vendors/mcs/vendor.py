"""MediaTek MCS as the rest of the emulator sees it: the vendor contract (core/vendor.py)."""

from __future__ import annotations

from typing import Any

from emulator.core.ids import Ids
from emulator.core.masking import Credentials
from emulator.core.vendor import DeviceRows, Vendor
from emulator.vendors.mcs import fixtures
from emulator.vendors.mcs.envelope import McsUnknownRoute
from emulator.vendors.mcs.oauth.routes import OAuthRoute
from emulator.vendors.mcs.oauth.routes import router as oauth_router
from emulator.vendors.mcs.routes import router as devices_router

NAME = "mcs"


def _fleet_device(key: str, product: Any, ids: Ids) -> dict[str, Any]:
    """A device as registerDevice writes it (service.py): ``device_key`` is the deviceId,
    ``secret`` its deviceKey."""
    return {
        "secret": ids.alnum(16),
        "attrs": {"isTest": True, "description": None, "serial": None, "deviceImageURL": None},
    }


VENDOR = Vendor(
    name=NAME,
    title="MediaTek MCS",
    routers=(devices_router,),
    companion_routers=(oauth_router,),
    fallbacks=(("/mcs/", McsUnknownRoute), ("/oauth/", OAuthRoute)),
    docs={"mcs-registerDevice.md": "mcs.register_device"},
    # MCS answers success with no code in its body.
    success_code=None,
    fixtures=fixtures.SECTION,
    devices=DeviceRows(make=_fleet_device),
    example_product="a1234567890",
    # Masked in the journal and the access log (core/masking.py), beyond names that say
    # token, secret or password.
    credentials=Credentials(
        # A device's key is its secret here (mcs-registerDevice.md: the device signs in with it),
        # sent back by registerDevice and, by the device APIs, in a deviceKey header.
        headers=frozenset({"deviceKey"}),
        answer=frozenset({"deviceKey"}),
        # The OAuth forms: the login's password, the refresh form's token.
        fields=frozenset({"password", "token", "deviceKey"}),
    ),
)
