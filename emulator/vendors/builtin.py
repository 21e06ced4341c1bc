"""The built-in vendors. Each vendor package exposes one ``VENDOR`` (core/vendor.py);
this is the one place that registers them. The order is the fixture sections' order (and
the order a baseline draws its seeded ids in)."""

from __future__ import annotations

from emulator.core.vendor import register
from emulator.vendors.enos.vendor import VENDOR as enos
from emulator.vendors.mcs.vendor import VENDOR as mcs
from emulator.vendors.quectel.vendor import VENDOR as quectel

for _vendor in (enos, quectel, mcs):
    register(_vendor)
