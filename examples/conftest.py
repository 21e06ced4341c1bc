"""Settings shared by the three examples: the emulator checks credentials the way the real
platforms do (``strict``: only tokens issued by its token endpoints, EnOS signatures verified),
so the examples' token flows are exercised for real.

Overriding ``iot_emulator_settings`` is how a suite picks the emulator's options; everything
else comes from the ``iot_emulator`` plugin that installing the package registers.
"""

from __future__ import annotations

import pytest

from emulator.config import Settings


@pytest.fixture(scope="session")
def iot_emulator_settings() -> Settings:
    return Settings(db=":memory:", seed=7, auth="strict")
