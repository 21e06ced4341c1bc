"""EnOS id formats, from the create-device sample: assetId "Uvmm5AXU" (8 letters and digits),
deviceKey "1115pswxk7" (10, lower case)."""

from __future__ import annotations

from emulator.core.ids import Ids


def asset_id(ids: Ids) -> str:
    return ids.alnum(8)


def device_key(ids: Ids) -> str:
    return ids.lower_alnum(10)
