"""The journal store: bounded, masked, observable (emulator/core/journal.py)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from starlette.datastructures import Headers, QueryParams

from emulator.app import build_emulator
from emulator.config import Settings
from emulator.core import journal
from emulator.core.journal import Entry, Journal, SqlJournal
from emulator.core.registry import shared_journal


def entry(id: int, namespace: str = "ns", operation: str = "op") -> Entry:
    return Entry(
        id=id, at=0, namespace=namespace, operation=operation, method="POST", path="/p",
        query={}, headers={}, body=None, status=200, vendor_code=0, duration_ms=1.0,
    )  # fmt: skip


@pytest.fixture(params=["memory", "database"])
def new_journal(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[Callable[[int], Journal]]:
    """A journal of ``size`` entries, kept in memory or in the database (as several processes
    keep it): the same answers either way."""
    if request.param == "memory":
        yield Journal
        return
    emulator = build_emulator(Settings(db=str(tmp_path / "emulator.db"), mqtt=False))
    yield lambda size: Journal(size, store=SqlJournal(size, emulator.engine))
    emulator.dispose()


def test_the_journal_keeps_only_the_newest_entries_up_to_its_size(
    new_journal: Callable[[int], Journal],
) -> None:
    book = new_journal(3)
    for i in range(1, 6):
        book.append(entry(i))

    assert [e.id for e in book.query()] == [5, 4, 3]


def test_query_filters_by_namespace_and_operation_newest_first(
    new_journal: Callable[[int], Journal],
) -> None:
    book = new_journal(10)
    book.append(entry(1, "a", "x"))
    book.append(entry(2, "b", "x"))
    book.append(entry(3, "a", "y"))
    book.append(entry(4, "a", "x"))

    assert [e.id for e in book.query(namespace="a", operation="x")] == [4, 1]
    assert [e.id for e in book.query(namespace="a", limit=2)] == [4, 3]
    assert [e.id for e in book.query(operation="x", limit=1)] == [4]


def test_clear_drops_one_namespace_or_all(new_journal: Callable[[int], Journal]) -> None:
    book = new_journal(10)
    for i, ns in enumerate(["a", "b", "a"], start=1):
        book.append(entry(i, ns))

    assert book.clear("a") == 2
    assert [e.namespace for e in book.query()] == ["b"]
    assert book.clear() == 1


def test_a_journal_of_size_zero_keeps_nothing(new_journal: Callable[[int], Journal]) -> None:
    book = new_journal(0)
    book.append(entry(1))

    assert book.query() == []


def test_credential_headers_are_masked() -> None:
    masked = journal.mask_headers(
        [
            ("authorization", "Bearer x"), ("apim-accesstoken", "t"), ("apim-signature", "s"),
            ("x-user-token", "t"), ("x-app-secret", "s"), ("x-password", "p"),
            ("content-type", "application/json"),
        ]
    )  # fmt: skip

    assert {k for k, v in masked.items() if v == journal.MASK} == {
        "authorization", "apim-accesstoken", "apim-signature", "x-user-token", "x-app-secret",
        "x-password",
    }  # fmt: skip
    assert masked["content-type"] == "application/json"


def test_password_and_secret_fields_of_a_body_are_masked_at_any_depth() -> None:
    raw = json.dumps(
        {"email": "a@b.c", "password": "pw", "devices": [{"deviceKey": "k", "deviceSecret": "s"}]}
    ).encode()

    text, truncated = journal.mask_body(raw)

    assert text is not None
    assert not truncated
    assert json.loads(text) == {
        "email": "a@b.c",
        "password": journal.MASK,
        "devices": [{"deviceKey": "k", "deviceSecret": journal.MASK}],
    }


def test_the_quectel_end_user_pwd_field_is_masked() -> None:
    raw = json.dumps({"email": "a@b.c", "pwd": "lkZMvj0KDSJXlp66jBieHA==", "random": "r"}).encode()

    text, _ = journal.mask_body(raw)

    assert text is not None
    assert json.loads(text) == {"email": "a@b.c", "pwd": journal.MASK, "random": "r"}


def test_a_non_json_body_naming_a_secret_is_not_recorded() -> None:
    text, _ = journal.mask_body(b"password=hunter2")

    assert text is not None
    assert "hunter2" not in text


def test_a_long_body_is_cut_and_marked() -> None:
    text, truncated = journal.mask_body(b"x" * (journal.BODY_LIMIT + 10))

    assert truncated
    assert text is not None
    assert len(text) == journal.BODY_LIMIT


def test_vendor_code_reads_each_vendor_envelope() -> None:
    assert journal.vendor_code({"code": 0, "msg": "OK"}) == 0
    assert journal.vendor_code({"code": "5032"}) == 5032
    assert journal.vendor_code({"results": {"code": 4001, "url": "/x"}}) == 4001
    assert journal.vendor_code({"deviceId": "d"}) is None
    assert journal.vendor_code([1, 2]) is None


def raw_entry(query: bytes, headers: dict[str, str], body: bytes) -> Entry:
    return Entry(
        id=1, at=0, namespace="ns", operation="op", method="POST", path="/p", status=200,
        vendor_code=0, duration_ms=1.0, raw_query=query, raw_body=body,
        raw_headers=[(k.encode(), v.encode()) for k, v in headers.items()],
    )  # fmt: skip


def test_an_entry_recorded_as_it_came_reads_masked_like_one_recorded_masked() -> None:
    headers = {"authorization": "Bearer abc", "apim-accesstoken": "t0k", "x-trace": "1"}
    query = b"action=create&orgId=o1&accessToken=secret-value&empty="
    body = json.dumps({"productKey": "P", "nested": {"password": "hunter2"}}).encode()

    raw = raw_entry(query, headers, body)

    assert raw.headers == {"authorization": "***", "apim-accesstoken": "***", "x-trace": "1"}
    assert raw.query == {"action": "create", "orgId": "o1", "accessToken": "***", "empty": ""}
    assert json.loads(raw.body or "") == {"productKey": "P", "nested": {"password": "***"}}
    # What recording did before it kept the raw parts: Starlette's parsing, masked at once.
    masked_body, truncated = journal.mask_body(body)
    eager = Entry(
        id=1, at=0, namespace="ns", operation="op", method="POST", path="/p", status=200,
        vendor_code=0, duration_ms=1.0, query=journal.mask_query(QueryParams(query)),
        headers=journal.mask_headers(Headers(headers).items()), body=masked_body,
        body_truncated=truncated,
    )  # fmt: skip
    assert raw.to_json() == eager.to_json()


CREDENTIALS = (
    b"action=create&orgId=o1&accessToken=secret-value",
    {"authorization": "Bearer abc", "x-trace": "1"},
    json.dumps(
        {"productKey": "P", "nested": {"password": "hunter2"}, "name": "\u00e9t\u00e9"}
    ).encode(),
)


def test_every_store_reads_an_entry_recorded_as_it_came_masked(
    new_journal: Callable[[int], Journal],
) -> None:
    book = new_journal(10)
    book.append(raw_entry(*CREDENTIALS))
    read_before = raw_entry(*CREDENTIALS)
    assert read_before.body is not None  # read (masked) before it was stored
    book.append(read_before)

    for found in book.query():
        assert found.headers == {"authorization": "***", "x-trace": "1"}
        assert found.query == {"action": "create", "orgId": "o1", "accessToken": "***"}
        assert json.loads(found.body or "") == {
            "productKey": "P", "nested": {"password": "***"}, "name": "\u00e9t\u00e9"
        }  # fmt: skip
        assert found.to_json() | {"id": 1} == raw_entry(*CREDENTIALS).to_json()


def test_the_database_store_reads_the_masked_entries_an_older_emulator_wrote(
    tmp_path: Path,
) -> None:
    emulator = build_emulator(Settings(db=str(tmp_path / "emulator.db"), mqtt=False))
    older = raw_entry(*CREDENTIALS).fields()  # what it stored: every part masked
    del older["id"]
    with emulator.engine.begin() as conn:
        conn.execute(
            shared_journal.insert(), {"ns": "ns", "operation": "op", "entry": json.dumps(older)}
        )
    try:
        (found,) = Journal(10, store=SqlJournal(10, emulator.engine)).query()
        assert found.to_json() | {"id": 1} == raw_entry(*CREDENTIALS).to_json()
    finally:
        emulator.dispose()


def test_a_long_body_recorded_as_it_came_is_masked_and_cut_at_once() -> None:
    body = json.dumps({"secret": "s", "pad": "x" * (journal.BODY_LIMIT + 10)}).encode()

    raw = raw_entry(b"", {}, body)

    assert raw.body_truncated
    assert raw.body is not None
    assert len(raw.body) == journal.BODY_LIMIT
    assert '"secret": "***"' in raw.body


# --- bounded by bytes, headers cut (issue: memory bounded by bytes) -------------------------


def _fat_entry(book: journal.Journal, body: bytes, headers: int = 0) -> journal.Entry:
    raw_headers = [(f"x-h{i}".encode(), b"v" * 1000) for i in range(headers)]
    return journal.Entry(
        id=book.next_id(), at=0, namespace="n", operation="enos.connect.create_device",
        method="POST", path="/p", status=200, vendor_code=0, duration_ms=1.0,
        raw_query=b"", raw_headers=raw_headers, raw_body=body, response=b"{}",
    )  # fmt: skip


def test_the_journal_drops_its_oldest_entries_past_its_byte_bound() -> None:
    book = journal.Journal(size=10_000, max_bytes=1_000_000)
    for _ in range(100):
        book.append(_fat_entry(book, b"x" * 60_000))

    kept = book.query()
    assert book.bytes <= 1_000_000
    # About 1 MB of 60 KB bodies: the newest 16, not 100.
    assert 10 <= len(kept) <= 16
    assert kept[0].id == 100
    assert book.bytes == sum(e.size for e in kept)


def test_clearing_the_journal_gives_its_bytes_back() -> None:
    book = journal.Journal(size=100, max_bytes=10_000_000)
    book.append(_fat_entry(book, b"x" * 60_000))
    book.clear()
    assert book.bytes == 0


def test_a_requests_headers_are_cut_past_the_limit_and_said_so() -> None:
    book = journal.Journal(size=10)
    entry = _fat_entry(book, b"{}", headers=100)  # 100 KB of headers
    assert entry.headers_truncated
    kept = sum(len(k) + len(v) for k, v in entry.headers.items())
    assert kept <= journal.HEADERS_LIMIT
    assert entry.to_json()["headersTruncated"] is True
    assert not _fat_entry(book, b"{}", headers=3).headers_truncated


@pytest.mark.parametrize(
    "value",
    [
        {"path": "/p", "duration_ms": 0.1, "at": 1_700_000_000_000, "ok": True, "none": None},
        {"name": "\u00e9t\u00e9 \u8bbe\u5907 \U0001f600", "raw_headers": [("k", "v\x00\x1f")]},
        # Half a UTF-16 character (a masked body decoded from "\ud800"): orjson refuses it.
        {"body": '{"k":"\ud800"}', "list": ["\udfff"]},
        # Past 64 bits: orjson refuses it too.
        {"big": 2**70, "small": -(2**70)},
    ],
)
def test_journal_json_text_is_ascii_and_reads_back_as_the_value(value: dict[str, object]) -> None:
    text = journal.json_text(value)
    assert text.isascii()
    assert json.loads(text) == json.loads(json.dumps(value))
    assert ", " not in text
    assert '": ' not in text


def test_an_entry_with_a_lone_surrogate_in_its_body_is_stored_and_read_back(
    new_journal: Callable[[int], Journal],
) -> None:
    book = new_journal(10)
    # A body naming a credential is parsed to be masked: "\\ud800" becomes half a character,
    # which the masked text keeps escaped, so that it still encodes.
    recorded = Entry(
        id=1, at=5, namespace="ns", operation="op", method="POST", path="/p",
        raw_query=b"a=1", raw_headers=[(b"x-trace", b"1")],
        raw_body=b'{"password":"secret","name":"\\ud800 caf\xc3\xa9"}', status=200,
        vendor_code=0, duration_ms=1.5, response=b'{"code":0}',
    )  # fmt: skip
    masked = recorded.body  # read before it is stored, as a reader meanwhile would
    assert masked is not None
    assert "\\ud800" in masked
    masked.encode("utf-8")
    assert "secret" not in masked
    book.append(recorded)
    (found,) = book.query()
    assert found.body == masked
    assert (found.at, found.duration_ms, found.response) == (5, 1.5, b'{"code":0}')
