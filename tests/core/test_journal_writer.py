"""The shared journal on PostgreSQL, written after the answer in batches
(emulator/core/journal_writer.py). PostgreSQL only: skipped, saying why, without it."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from emulator.app import create_app
from emulator.config import Settings
from emulator.core.db import make_side_engine
from emulator.core.db_open import open_database
from emulator.core.journal import Entry, Journal, SqlJournal
from emulator.core.journal_writer import BatchedSqlJournal
from emulator.core.registry import shared_journal
from tests.conftest import scratch_schema


def entry(n: int, namespace: str = "ns") -> Entry:
    return Entry(
        id=0, at=n, namespace=namespace, operation="op", method="POST", path=f"/p{n}",
        query={}, headers={}, body=None, status=200, vendor_code=0, duration_ms=1.0,
    )  # fmt: skip


def batched(size: int, side: Engine) -> tuple[Journal, BatchedSqlJournal]:
    store = BatchedSqlJournal(size, side)
    return Journal(size, store=store), store


@pytest.fixture
def side() -> Iterator[Engine]:
    with scratch_schema(f"emu_journal_writer_{os.getpid()}") as url:
        engine = open_database(url)
        side = make_side_engine(engine)
        yield side
        side.dispose()
        engine.dispose()


def test_a_query_sees_every_entry_appended_before_it_newest_first(side: Engine) -> None:
    book, store = batched(100, side)
    for n in range(40):
        book.append(entry(n, "a" if n % 2 else "b"))
    found = book.query(namespace="a")
    assert [e.path for e in found] == [f"/p{n}" for n in range(39, 0, -2)]
    assert all(e.id > 0 for e in found)
    store.close()


def test_entries_still_queued_are_written_when_the_journal_closes(side: Engine) -> None:
    book, store = batched(100, side)
    for n in range(25):
        book.append(entry(n))
    store.close()
    # Another process's journal, reading the table.
    assert len(Journal(100, store=SqlJournal(100, side)).query()) == 25


def test_a_clear_drops_the_entries_appended_before_it(side: Engine) -> None:
    book, store = batched(100, side)
    for n in range(10):
        book.append(entry(n, "gone"))
    book.append(entry(10, "kept"))
    assert book.clear("gone") == 10
    assert [e.namespace for e in book.query()] == ["kept"]
    store.close()


def test_the_table_is_trimmed_to_the_journals_size_as_batches_are_written(side: Engine) -> None:
    book, store = batched(10, side)
    total = 2 * BatchedSqlJournal.TRIM_EVERY + 40
    for n in range(total):
        book.append(entry(n))
    store.flush()
    with side.connect() as conn:
        rows = conn.execute(select(func.count()).select_from(shared_journal)).scalar_one()
    # Trimmed to 10 when the count passed 256; what came after is still there.
    assert rows <= total - 2 * BatchedSqlJournal.TRIM_EVERY + 10
    assert len(book.query()) == 10
    store.close()


def test_a_request_written_as_it_came_reads_masked_from_another_process(side: Engine) -> None:
    book, store = batched(100, side)
    book.append(
        Entry(
            id=0, at=1, namespace="ns", operation="enos.connect.create_device", method="POST",
            path="/p", status=200, vendor_code=0, duration_ms=1.0,
            raw_query=b"orgId=o1&accessToken=t0k", raw_headers=[(b"apim-accesstoken", b"t0k")],
            raw_body=b'{"productKey":"P","secret":"s3cr3t"}', response=b'{"deviceSecret":"x"}',
        )
    )  # fmt: skip
    store.close()
    # Another process's journal, reading the table.
    (found,) = Journal(100, store=SqlJournal(100, side)).query()
    assert found.query == {"orgId": "o1", "accessToken": "***"}
    assert found.headers == {"apim-accesstoken": "***"}
    assert found.body_value() == {"productKey": "P", "secret": "***"}
    assert found.response_value() == {"deviceSecret": "***"}


def test_entries_of_any_text_are_written_in_one_batch_and_read_back(side: Engine) -> None:
    """The batch's JSON (core/journal.py json_text): ASCII from orjson, and from the standard
    encoder what orjson writes non-ASCII or refuses, one batch holding all three kinds."""
    book, store = batched(100, side)
    plain = entry(1)
    accented = Entry(
        id=0, at=2, namespace="ns", operation="op", method="POST", path="/p",
        raw_body='{"deviceName":"\u8bbe\u5907 caf\u00e9"}'.encode(), status=200,
        vendor_code=0, duration_ms=1.0, response='{"msg":"\u6210\u529f"}'.encode(),
    )  # fmt: skip
    half = Entry(
        id=0, at=3, namespace="ns", operation="op", method="POST", path="/p",
        raw_body=b'{"password":"s","name":"\\ud800"}', status=200, vendor_code=0,
        duration_ms=1.0,
    )  # fmt: skip
    masked = half.body  # masked before it is written: half a character, kept escaped
    assert masked is not None
    assert "\\ud800" in masked
    for one in (plain, accented, half):
        book.append(one)
    store.close()
    found = Journal(100, store=SqlJournal(100, side)).query()
    assert [e.at for e in found] == [3, 2, 1]
    assert found[0].body == masked
    assert found[1].body_value() == {"deviceName": "\u8bbe\u5907 caf\u00e9"}
    assert found[1].response_value() == {"msg": "\u6210\u529f"}


def test_an_append_does_not_wait_for_the_database_and_a_lost_batch_is_logged(
    side: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    """The request path never meets the database: a journal that cannot write (here its
    table is gone) costs the caller nothing, and the loss is logged."""
    with side.begin() as conn:
        conn.exec_driver_sql(f'DROP TABLE "{shared_journal.name}"')
    book, store = batched(100, side)
    with caplog.at_level(logging.ERROR, logger="emulator.core.journal_writer"):
        book.append(entry(1))  # SqlJournal.append raises here
        store.flush()
    assert "cannot record 1 requests" in caplog.text
    store.close()


def test_the_emulator_on_postgresql_journals_its_requests_after_answering() -> None:
    with scratch_schema(f"emu_journal_app_{os.getpid()}") as url:
        app = create_app(Settings(db=url, seed=1))
        emulator = app.state.emulator
        assert isinstance(emulator.journal.store, BatchedSqlJournal)
        with TestClient(app) as client:
            for _ in range(3):
                client.get("/connect-service/v2.1/devices?action=get&orgId=nope")
            listed = client.get("/_emulator/requests").json()["requests"]
        assert [e["operation"] for e in listed] == ["enos.connect.get_device"] * 3
        emulator.dispose()
