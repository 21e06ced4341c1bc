"""Scaling out: the emulator on PostgreSQL with several processes, against one process on SQLite.

    .venv/bin/python bench/scale.py --db postgresql+psycopg://postgres@127.0.0.1:5432/test
    .venv/bin/python bench/scale.py --db ... --processes 2 --seconds 5 --connections 32

Starts, for each configuration, real ``python -m emulator serve`` processes (no access log,
the benchmark fixtures) on free ports, and drives every process at once with the load
generator of ``make bench`` (wrk when installed), the connections split evenly: the figures
are the sums of the requests per second and the worst p50/p99 of the processes. PostgreSQL
runs get a fresh schema (``bench_scale``), dropped at the end. ``make bench`` is unchanged.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

import load
import scenarios

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = "bench_scale"


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start(db: str, workers: int = 1) -> tuple[str, subprocess.Popen[bytes]]:
    port = free_port()
    env = {
        **os.environ,
        "EMULATOR_PORT": str(port),
        "EMULATOR_DB": db,
        "EMULATOR_WORKERS": str(workers),
        # The HTTP APIs are measured: no MQTT listener (bench/mqtt.py measures it).
        "EMULATOR_MQTT": "false",
        "EMULATOR_FIXTURES": f"{ROOT / 'fixtures' / 'default.yaml'},{ROOT / 'bench' / 'fixtures.yaml'}",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "emulator", "serve", "--no-access-log", "--log-level", "warning"],
        env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/_emulator/health", timeout=1).status_code == 200:
                return url, process
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"the emulator on {db} did not start")


def batch1(prefix: str) -> load.Scenario:
    """createBatch of one device, keys unique to this process's load generator."""
    return load.Scenario(
        "quectel.devicemgr.create_batch (1 device)", "POST",
        "/v2/devicemgr/r3/openapi/device/createBatch", scenarios.QUECTEL_SAAS,
        body_lua=(
            f"body = '{{\"productKey\":\"PK0001\",\"devices\":[{{\"deviceKey\":\"{scenarios.RUN}-{prefix}-' .. counter .. '\"}}]}}'"
        ),
        body_fn=lambda n: json.dumps({"productKey": "PK0001", "devices": [{"deviceKey": f"{scenarios.RUN}-{prefix}-py{n}"}]}),
    )  # fmt: skip


def measure(urls: list[str], pick: int, seconds: float, connections: int) -> dict[str, float]:
    each = max(1, connections // len(urls))

    def one(index: int) -> load.Result:
        shapes = [scenarios.CREATE_DEVICE, batch1(f"p{index}"), scenarios.ALLOCATE,
                  scenarios.REGISTER]  # fmt: skip
        return load.run(urls[index], shapes[pick], seconds=seconds, connections=each)

    with ThreadPoolExecutor(len(urls)) as pool:
        results = list(pool.map(one, range(len(urls))))
    return {
        "rps": sum(r.requests_per_s for r in results),
        "p50": max(r.p50_ms for r in results),
        "p99": max(r.p99_ms for r in results),
        "errors": sum(r.errors for r in results),
    }


def fresh_schema(url: str) -> str:
    from sqlalchemy import create_engine

    engine = create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
        conn.exec_driver_sql(f"CREATE SCHEMA {SCHEMA}")
    engine.dispose()
    return f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{SCHEMA}"


def drop_schema(url: str) -> None:
    from sqlalchemy import create_engine

    engine = create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
    engine.dispose()


NAMES = ["enos.connect.create_device", "quectel.devicemgr.create_batch (1)", "enos.dps.allocate",
         "mcs.register_device"]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", required=True, help="a PostgreSQL SQLAlchemy URL")
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    rows: dict[str, list[dict[str, float]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        configs = [
            ("1 process, SQLite file", [str(Path(tmp) / "one.db")]),
            ("1 process, PostgreSQL", None),
            (f"{args.processes} processes, PostgreSQL", None),
        ]
        for label, dbs in configs:
            if dbs is None:
                db = fresh_schema(args.db)
                dbs = [db] * (1 if label.startswith("1 ") else args.processes)
            started = [start(db) for db in dbs]
            try:
                urls = [url for url, _ in started]
                rows[label] = [
                    measure(urls, i, args.seconds, args.connections) for i in range(len(NAMES))
                ]
            finally:
                for _, process in started:
                    process.terminate()
                    process.wait(timeout=30)
        drop_schema(args.db)
    print(f"load: {load.wrk_available() and 'wrk' or 'python'}, {args.connections} connections, "
          f"{args.seconds:g} s per figure, {os.cpu_count()} CPUs")  # fmt: skip
    print()
    print("| operation | " + " | ".join(rows) + " |")
    print("| --- |" + " --- |" * len(rows))
    for i, name in enumerate(NAMES):
        cells = [
            f"{r[i]['rps']:.0f} req/s, p50 {r[i]['p50']:.1f} ms, p99 {r[i]['p99']:.1f} ms"
            + (f", {r[i]['errors']:.0f} non-2xx" if r[i]["errors"] else "")
            for r in rows.values()
        ]
        print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
