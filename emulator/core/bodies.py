"""The one reader of a request's JSON body, for every vendor: vendors differ in the code and
message they answer a malformed body with (their error tables), never in what malformed is."""

from __future__ import annotations

import json
import re
from typing import Any

from starlette.requests import Request


class MalformedJson(ValueError):
    """A body that is not JSON; the message says why (``malformed JSON: ...``)."""


# A \u escape of a UTF-16 surrogate (D800-DFFF): half of a character, which only a pair of
# them (an emoji written as two escapes) makes whole.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def json_of(raw: bytes | str) -> Any:
    """The JSON value of a body that is not blank; raises :class:`MalformedJson`.

    A string holding half a character (a lone surrogate: ``"\\ud800"``, or its bytes in any
    encoding) is malformed too: JSON's grammar lets the escape through, but I-JSON (RFC 7493)
    does not, no database stores it and no answer can carry it back as UTF-8."""
    try:
        if isinstance(raw, bytes):
            # Decoded here, strictly: json.loads would let the bytes of a surrogate through.
            text = raw.decode(json.detect_encoding(raw))
        else:
            text = raw
            text.encode()  # a surrogate character in the text as given
        value = json.loads(text)
    # RecursionError: a body nested thousands of levels deep is malformed, not a bug.
    except (UnicodeError, json.JSONDecodeError, RecursionError) as exc:
        raise MalformedJson(f"malformed JSON: {exc}") from None
    if _SURROGATE_ESCAPE.search(text) and _holds_lone_surrogate(value):
        raise MalformedJson("malformed JSON: a \\u escape names half a character (lone surrogate)")
    return value


def _holds_lone_surrogate(value: Any) -> bool:
    """Whether a string of a decoded body (a key or a value) is not whole Unicode."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            pending.extend(item)
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
        elif isinstance(item, str) and not whole_unicode(item):
            return True
    return False


def whole_unicode(text: str) -> bool:
    """Whether ``text`` holds only whole characters (no lone surrogate), so that it can be
    stored and answered as UTF-8."""
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


async def read_json(request: Request) -> Any:
    """The request's JSON body; a blank body is ``{}``, so that missing fields get their
    documented codes. Raises :class:`MalformedJson`."""
    raw = await request.body()
    return json_of(raw) if raw.strip() else {}
