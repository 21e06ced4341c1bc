"""How long ``POST /_emulator/reset`` takes on a namespace holding the default fixtures.

Goal: under 10 ms, so a suite can reset before every test. Prints the median of the reset
itself (service call) and through HTTP in process, beside a ``GET /_emulator/health`` measured
in the same run as the baseline of the HTTP overhead. A file database, as ``serve`` runs it.

    .venv/bin/python bench/reset.py [--rounds 200] [--db :memory:]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from fastapi.testclient import TestClient

from emulator.app import create_app
from emulator.config import Settings
from emulator.control import service
from emulator.core.context import Emulator
from emulator.core.journal import Entry


def _entry(i: int) -> Entry:
    return Entry(
        id=i, at=0, namespace="elsewhere", operation="enos.connect.create_device", method="POST",
        path="/connect-service/v2.1/devices", query={}, headers={}, body="{}", status=200,
        vendor_code=0, duration_ms=1.0,
    )  # fmt: skip


def median_ms(action: Callable[[], object], rounds: int) -> float:
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        action()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--db", default=None, help="default: a file in a temporary directory")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = args.db or str(Path(tmp) / "bench.db")
        app = create_app(Settings(db=db, seed=1))
        emulator: Emulator = app.state.emulator
        name = "bench"
        emulator.namespaces.ensure(name)
        client = TestClient(app)
        # Warm up: pools, statement caches.
        for _ in range(10):
            client.post(f"/ns/{name}/_emulator/reset")
        direct = median_ms(lambda: service.reset(emulator, name), args.rounds)
        http = median_ms(lambda: client.post(f"/ns/{name}/_emulator/reset"), args.rounds)
        health = median_ms(lambda: client.get(f"/ns/{name}/_emulator/health"), args.rounds)
        # The same with a full journal (other namespaces' requests): the clear scans it.
        for i in range(emulator.journal.size):
            emulator.journal.append(_entry(i))
        full = median_ms(lambda: service.reset(emulator, name), args.rounds)
        rows = sum(len(rows) for rows in emulator.baseline.rows.values())
        print(f"database: {'file' if args.db is None else args.db}; baseline rows: {rows}")
        print(f"reset (service call)     median {direct:6.2f} ms")
        print(f"  with a full journal    median {full:6.2f} ms  ({emulator.journal.size} entries)")
        print(f"POST /_emulator/reset    median {http:6.2f} ms")
        print(f"GET /_emulator/health    median {health:6.2f} ms  (HTTP baseline, same run)")
        print(f"goal < 10 ms: {'met' if http < 10 else 'NOT met'}")
        client.close()
        emulator.engine.dispose()


if __name__ == "__main__":
    main()
