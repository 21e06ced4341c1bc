"""The one reader of JSON bodies (emulator/core/bodies.py): what it refuses as malformed."""

from __future__ import annotations

import pytest

from emulator.core.bodies import MalformedJson, json_of


@pytest.mark.parametrize(
    "raw",
    [
        rb'{"name": "\ud800"}',
        rb'{"name": "x\udfff"}',
        rb'{"a": [1, {"b": "\uDC00"}]}',
        rb'{"\ud800": 1}',
        rb'["\ude00\ud83d"]',  # the halves in the wrong order
    ],
)
def test_a_lone_surrogate_anywhere_is_malformed(raw: bytes) -> None:
    with pytest.raises(MalformedJson, match="half a character"):
        json_of(raw)
    with pytest.raises(MalformedJson, match="half a character"):
        json_of(raw.decode())


@pytest.mark.parametrize(
    "raw",
    [
        b'{"name": "\xed\xa0\x80"}',  # the UTF-8 bytes of a surrogate
        '{"name": "\\ud800"}'.encode("utf-16"),
        '{"name": "\\ud800"}'.encode("utf-32"),
        '{"name": "\ud800"}'.encode("utf-16-le", "surrogatepass"),
        '{"name": "\ud800"}',  # the character itself, in text given as it is
    ],
    ids=["utf-8-bytes", "utf-16-escape", "utf-32-escape", "utf-16-bytes", "text"],
)
def test_a_lone_surrogate_in_any_encoding_is_malformed(raw: bytes | str) -> None:
    with pytest.raises(MalformedJson):
        json_of(raw)


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        (rb'{"name": "\ud83d\ude00"}', {"name": "\U0001f600"}),
        (rb'{"name": "\\ud800"}', {"name": "\\ud800"}),  # an escaped backslash, then text
        ('{"name": "\u00e9\U0001f600"}'.encode(), {"name": "\u00e9\U0001f600"}),
        ('{"name": "\u00e9\U0001f600"}'.encode("utf-16"), {"name": "\u00e9\U0001f600"}),
        (b'\xef\xbb\xbf{"name": "x"}', {"name": "x"}),
    ],
)
def test_whole_characters_are_read(raw: bytes, value: object) -> None:
    assert json_of(raw) == value
