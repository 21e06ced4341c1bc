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

_ALNUM = string.ascii_letters + string.digits
_LOWER_ALNUM = string.ascii_lowercase + string.digits
_HEX = "0123456789abcdef"


@functools.lru_cache(maxsize=16)
def _table(alphabet: str) -> bytes:
    return bytes(ord(alphabet[i % len(alphabet)]) for i in range(256))


class Ids:
    def __init__(self, seed: int | None, namespace: str) -> None:
        self._random = random.Random()
        self.reseed(seed, namespace)

    def reseed(self, seed: int | None, namespace: str) -> None:
        if seed is None:
            self._random.seed(os.urandom(16))
        else:
            # A str seed is hashed with SHA-512 by random.seed: stable across runs and platforms.
            self._random.seed(f"{seed}:{namespace}")

    def chars(self, alphabet: str, length: int) -> str:
        # Random bytes mapped onto the alphabet in C: a 500-device batch draws 10,000 secret
        # characters, which random.choices' Python loop makes cost milliseconds. (A byte
        # modulo the alphabet's size favours a few characters very slightly: harmless here.)
        return self._random.randbytes(length).translate(_table(alphabet)).decode("ascii")

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
