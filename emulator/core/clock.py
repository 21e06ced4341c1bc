"""The emulator clock: the one source of time for every service.

Tests freeze or advance it through the control plane, so a 90-day command cache or a
two-hour token expiry can be checked in milliseconds. Services never call ``time.time()``.
"""

from __future__ import annotations

import time


class Clock:
    """Real time, optionally frozen at an instant or shifted by an offset (milliseconds)."""

    def __init__(self) -> None:
        self._frozen_ms: int | None = None
        self._offset_ms = 0

    def now_ms(self) -> int:
        if self._frozen_ms is not None:
            return self._frozen_ms
        return int(time.time() * 1000) + self._offset_ms

    def now_s(self) -> int:
        return self.now_ms() // 1000

    @property
    def frozen(self) -> bool:
        return self._frozen_ms is not None

    def freeze(self, at_ms: int | None = None) -> None:
        self._frozen_ms = self.now_ms() if at_ms is None else at_ms

    def advance(self, seconds: float) -> None:
        delta = int(seconds * 1000)
        if self._frozen_ms is not None:
            self._frozen_ms += delta
        else:
            self._offset_ms += delta

    def release(self) -> None:
        """Back to real time, with no offset."""
        self._frozen_ms = None
        self._offset_ms = 0
