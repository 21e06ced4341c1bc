"""The emulated vendor APIs. ``ROUTERS`` lists every router the app includes, and
``FALLBACKS`` the route class whose envelope answers an unknown path under a vendor prefix."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter

from emulator.core.context import Emulator, Listener
from emulator.core.routing import VendorRoute
from emulator.vendors.enos.commands.routes import router as enos_commands
from emulator.vendors.enos.connect.routes import ConnectRoute
from emulator.vendors.enos.connect.routes import router as enos_connect
from emulator.vendors.enos.dps.routes import DpsRoute
from emulator.vendors.enos.dps.routes import router as enos_dps
from emulator.vendors.enos.mqtt.listener import from_settings as enos_mqtt
from emulator.vendors.enos.mqtt.routes import router as enos_mqtt_control
from emulator.vendors.enos.token.routes import TokenRoute
from emulator.vendors.enos.token.routes import router as enos_token
from emulator.vendors.mcs.envelope import McsUnknownRoute
from emulator.vendors.mcs.oauth.routes import OAuthRoute
from emulator.vendors.mcs.oauth.routes import router as mcs_oauth
from emulator.vendors.mcs.routes import router as mcs_devices
from emulator.vendors.quectel.devicemgr.routes import DeviceMgrRoute, SaasTokenRoute
from emulator.vendors.quectel.devicemgr.routes import products_router as quectel_products
from emulator.vendors.quectel.devicemgr.routes import router as quectel_devicemgr
from emulator.vendors.quectel.devicemgr.routes import token_router as quectel_saas_token
from emulator.vendors.quectel.enduser.routes import EnduserRoute
from emulator.vendors.quectel.enduser.routes import router as quectel_enduser
from emulator.vendors.quectel.enduser.routes import token_router as quectel_enduser_token

# Routes are matched in order, one regular expression each: the five documented operations'
# routers come first, since they carry a load test's traffic.
ROUTERS: list[APIRouter] = [
    enos_connect,
    quectel_devicemgr,
    quectel_enduser,
    enos_dps,
    mcs_devices,
    enos_token,
    quectel_saas_token,
    quectel_products,
    quectel_enduser_token,
    mcs_oauth,
    enos_commands,
    enos_mqtt_control,
]

FALLBACKS: list[tuple[str, type[VendorRoute]]] = [
    ("/apim-token-service/", TokenRoute),
    ("/connect-service/", ConnectRoute),
    ("/dps-service/", DpsRoute),
    ("/v2/quecauth/", SaasTokenRoute),
    ("/v2/devicemgr/", DeviceMgrRoute),
    ("/v2/quecproductmgr/", DeviceMgrRoute),
    ("/v2/enduser/", EnduserRoute),
    ("/v2/binding/", EnduserRoute),
    ("/mcs/", McsUnknownRoute),
    ("/oauth/", OAuthRoute),
]

# Device-protocol listeners started and stopped with the app (each factory answers None when
# its settings switch it off).
LISTENERS: list[Callable[[Emulator], Listener | None]] = [enos_mqtt]
