"""The three auth modes of DESIGN.md on one skeleton; each vendor declares only its pieces.

A vendor's credential check is an :class:`AuthPolicy`, set as ``VendorRoute.auth`` on its route
classes. The skeleton runs every mode in the same order for every vendor:

- ``off``: nothing is checked; the caller is ``anonymous``, or who ``identify`` finds behind
  the credential when one was sent (a vendor whose handlers act for a known user);
- then the credential (the ``header``, stripped, or what ``token`` reads in it): absent ->
  ``missing``; not ``well_formed`` -> ``malformed``;
- ``lenient`` stops there: the caller is ``identify``'s answer, else ``anonymous``;
- ``strict``: ``verify`` checks the credential against what the namespace issued (and any
  signature) and returns the caller, or raises the vendor's own error.

The caller is what the handlers read as ``request.state.auth``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from fastapi import Request

from emulator.core.errors import ErrorCode, VendorError

CallerT = TypeVar("CallerT")


@dataclass(frozen=True, slots=True)
class AuthPolicy(Generic[CallerT]):
    """One vendor's credential check in the modes ``off``, ``lenient`` and ``strict``."""

    # The request header that carries the credential (read stripped; empty means absent).
    header: str
    # The vendor's error for an absent credential, and its message when not the table's.
    missing: ErrorCode
    # Whether a present credential has the vendor's shape (checked in lenient and strict).
    well_formed: Callable[[str], bool]
    # The vendor's error for a credential of the wrong shape, and its message.
    malformed: ErrorCode
    # Strict only, after the checks above: (request, credential) -> the caller, or raises.
    verify: Callable[[Request, str], Awaitable[CallerT]]
    # The caller when none is identified: off, and lenient without ``identify``. Shared by
    # every request, so immutable.
    anonymous: CallerT
    # (request, credential) -> the caller a credential names, unverified: run in off mode
    # when a credential was sent and in lenient mode after the checks. None: ``anonymous``.
    identify: Callable[[Request, str], CallerT] | None = None
    missing_message: str | None = None
    malformed_message: str | None = None
    # The credential in the header's stripped value, when the value may carry more (a scheme
    # before the token); "" when it holds none. Every check then sees the credential only.
    token: Callable[[str], str] | None = None

    async def __call__(self, request: Request) -> CallerT:
        # The emulator read inline (what routing.emulator_of does), so that ``off`` costs this
        # line and one comparison, and no call.
        mode = request.scope["app"].emulator.settings.auth
        identify = self.identify
        if mode == "off" and identify is None:
            return self.anonymous
        credential = request.headers.get(self.header, "").strip()
        if self.token is not None:
            credential = self.token(credential)
        if mode != "off":
            if not credential:
                raise VendorError(self.missing, self.missing_message)
            if not self.well_formed(credential):
                raise VendorError(self.malformed, self.malformed_message)
            if mode == "strict":
                return await self.verify(request, credential)
        if identify is None or not credential:
            return self.anonymous
        return identify(request, credential)
