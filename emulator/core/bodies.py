"""The one reader of a request's JSON body, for every vendor: vendors differ in the code and
message they answer a malformed body with (their error tables), never in what malformed is."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request


class MalformedJson(ValueError):
    """A body that is not JSON; the message says why (``malformed JSON: ...``)."""


def json_of(raw: bytes | str) -> Any:
    """The JSON value of a body that is not blank; raises :class:`MalformedJson`."""
    try:
        return json.loads(raw)
    # RecursionError: a body nested thousands of levels deep is malformed, not a bug.
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise MalformedJson(f"malformed JSON: {exc}") from None


async def read_json(request: Request) -> Any:
    """The request's JSON body; a blank body is ``{}``, so that missing fields get their
    documented codes. Raises :class:`MalformedJson`."""
    raw = await request.body()
    return json_of(raw) if raw.strip() else {}
