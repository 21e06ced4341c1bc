"""Which fields of a vendor's requests and answers are credentials, declared by each vendor.

A name like ``token`` or ``password`` says what a field holds the same way for every vendor,
and stays masked everywhere (:func:`generic_secret`). Some credentials carry plain names that
only the vendor's own docs give away: Quectel's end-user login sends the AES key of its
encrypted password as ``random``; an MCS ``deviceKey`` is the device's secret while an EnOS
``deviceKey`` is its public name. So each vendor declares its :class:`Credentials` in its
``Vendor`` (``credentials``, core/vendor.py); the journal and the access log read them from
the registered vendors, by the vendor of an operation id (``<vendor>.<api>.<operation>``).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field

MASK = "***"

_SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "set-cookie"})
# What a name says of any vendor's field: parts of the name, in any case.
_SECRET_WORDS = ("token", "secret", "password", "passwd", "pwd", "signature")


@dataclass(frozen=True)
class Credentials:
    """A vendor's credential fields by name (compared without case).

    ``headers``: request headers. ``fields``: query parameters and request body fields
    (JSON at any depth, or a form). ``answer``: fields of the vendor's answers (issued tokens,
    device secrets).
    """

    headers: frozenset[str] = frozenset()
    fields: frozenset[str] = frozenset()
    answer: frozenset[str] = frozenset()
    # Lowered copies, built once.
    _headers: frozenset[str] = field(init=False, repr=False, compare=False)
    _fields: frozenset[str] = field(init=False, repr=False, compare=False)
    _answer: frozenset[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for name in ("headers", "fields", "answer"):
            lowered = frozenset(n.lower() for n in getattr(self, name))
            object.__setattr__(self, f"_{name}", lowered)

    def header(self, name: str) -> bool:
        lowered = name.lower()
        return lowered in _SECRET_HEADERS or lowered in self._headers or generic_secret(name)

    def request_field(self, name: str) -> bool:
        return name.lower() in self._fields or generic_secret(name)

    def answer_field(self, name: str) -> bool:
        return name.lower() in self._answer or generic_secret(name)

    @functools.cached_property
    def names_in_text(self) -> re.Pattern[str]:
        """Matches a text that may hold one of the fields (a body worth parsing)."""
        words = [*_SECRET_WORDS, *(re.escape(n) for n in sorted(self._fields))]
        return re.compile("|".join(words), re.IGNORECASE)


GENERIC = Credentials()


@functools.lru_cache(maxsize=1024)
def generic_secret(name: str) -> bool:
    """Whether a name says it holds a credential, whoever the vendor. Cached: every request
    of a client sends the same few names."""
    lowered = name.lower()
    return lowered in _SECRET_HEADERS or any(word in lowered for word in _SECRET_WORDS)


def of_operation(operation: str | None) -> Credentials:
    """The credentials of the registered vendor an operation id names (the generic ones if
    none)."""
    from emulator.core.vendor import vendors  # the contract imports this module

    name = (operation or "").partition(".")[0]
    for vendor in vendors():
        if vendor.name == name:
            return vendor.credentials
    return GENERIC


def any_vendor_field(name: str) -> bool:
    """Whether any registered vendor declares a field of this name (for the access log,
    which does not know the operation)."""
    from emulator.core.vendor import vendors

    return generic_secret(name) or any(v.credentials.request_field(name) for v in vendors())
