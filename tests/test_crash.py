"""``kill -9`` while batches are written: the SQLite file is intact and every batch is whole or
absent.

A real ``python -m emulator serve`` on a file database; writer threads send Quectel createBatch
requests of ``BATCH`` devices each; once enough batches are acknowledged the process gets
SIGKILL (no shutdown, no pool close, the write-ahead log left as it was). Opening the file
afterwards must pass ``PRAGMA integrity_check``, every acknowledged batch must be there in
full, and a batch cut off by the kill must be there in full or not at all: one transaction per
batch.
"""

from __future__ import annotations

import signal
import sqlite3
import threading
from contextlib import closing
from pathlib import Path

import httpx

from emulator.testing import free_port
from tests.processes import start, wait_healthy
from tests.vendors.quectel.devicemgr_helpers import CREATE_BATCH, HEADERS, PRODUCT

WRITERS = 4
BATCH = 50
# Acknowledged batches to see before the kill, so it lands in the middle of the writing.
ACKED_BEFORE_KILL = 12


class Writers:
    """Threads sending createBatch until the server stops answering."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.sent: list[str] = []
        self.acked: list[str] = []
        self.lock = threading.Lock()
        self.enough = threading.Event()
        self.threads = [
            threading.Thread(target=self.write, args=(n,), daemon=True) for n in range(WRITERS)
        ]

    def write(self, writer: int) -> None:
        with httpx.Client(base_url=self.url, timeout=30) as http:
            for i in range(100_000):
                batch = f"c{writer}b{i}x"
                devices = [{"deviceKey": f"{batch}{n:03d}"} for n in range(BATCH)]
                with self.lock:
                    self.sent.append(batch)
                try:
                    answer = http.post(
                        CREATE_BATCH,
                        json={"productKey": PRODUCT, "devices": devices},
                        headers=HEADERS,
                    ).json()
                except httpx.HTTPError:
                    return  # killed: this batch may or may not have been committed
                assert answer["code"] == 200, answer
                assert len(answer["data"]["successList"]) == BATCH, answer
                with self.lock:
                    self.acked.append(batch)
                    if len(self.acked) >= ACKED_BEFORE_KILL:
                        self.enough.set()


def test_kill_9_during_batches_leaves_the_database_intact_and_batches_whole(
    tmp_path: Path,
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    db = tmp_path / "state.db"
    process = start(
        ["serve", "--no-access-log", "--log-level", "warning"],
        cwd=tmp_path,
        env={"EMULATOR_PORT": str(port), "EMULATOR_DB": str(db)},
    )
    try:
        wait_healthy(url, process)
        writers = Writers(url)
        for thread in writers.threads:
            thread.start()
        assert writers.enough.wait(timeout=120), "the batches did not start"

        process.send_signal(signal.SIGKILL)
        process.communicate(timeout=30)
        for thread in writers.threads:
            thread.join(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()

    assert process.returncode == -signal.SIGKILL
    with closing(sqlite3.connect(db)) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        keys = [
            row[0]
            for row in conn.execute(
                "SELECT device_key FROM devices WHERE vendor = 'quectel' AND product_key = ?",
                (PRODUCT,),
            )
        ]
    stored: dict[str, int] = {}
    for key in keys:
        if key.startswith("c") and "x" in key:
            batch = key[: key.index("x") + 1]
            stored[batch] = stored.get(batch, 0) + 1
    assert len(writers.acked) >= ACKED_BEFORE_KILL
    # The kill landed while batches were being written (sent, never answered).
    assert len(writers.sent) > len(writers.acked)
    for batch in writers.acked:
        assert stored.get(batch) == BATCH, (batch, stored.get(batch))
    for batch in writers.sent:
        assert stored.get(batch, 0) in (0, BATCH), (batch, stored.get(batch))
    assert set(stored) <= set(writers.sent)
