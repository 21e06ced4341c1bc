"""Database connections of a SQLite file: one held open per thread (core/context.py).

These build their own emulator on a file, whatever the suite's mode: an in-memory database
has one shared connection and holds none.
"""

from __future__ import annotations

import ast
import gc
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Connection, text

import emulator as emulator_package
from emulator.app import build_emulator
from emulator.config import Settings
from emulator.core.context import Ctx, Emulator
from emulator.core.db import WAL_CHECKPOINT_PAGES


@pytest.fixture
def emulator(tmp_path: Path) -> Iterator[Emulator]:
    built = build_emulator(Settings(db=str(tmp_path / "emulator.db"), seed=1))
    yield built
    built.dispose()


def in_thread(work: Callable[[], object]) -> object:
    result: list[object] = []
    thread = threading.Thread(target=lambda: result.append(work()))
    thread.start()
    thread.join(timeout=30)
    return result[0]


def count_devices(conn: Connection) -> int:
    return int(conn.execute(text("SELECT COUNT(*) FROM devices")).scalar_one())


def test_a_thread_keeps_its_connection_and_another_thread_gets_its_own(
    emulator: Emulator,
) -> None:
    ctx = emulator.context("default")
    with ctx.begin() as first:
        pass
    with ctx.begin() as second:
        pass
    with ctx.read() as third:
        pass

    assert first is second is third
    assert in_thread(emulator.held_connection) not in (None, first)


def test_a_nested_transaction_gets_a_pooled_connection(emulator: Emulator) -> None:
    ctx = emulator.context("default")
    with ctx.begin() as outer:
        assert emulator.held_connection() is None  # in use: the pool serves the inner block
        with ctx.read() as inner:
            assert inner is not outer
            count_devices(inner)
    assert emulator.held_connection() is outer


def test_a_failed_transaction_rolls_back_and_leaves_the_connection_usable(
    emulator: Emulator,
) -> None:
    ctx = emulator.context("default")
    with ctx.read() as conn:
        before = count_devices(conn)
    insert = text(
        "INSERT INTO devices (namespace, vendor, product_key, device_key, name, secret,"
        " online, attrs, created_at, updated_at)"
        " VALUES ('default', 'enos', 'p', 'k', '', '', 0, '{}', 0, 0)"
    )

    def failing_service() -> None:
        with ctx.begin() as conn:
            conn.execute(insert)
            raise RuntimeError("a service failed")

    with pytest.raises(RuntimeError):
        failing_service()
    with ctx.read() as conn:
        conn.execute(insert)  # a read block's writes are rolled back too

    with ctx.begin() as conn:
        assert count_devices(conn) == before


def test_an_in_memory_database_holds_no_connection() -> None:
    memory = build_emulator(Settings(db=":memory:", seed=1))
    try:
        assert memory.held_connection() is None
        with Ctx(memory, "default").begin() as conn:
            assert count_devices(conn) >= 0
    finally:
        memory.dispose()


def test_held_connections_take_no_place_in_the_pool(emulator: Emulator) -> None:
    # More threads than the pool has connections (5 + 10 overflow), all inside a block at
    # once: pooled connections would leave five waiting until the pool times out.
    threads = 20
    barrier = threading.Barrier(threads, timeout=20)
    seen: list[int] = []

    def work() -> None:
        with emulator.context("default").read() as conn:
            seen.append(count_devices(conn))
            barrier.wait()

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=30)

    assert len(seen) == threads
    assert not barrier.broken


def test_a_thread_that_ends_drops_its_connection_silently(emulator: Emulator) -> None:
    # The suite turns warnings into errors: a pooled connection left checked out would warn
    # when collected (a psycopg one left open too); a held one is closed with its thread.
    held = in_thread(emulator.held_connection)
    assert isinstance(held, Connection)
    assert held.closed
    del held
    gc.collect()

    assert len(emulator._held) <= 1  # only this thread's, if any


def test_dispose_closes_every_held_connection(emulator: Emulator) -> None:
    mine = emulator.held_connection()
    other = in_thread(emulator.held_connection)
    assert isinstance(mine, Connection)
    assert isinstance(other, Connection)

    emulator.dispose()

    assert mine.closed
    assert other.closed
    # Used again after dispose, a thread opens a new one.
    reopened = emulator.held_connection()
    assert reopened is not None
    assert reopened is not mine
    assert not reopened.closed


def test_a_sqlite_file_is_in_wal_mode_and_checkpoints_every_4000_pages(
    emulator: Emulator,
) -> None:
    with emulator.context("default").read() as conn:
        mode = conn.exec_driver_sql("PRAGMA journal_mode").scalar_one()
        pages = conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar_one()

    assert mode == "wal"
    assert pages == WAL_CHECKPOINT_PAGES == 4000


def test_no_block_of_the_emulator_awaits_inside_a_transaction() -> None:
    # A thread's held connection is shared by every request of its event loop: a block that
    # awaited inside ctx.begin() or ctx.read() would let another request run inside its
    # transaction. Nothing does; this keeps it so.
    offenders = []
    for path in sorted(Path(emulator_package.__file__).parent.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.With | ast.AsyncWith):
                continue
            opened = ast.unparse(node.items[0].context_expr)
            if not opened.endswith((".begin()", ".read()")):
                continue
            if any(isinstance(inner, ast.Await | ast.AsyncFor | ast.AsyncWith)
                   for statement in node.body for inner in ast.walk(statement)):  # fmt: skip
                offenders.append(f"{path.name}:{node.lineno} {opened}")

    assert offenders == []
