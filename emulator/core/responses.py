"""The one JSON response of the answers the emulator builds by hand (the vendors' envelopes,
the control plane's errors), rendered by orjson.

A 500-device createBatch answers 500 credential entries: the standard encoder spends most of a
millisecond on them, orjson a tenth of that. What orjson refuses (an integer beyond 64 bits
that a client sent in a free-form map and reads back) falls back to the standard encoder.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi.responses import JSONResponse


class JsonResponse(JSONResponse):
    def render(self, content: Any) -> bytes:
        try:
            return orjson.dumps(content)
        except TypeError:
            return super().render(content)
