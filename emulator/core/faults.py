"""Fault injection: armed rules that make an operation, or one device of a batch, fail.

Batch services ask :func:`device_fault` for each device, so a rule with a ``deviceKey`` fails
just that device (its entry goes to the failure list).
"""

from __future__ import annotations

from emulator.core.context import Ctx
from emulator.core.errors import VendorError


def device_fault(ctx: Ctx, operation: str, device_key: str) -> VendorError | None:
    """The error an armed rule injects for this device of a batch, if any."""
    return None
