"""Seeded identifiers and secrets, in each vendor's format.

One :class:`Ids` per namespace, seeded from the emulator seed and the namespace name, so the
same seed and the same requests give the same ids, keys and secrets (moto's seeded random).
Services draw every id from here: no ``uuid4()`` or ``secrets`` in services.
"""

from __future__ import annotations

import functools
import os
import random
import string
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_ALNUM = string.ascii_letters + string.digits
_LOWER_ALNUM = string.ascii_lowercase + string.digits
_HEX = "0123456789abcdef"


@functools.lru_cache(maxsize=16)
def _table(alphabet: str) -> bytes:
    return bytes(ord(alphabet[i % len(alphabet)]) for i in range(256))


# The generator's state is kept every this many 32-bit words drawn (getstate costs about
# 15 us), so that draws can be given back (Ids.give_back) by replaying at most this many.
_SNAPSHOT_WORDS = 256


class Drawn:
    """The draws of one :meth:`Ids.drawing` block: words ``start`` up to ``end``."""

    __slots__ = ("start", "end", "seeding")

    def __init__(self, start: int, seeding: int) -> None:
        self.start = start
        self.end = start
        self.seeding = seeding  # which seeding of the generator the words belong to


class Ids:
    def __init__(self, seed: int | None, namespace: str) -> None:
        self._random = random.Random()
        # Draws are counted in the generator's 32-bit words; the block of drawing() holds it.
        self._lock = threading.RLock()
        self._seedings = 0
        self.reseed(seed, namespace)

    def reseed(self, seed: int | None, namespace: str) -> None:
        with self._lock:
            if seed is None:
                self._random.seed(os.urandom(16))
            else:
                # A str seed is hashed with SHA-512 by random.seed: stable across runs and
                # platforms.
                self._random.seed(f"{seed}:{namespace}")
            self._words = 0
            self._seedings += 1
            # (words drawn, state) now and at the snapshot before (give_back's starting points).
            self._snapshots = [(0, self._random.getstate())] * 2

    def chars(self, alphabet: str, length: int) -> str:
        # Random bytes mapped onto the alphabet in C: a 500-device batch draws 10,000 secret
        # characters, which random.choices' Python loop makes cost milliseconds. (A byte
        # modulo the alphabet's size favours a few characters very slightly: harmless here.)
        with self._lock:
            if self._words - self._snapshots[-1][0] >= _SNAPSHOT_WORDS:
                self._snapshots = [self._snapshots[-1], (self._words, self._random.getstate())]
            raw = self._random.randbytes(length)
            # randbytes draws whole words, the last one cut (the same on every Python).
            self._words += (length + 3) // 4
        return raw.translate(_table(alphabet)).decode("ascii")

    @contextmanager
    def drawing(self) -> Iterator[Drawn]:
        """Draws made in the block, with no other thread's in between, so that a request that
        finds it cannot use them gives them back (:meth:`give_back`)."""
        with self._lock:
            drawn = Drawn(self._words, self._seedings)
            yield drawn
            drawn.end = self._words

    def give_back(self, drawn: Drawn) -> None:
        """Undo the draws of a :meth:`drawing` block, as if it had drawn nothing: the next
        draws are the ones it made. Only while they are the last ones drawn (else another
        request has used what followed them, and they stay drawn)."""
        with self._lock:
            if self._words != drawn.end or drawn.end == drawn.start:
                return
            if drawn.seeding != self._seedings:  # reseeded since (a reset): not ours to undo
                return
            for words, state in reversed(self._snapshots):
                if words <= drawn.start:
                    self._random.setstate(state)
                    if drawn.start > words:
                        self._random.getrandbits(32 * (drawn.start - words))
                    self._words = drawn.start
                    return

    def alnum(self, length: int) -> str:
        return self.chars(_ALNUM, length)

    def lower_alnum(self, length: int) -> str:
        return self.chars(_LOWER_ALNUM, length)

    def hex(self, length: int) -> str:
        return self.chars(_HEX, length)

    def uuid(self) -> str:
        """A UUID-4-shaped string (EnOS ``requestId``) drawn from the seeded generator."""
        h = self.hex(32)
        return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) % 4]}{h[17:20]}-{h[20:]}"

    # A vendor's own id formats live in its package; 20 letters and digits is the secret
    # every vendor's samples show ("Z5YtZaQpK5IWocakV7zQ").
    def device_secret(self) -> str:
        return self.alnum(20)

    def token(self, length: int = 32) -> str:
        return self.alnum(length)
