"""Control-plane bodies are bounded: ``max_body_bytes`` for ordinary bodies, the larger
``max_fixture_bytes`` for fixture documents; declared and streamed bodies alike."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import Client, ClientFactory
from tests.control.helpers import CREATE

LIMIT = 2_000
FIXTURE_LIMIT = 20_000


@pytest.fixture
def client(make_client: ClientFactory) -> Client:
    return make_client(max_body_bytes=LIMIT, max_fixture_bytes=FIXTURE_LIMIT)


def yaml_document(size: int) -> bytes:
    """A valid fixture document of about ``size`` bytes (a YAML comment fills it)."""
    return b"enos: {}\n#" + b"x" * max(0, size - 10) + b"\n"


def chunks(document: bytes, size: int = 1000) -> Iterator[bytes]:
    for start in range(0, len(document), size):
        yield document[start : start + size]


def assert_too_large(response: Any, limit: int) -> None:
    assert response.status_code == 413
    assert response.json()["error"]["message"] == f"request body over {limit} bytes"
    # The rest of the body is not read: the connection is closed, and the answer says so.
    assert response.headers["connection"] == "close"


def test_a_fault_body_over_the_limit_is_413(client: Client) -> None:
    spec = {"operation": CREATE, "code": 99500, "padding": "x" * LIMIT}
    assert_too_large(client.post("/_emulator/faults", json=spec), LIMIT)
    assert client.get("/_emulator/faults").json()["faults"] == []


def test_a_fixture_document_may_be_larger_than_other_bodies(client: Client) -> None:
    document = yaml_document(LIMIT * 3)
    response = client.post(
        "/_emulator/fixtures", content=document, headers={"Content-Type": "text/yaml"}
    )
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("path", ["/_emulator/fixtures", "/_emulator/state"])
def test_a_declared_document_over_the_fixture_limit_is_413(client: Client, path: str) -> None:
    document = yaml_document(FIXTURE_LIMIT + 1)
    method = "PUT" if path.endswith("state") else "POST"
    response = client.request(method, path, content=document, headers={"Content-Type": "text/yaml"})
    assert_too_large(response, FIXTURE_LIMIT)


def test_a_streamed_document_is_counted_as_it_arrives(client: Client) -> None:
    # No Content-Length: the body is sent chunked and refused once past the limit.
    response = client.post(
        "/_emulator/fixtures",
        content=chunks(yaml_document(FIXTURE_LIMIT * 3)),
        headers={"Content-Type": "text/yaml"},
    )
    assert_too_large(response, FIXTURE_LIMIT)


def test_a_streamed_document_within_the_limit_is_merged(client: Client) -> None:
    response = client.post(
        "/_emulator/fixtures",
        content=chunks(yaml_document(FIXTURE_LIMIT // 2)),
        headers={"Content-Type": "text/yaml"},
    )
    assert response.status_code == 200, response.text
