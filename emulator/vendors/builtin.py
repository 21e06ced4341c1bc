"""The built-in vendors. Each vendor package exposes one ``VENDOR`` (core/vendor.py);
this is the one place that registers them. The order is the fixture sections' order (and
the order a baseline draws its seeded ids in)."""

from __future__ import annotations

from emulator.core import masking
from emulator.core.vendor import register
from emulator.vendors import enos as enos_package
from emulator.vendors import mcs as mcs_package
from emulator.vendors import quectel as quectel_package
from emulator.vendors.enos.vendor import VENDOR as enos
from emulator.vendors.mcs.vendor import VENDOR as mcs
from emulator.vendors.quectel.vendor import VENDOR as quectel

for _vendor in (enos, quectel, mcs):
    register(_vendor)

# Each vendor's credential fields (CREDENTIALS in its package), for the journal's masking.
for _vendor, _package in ((enos, enos_package), (quectel, quectel_package), (mcs, mcs_package)):
    masking.register(_vendor.name, _package.CREDENTIALS)
