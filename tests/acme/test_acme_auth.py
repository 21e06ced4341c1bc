"""Acme's auth policy (tests/acme/auth.py) in the three modes that core's skeleton gives every
vendor that declares its pieces: off checks nothing, lenient checks the credential's presence
and shape, strict verifies it against the tokens the namespace issued."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import pytest
from fastapi.testclient import TestClient

from emulator.app import create_app
from emulator.config import DEFAULT_FIXTURES, AuthMode, Settings
from emulator.core.namespaces import DEFAULT
from emulator.core.vendor import registered
from tests.acme.auth import issue
from tests.acme.errors import AcmeError
from tests.acme.test_acme_vendor import ACME_FIXTURES, URL
from tests.acme.vendor import VENDOR

ISSUED = "acme-issued0001"
EXPIRING = "acme-expiring01"
UNKNOWN = "acme-unknown001"

Clients = Callable[[AuthMode], TestClient]


@pytest.fixture
def clients() -> Iterator[Clients]:
    """A client of an emulator in the given auth mode, with ``ISSUED`` issued to ``alice``
    and ``EXPIRING`` to ``bob`` for one second, in the default namespace."""
    with ExitStack() as stack:
        stack.enter_context(registered(VENDOR))

        def make(mode: AuthMode) -> TestClient:
            settings = Settings(
                db=":memory:", seed=7, auth=mode, fixtures=[DEFAULT_FIXTURES, ACME_FIXTURES],
                mqtt=False,
            )  # fmt: skip
            client = stack.enter_context(TestClient(create_app(settings)))
            ctx = client.app.emulator.context(DEFAULT)  # type: ignore[attr-defined]
            issue(ctx, "alice", ISSUED)
            issue(ctx, "bob", EXPIRING, lifetime_s=1)
            return client

        yield make


def create(client: TestClient, device_key: str, token: str | None) -> Any:
    headers = {} if token is None else {"X-Acme-Token": token}
    return client.post(URL, json={"productKey": "AcmeP1", "deviceKey": device_key}, headers=headers)


def outcome(answer: Any) -> tuple[int, int, str | None]:
    body = answer.json()
    caller = (body["data"] or {}).get("createdBy")
    return answer.status_code, body["code"], caller if body["code"] == 0 else body["message"]


def test_off_checks_nothing_and_the_caller_is_anonymous(clients: Clients) -> None:
    client = clients("off")
    assert outcome(create(client, "d1", None)) == (200, 0, None)
    assert outcome(create(client, "d2", "not an acme token")) == (200, 0, None)
    assert outcome(create(client, "d3", ISSUED)) == (200, 0, None)


def test_lenient_checks_presence_then_shape(clients: Clients) -> None:
    client = clients("lenient")
    missing = AcmeError.TOKEN_MISSING
    assert outcome(create(client, "d1", None)) == (401, missing.code, missing.message)
    assert outcome(create(client, "d1", "  ")) == (401, missing.code, missing.message)
    malformed = (401, AcmeError.TOKEN_INVALID.code, "Token invalid: not an Acme token")
    assert outcome(create(client, "d1", "not an acme token")) == malformed
    # Any well-formed token passes, issued or not, and identifies no one.
    assert outcome(create(client, "d1", UNKNOWN)) == (200, 0, None)
    assert outcome(create(client, "d2", f" {ISSUED} ")) == (200, 0, None)


def test_strict_verifies_against_the_namespaces_tokens(clients: Clients) -> None:
    client = clients("strict")
    invalid = AcmeError.TOKEN_INVALID
    assert outcome(create(client, "d1", None))[1] == AcmeError.TOKEN_MISSING.code
    assert (
        outcome(create(client, "d1", "not an acme token"))[2] == "Token invalid: not an Acme token"
    )
    assert outcome(create(client, "d1", UNKNOWN)) == (401, invalid.code, invalid.message)
    assert outcome(create(client, "d1", ISSUED)) == (200, 0, "alice")
    assert outcome(create(client, "d2", EXPIRING)) == (200, 0, "bob")
    assert client.post("/_emulator/clock", json={"advance": 2}).status_code == 200
    assert outcome(create(client, "d3", EXPIRING)) == (401, invalid.code, invalid.message)
    # Another namespace issued nothing.
    other = client.post(
        f"/ns/other{URL}", json={"productKey": "AcmeP1", "deviceKey": "d4"},
        headers={"X-Acme-Token": ISSUED},
    )  # fmt: skip
    assert outcome(other) == (401, invalid.code, invalid.message)
