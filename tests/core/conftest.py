from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.core.served import Served


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    own = Served(tmp_path / "emulator.db")
    try:
        yield own
    finally:
        own.emulator.dispose()
