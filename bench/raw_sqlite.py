"""The baseline of createBatch: raw ``sqlite3`` inserting 500-row batches into a table like the
emulator's devices table (the same columns, keys and indexes, created from the emulator's own
schema), in a file with the emulator's pragmas (WAL, ``synchronous=NORMAL``), one commit per
batch. Rows a second, for the same time as the other figures: what the database alone can do,
with no HTTP, no JSON and no validation."""

from __future__ import annotations

import json
import sqlite3
import tempfile
import time
from pathlib import Path

from sqlalchemy import create_engine

from emulator.core.db import WAL_CHECKPOINT_PAGES
from emulator.core.registry import devices

COLUMNS = ("namespace", "vendor", "product_key", "device_key", "name", "secret", "online",
           "attrs", "created_at", "updated_at")  # fmt: skip


def rows_per_second(seconds: float, batch: int = 500) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "raw.db"
        engine = create_engine(f"sqlite:///{path}")
        devices.create(engine)  # the emulator's table: columns, unique key, indexes
        engine.dispose()
        conn = sqlite3.connect(path, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute(f"PRAGMA wal_autocheckpoint={WAL_CHECKPOINT_PAGES}")
        sql = f"INSERT INTO devices ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"
        attrs = json.dumps({"authMode": 0, "sn": None, "fingerPrint": None, "psk": None})
        inserted = batches = 0
        started = time.perf_counter()
        while time.perf_counter() - started < seconds:
            now = int(time.time() * 1000)
            rows = [
                ("default", "quectel", "PK0001", f"raw-{batches}-{i}", f"raw-{batches}-{i}",
                 "s" * 20, 0, attrs, now, now)
                for i in range(batch)
            ]  # fmt: skip
            conn.execute("BEGIN")
            conn.executemany(sql, rows)
            conn.execute("COMMIT")
            inserted += batch
            batches += 1
        elapsed = time.perf_counter() - started
        conn.close()
    return inserted / elapsed
