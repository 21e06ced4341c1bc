"""EnOS as the rest of the emulator sees it: the vendor contract (core/vendor.py)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, func, select, update

from emulator.core import registry
from emulator.core.context import Emulator
from emulator.core.ids import Ids
from emulator.core.masking import Credentials
from emulator.core.vendor import DeviceRows, Vendor
from emulator.vendors.enos import fixtures
from emulator.vendors.enos import ids as enos_ids
from emulator.vendors.enos.commands.routes import router as commands_router
from emulator.vendors.enos.connect.routes import ConnectRoute
from emulator.vendors.enos.connect.routes import router as connect_router
from emulator.vendors.enos.dps import service as dps
from emulator.vendors.enos.dps.routes import DpsRoute
from emulator.vendors.enos.dps.routes import router as dps_router
from emulator.vendors.enos.dps.views import router as dps_views
from emulator.vendors.enos.mqtt.listener import serve_default as mqtt_listener
from emulator.vendors.enos.mqtt.operations import OPERATIONS as MQTT_OPERATIONS
from emulator.vendors.enos.mqtt.routes import router as mqtt_control
from emulator.vendors.enos.mqtt.views import device_tables
from emulator.vendors.enos.token.routes import TokenRoute
from emulator.vendors.enos.token.routes import router as token_router

NAME = "enos"
_D = registry.devices
_P = registry.products


def _fleet_device(key: str, product: Any, ids: Ids) -> dict[str, Any]:
    """A device as the connection service's create writes it (connect/service.py)."""
    return {
        "asset_id": enos_ids.asset_id(ids),
        "secret": ids.device_secret(),
        "attrs": {
            "timezone": "+08:00",
            "deviceName": {"defaultValue": key, "i18nValue": {}},
            "deviceAttributes": {},
            "deviceTags": {},
            "deviceDesc": None,
        },
    }


def _make_room(conn: Connection, namespace: str, product: Any, count: int) -> int | None:
    """EnOS refuses devices over a product's quota (11739): raise it so ``count`` more fit.
    Returns the new quota, or None when the fleet fits already."""
    attrs = dict(product.attrs or {})
    quota = int(attrs.get("deviceQuota", fixtures.DEFAULT_QUOTA))
    held = conn.execute(
        select(func.count()).select_from(_D).where(
            _D.c.namespace == namespace, _D.c.vendor == NAME,
            _D.c.product_key == product.product_key,
        )
    ).scalar_one()  # fmt: skip
    needed = int(held) + count
    if needed <= quota:
        return None
    attrs["deviceQuota"] = needed
    conn.execute(
        update(_P)
        .where(
            _P.c.namespace == namespace, _P.c.vendor == NAME,
            _P.c.product_key == product.product_key,
        )
        .values(attrs=attrs)
    )  # fmt: skip
    return needed


def _setup(emulator: Emulator) -> None:
    # The first connection after a DPS allocation marks the SN connected.
    emulator.hooks.on_online.append(dps.on_device_online)


VENDOR = Vendor(
    name=NAME,
    title="Envision EnOS",
    routers=(connect_router, dps_router),
    companion_routers=(token_router, commands_router),
    control_routers=(dps_views, mqtt_control),
    # The HTTP operations register with their routes modules; the MQTT messages have none.
    operations=MQTT_OPERATIONS,
    fallbacks=(
        ("/apim-token-service/", TokenRoute),
        ("/connect-service/", ConnectRoute),
        ("/dps-service/", DpsRoute),
    ),
    docs={
        "enos-connect-create-device.md": "enos.connect.create_device",
        "enos-dps-allocate.md": "enos.dps.allocate",
    },
    success_code=0,
    fixtures=fixtures.SECTION,
    devices=DeviceRows(make=_fleet_device, prepare=_make_room, unique=("asset_id",)),
    example_product="Vu82Agp3",
    setup=(_setup,),
    # EnOS devices log in over MQTT (vendors/enos/mqtt): the default namespace's listener on
    # --host:--mqtt-port, unless --no-mqtt.
    listeners=(mqtt_listener,),
    # A device's page shows the measure points it posted over MQTT.
    device_tables=device_tables,
    # Masked in the journal and the access log (core/masking.py), beyond names that say
    # token, secret or password.
    credentials=Credentials(
        headers=frozenset({"apim-accesstoken", "apim-signature"}),
        # The token service: ``encryption`` is SHA-256 of appKey, timestamp and secret (a
        # password for that timestamp); ``accessToken`` is sent back to be refreshed.
        fields=frozenset({"encryption", "accessToken"}),
        answer=frozenset({"accessToken", "deviceSecret", "deviceSecrete"}),
    ),
)
