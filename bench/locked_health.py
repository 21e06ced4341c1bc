"""How long ``GET /_emulator/health`` takes while the database is locked and writes wait.

Starts a real ``python -m emulator serve`` on a SQLite file (or ``--db`` a PostgreSQL URL),
takes the database's write lock from another connection (SQLite ``BEGIN EXCLUSIVE``,
PostgreSQL ``LOCK TABLE devices IN ACCESS EXCLUSIVE MODE``), keeps a few vendor creates and a
control-plane write waiting on it, and meanwhile times health calls. Goal: under 100 ms (the
lock is held for ``--hold`` seconds, below the server's statement timeout).

    .venv/bin/python bench/locked_health.py [--hold 3] [--db postgresql+psycopg://.../db]
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from emulator.testing import free_port

ROOT = Path(__file__).resolve().parent.parent
ENOS = {"apim-accesstoken": "bench-token-0001"}
CREATE = "/connect-service/v2.1/devices?action=create&orgId=o15475450989191"
PRODUCT = "Vu82Agp3"


@contextmanager
def server(db: str) -> Iterator[str]:
    port = free_port()
    env = {**os.environ, "EMULATOR_MQTT": "false", "EMULATOR_DB_STATEMENT_TIMEOUT": "30"}
    process = subprocess.Popen(
        [sys.executable, "-m", "emulator", "serve", "--db", db, "--port", str(port),
         "--seed", "1", "--no-access-log", "--log-level", "warning"],
        env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{url}/_emulator/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("the server did not start")
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(60)


def sqlite_lock(path: str) -> Callable[[], None]:
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")

    def release() -> None:
        holder.execute("ROLLBACK")
        holder.close()

    return release


def postgresql_lock(url: str) -> Callable[[], None]:
    import psycopg

    holder = psycopg.connect(url.replace("postgresql+psycopg", "postgresql"))
    holder.execute("LOCK TABLE devices IN ACCESS EXCLUSIVE MODE")

    def release() -> None:
        holder.rollback()
        holder.close()

    return release


def health_times(client: httpx.Client, until: float) -> list[float]:
    """Milliseconds of each health call until ``until`` (monotonic), one every 20 ms."""
    samples: list[float] = []
    while time.monotonic() < until:
        started = time.perf_counter()
        client.get("/_emulator/health", timeout=30).raise_for_status()
        samples.append((time.perf_counter() - started) * 1000)
        time.sleep(0.02)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default=None, help="default: a SQLite file in a temporary dir")
    parser.add_argument("--hold", type=float, default=3.0, help="seconds the lock is held")
    parser.add_argument("--writers", type=int, default=4, help="creates waiting on the lock")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = args.db or str(Path(tmp) / "emulator.db")
        with server(db) as url, httpx.Client(base_url=url, timeout=60) as client:
            body = {
                "productKey": PRODUCT,
                "timezone": "+08:00",
                "deviceName": {"defaultValue": "x"},
            }
            assert client.post(CREATE, json=body, headers=ENOS).json()["code"] == 0
            unlocked = health_times(client, time.monotonic() + 1.0)
            release = postgresql_lock(db) if "://" in db else sqlite_lock(db)
            answers: list[int] = []

            def write(send: Callable[[httpx.Client], httpx.Response]) -> None:
                with httpx.Client(base_url=url, timeout=60) as own:
                    answers.append(send(own).status_code)

            writers = [
                threading.Thread(
                    target=write, args=(lambda c: c.post(CREATE, json=body, headers=ENOS),)
                )
                for _ in range(args.writers)
            ] + [threading.Thread(target=write, args=(lambda c: c.post("/_emulator/reset"),))]
            for thread in writers:
                thread.start()
            try:
                samples = health_times(client, time.monotonic() + args.hold)
            finally:
                release()
            for thread in writers:
                thread.join()
    print(json.dumps({
        "database": "postgresql" if "://" in db else "sqlite file",
        "lock_held_s": args.hold,
        "health_calls": len(samples),
        "health_median_ms": round(statistics.median(samples), 2),
        "health_max_ms": round(max(samples), 2),
        "unlocked_median_ms": round(statistics.median(unlocked), 2),
        "unlocked_max_ms": round(max(unlocked), 2),
        "writes_answered": sorted(answers),
    }))  # fmt: skip


if __name__ == "__main__":
    main()
