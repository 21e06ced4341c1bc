"""``make bench``: the emulator against a bare FastAPI app, measured in one run on one machine.

Starts the bare app (bench/bare_app.py) and the emulator in its default configuration (file
SQLite, journal on, one worker), drives both with the same load generator at the same
concurrency, and writes bench/results.json and the table in bench/README.md. Every figure is
printed with its target and whether it is met.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

import costs
import load
import per_test
import raw_sqlite
import scenarios

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    """A server process; ``startup_s`` is the time from spawn to the first healthy answer."""

    def __init__(
        self, argv: list[str], health_path: str, env: dict[str, str] | None = None,
        log: Path | None = None,
    ) -> None:  # fmt: skip
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        started = time.perf_counter()
        # Output to a file, as a server run in the background or in a container writes it.
        self._log = open(log, "ab") if log is not None else None
        self.process = subprocess.Popen(
            [a.replace("{port}", str(self.port)) for a in argv],
            cwd=ROOT, env={**os.environ, **(env or {})},
            stdout=self._log or subprocess.DEVNULL, stderr=self._log or subprocess.DEVNULL,
        )  # fmt: skip
        deadline = started + 30
        while True:
            try:
                if httpx.get(self.url + health_path, timeout=1).status_code < 500:
                    break
            except httpx.TransportError:
                pass
            if time.perf_counter() > deadline or self.process.poll() is not None:
                raise RuntimeError(f"server did not start: {argv}")
            time.sleep(0.005)
        self.startup_s = time.perf_counter() - started

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)
        if self._log is not None:
            self._log.close()


WARM_UP_S = 2
FIXTURES = [ROOT / "fixtures" / "default.yaml", BENCH / "fixtures.yaml"]


def emulator_server(db: Path | str, log: Path | None = None, *options: str) -> Server:
    """The emulator as shipped (access log on, info level), its output to ``log``."""
    return Server(
        [sys.executable, "-m", "emulator", "serve", "--port", "{port}", "--db", str(db), "--seed", "1",
         "--fixtures", str(FIXTURES[0]), "--fixtures", str(FIXTURES[1]), *options],
        # The HTTP APIs are measured: the MQTT listener (bench/mqtt.py measures it) stays off.
        "/_emulator/health", {"EMULATOR_MQTT": "false"}, log=log,
    )  # fmt: skip


# The PostgreSQL of the one-process comparison: EMULATOR_BENCH_DATABASE_URL, else the test
# suite's EMULATOR_TEST_DATABASE_URL, else a local server with the development defaults.
LOCAL_POSTGRESQL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
PG_SCHEMA = "emulator_bench"


def postgresql_url() -> str | None:
    """A URL whose connections use a fresh schema of their own, or None (no server)."""
    url = (os.environ.get("EMULATOR_BENCH_DATABASE_URL")
           or os.environ.get("EMULATOR_TEST_DATABASE_URL") or LOCAL_POSTGRESQL)  # fmt: skip
    try:
        from sqlalchemy import create_engine

        engine = create_engine(url, connect_args={"connect_timeout": 3})
        with engine.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {PG_SCHEMA} CASCADE")
            conn.exec_driver_sql(f"CREATE SCHEMA {PG_SCHEMA}")
        engine.dispose()
    except Exception as exc:  # no driver, no server
        print(f"  PostgreSQL comparison skipped: {exc}".splitlines()[0], flush=True)
        return None
    return f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{PG_SCHEMA}"


def drop_postgresql_schema(url: str) -> None:
    from sqlalchemy import create_engine

    engine = create_engine(url.split("?")[0])
    with engine.begin() as conn:
        conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {PG_SCHEMA} CASCADE")
    engine.dispose()


PG_CONNECTIONS = 8


def measure_reset(url: str, rounds: int = 200) -> dict[str, float]:
    """Latency of ``POST /_emulator/reset`` of a namespace holding the default fixtures."""
    times = []
    with httpx.Client(base_url=url + "/ns/bench-reset") as client:
        client.get("/_emulator/health")
        for _ in range(rounds):
            started = time.perf_counter()
            client.post("/_emulator/reset").raise_for_status()
            times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return {"p50_ms": statistics.median(times), "p99_ms": times[int(0.99 * len(times)) - 1]}


def startup_s(db: Path) -> float:
    """Spawn to healthy of the emulator as shipped, on a new database."""
    server = emulator_server(db)
    server.stop()
    return server.startup_s


def compile_package() -> None:
    """Byte-compile the emulator's modules first, as installing the package does (pip writes
    them, and a clone's first run does unless PYTHONDONTWRITEBYTECODE is set): the start-up
    measured is a user's, not that of a run that compiles every module anew."""
    import compileall

    compileall.compile_dir(ROOT / "emulator", quiet=1)


def run_all(args: argparse.Namespace) -> dict[str, Any]:
    compile_package()
    results: dict[str, Any] = {
        "machine": {
            "cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
            "generator": "wrk" if load.wrk_available() else "python",
            "connections": args.connections, "seconds": args.seconds,
        },
        "figures": {},
    }  # fmt: skip
    figures: dict[str, Any] = results["figures"]

    def drive(
        url: str, scenario: load.Scenario, connections: int | None = None, *,
        costs_of: Server | None = None,
    ) -> dict[str, Any]:  # fmt: skip
        """One measured run; with ``costs_of``, also that server's (and a local PostgreSQL's)
        CPU and context switches per request during it (bench/costs.py)."""
        connections = connections or args.connections
        # A short run first, not counted: caches warm and the first WAL checkpoints pass, the
        # same for the bare app and the emulator.
        load.run(url, scenario, seconds=WARM_UP_S, connections=connections)
        before = costs.snapshot(costs_of.process.pid) if costs_of else {}
        result = load.run(url, scenario, seconds=args.seconds, connections=connections)
        figures: dict[str, Any] = {**asdict(result), "connections": connections}
        print(f"  {scenario.name:52} c{connections:<3} {result.requests_per_s:7.0f} req/s  p50 {result.p50_ms:6.2f} ms"
              f"  p99 {result.p99_ms:7.2f} ms  errors {result.errors}", flush=True)  # fmt: skip
        if costs_of:
            after = costs.snapshot(costs_of.process.pid)
            spent = costs.per_request(before, after, result.requests_per_s * args.seconds)
            if spent:
                figures["costs"] = spent
                print("    a request: " + ", ".join(f"{k} {v}" for k, v in sorted(spent.items())),
                      flush=True)  # fmt: skip
        return figures

    def drive_bare() -> dict[str, Any]:
        bare = Server([sys.executable, "-m", "uvicorn", "--app-dir", str(BENCH), "bare_app:app",
                       "--port", "{port}", "--log-level", "warning"], "/docs")  # fmt: skip
        try:
            return drive(bare.url, scenarios.ECHO)
        finally:
            bare.stop()

    # The baseline before and after the emulator's operations: the ratios use the mean of the
    # two, so a machine that speeds up or slows down during the run moves both sides alike.
    figures["bare"] = drive_bare()

    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "emulator.db"
        log = Path(tmp) / "emulator.log"
        emulator = emulator_server(db, log)
        try:
            # The median of this start and two more (one start is at the mercy of the moment).
            figures["startup_s"] = statistics.median(
                [emulator.startup_s, *(startup_s(Path(tmp) / f"start{n}.db") for n in range(2))]
            )
            time.sleep(1)
            figures["idle_rss_mb"] = emulator.rss_mb()
            figures["reset"] = measure_reset(emulator.url)
            # raw sqlite3 right before and right after the emulator's 500-device createBatch,
            # so the two sides of that ratio are measured in the same minutes.
            raw: list[float] = []

            def raw_sqlite_run() -> None:
                raw.append(raw_sqlite.rows_per_second(args.seconds))
                print(
                    f"  {'raw sqlite3, 500-row batches':52}      {raw[-1]:7.0f} rows/s", flush=True
                )

            empty = run_operations(
                emulator.url, drive, around={scenarios.CREATE_BATCH_500.name: raw_sqlite_run}
            )
            figures["operations"] = empty
            if raw:
                figures["raw_sqlite_runs"] = raw
                figures["raw_sqlite_rows_per_s"] = statistics.mean(raw)
        finally:
            emulator.stop()
        figures["access_log_bytes"] = log.stat().st_size
        # What the access log costs: the same create with it off.
        emulator = emulator_server(Path(tmp) / "quiet.db", None, "--no-access-log")
        try:
            figures["create_no_access_log"] = drive(emulator.url, scenarios.CREATE_DEVICE)
        finally:
            emulator.stop()
        figures["bare_after"] = drive_bare()
        figures["create_pairs"] = create_pairs(Path(tmp), drive, drive_bare)
        if not args.skip_postgresql:
            figures.update(postgresql_vs_sqlite(Path(tmp), drive))
        if not args.skip_per_test:
            print("pytest plugin: a test with its own namespace vs a plain test ...", flush=True)
            figures["per_test"] = per_test.measure()
            print(f"  {figures['per_test']}", flush=True)
        if not args.skip_million:
            print(f"filling the registry with {args.million:,} devices ...", flush=True)
            started = time.perf_counter()
            scenarios.fill_registry(db, args.million, FIXTURES)
            figures["fill_s"] = time.perf_counter() - started
            figures["fill_devices"] = args.million
            full, empty = emulator_server(db), emulator_server(Path(tmp) / "empty-again.db")
            try:
                figures["operations_full"], figures["operations_empty_around"] = scale_runs(
                    full.url, empty.url, drive
                )
            finally:
                full.stop()
                empty.stop()
    return results


# The create as shipped and the bare app, one right after the other, this many times.
CREATE_PAIRS = 3


def create_pairs(
    tmp: Path, drive: Callable[..., dict[str, Any]], drive_bare: Callable[[], dict[str, Any]]
) -> list[dict[str, Any]]:
    """The create as shipped (a new server each time) and the bare app in alternated pairs:
    each pair's two runs are seconds apart, so its ratio is free of what the machine does over
    minutes, and the median of the pairs' ratios (report.py) is free of one unlucky run. On a
    shared host the two runs of one figure minutes apart differed by up to a third."""
    pairs: list[dict[str, Any]] = []

    def create(n: int) -> dict[str, Any]:
        server = emulator_server(tmp / f"pair{n}.db", tmp / f"pair{n}.log")
        try:
            return drive(server.url, scenarios.CREATE_DEVICE)
        finally:
            server.stop()

    for n in range(CREATE_PAIRS):
        if n % 2 == 0:
            bare = drive_bare()
            pairs.append({"bare": bare, "create": create(n)})
        else:
            created = create(n)
            pairs.append({"bare": drive_bare(), "create": created})
    return pairs


def postgresql_vs_sqlite(tmp: Path, drive: Callable[..., dict[str, Any]]) -> dict[str, Any]:
    """EnOS create on one process on PostgreSQL and on a SQLite file, as shipped, at
    PG_CONNECTIONS connections: the SQLite run first, then PostgreSQL, then SQLite again."""
    url = postgresql_url()
    if url is None:
        return {}
    out: dict[str, Any] = {}
    try:
        for key, db in (("sqlite_c8", tmp / "c8.db"), ("postgresql_c8", url),
                        ("sqlite_c8_after", tmp / "c8-after.db")):  # fmt: skip
            print(f"one process on {'PostgreSQL' if key.startswith('postgresql') else 'SQLite'}:",
                  flush=True)  # fmt: skip
            server = emulator_server(db, tmp / f"{key}.log")
            try:
                out[key] = drive(
                    server.url, scenarios.CREATE_DEVICE, PG_CONNECTIONS, costs_of=server
                )
            finally:
                server.stop()
    finally:
        drop_postgresql_schema(url)
    return out


def scale_runs(
    full_url: str, empty_url: str, drive: Callable[..., dict[str, Any]]
) -> tuple[dict[str, Any], dict[str, list[dict[str, Any]]]]:
    """Each operation the registry's size may slow, on the full registry between two runs on an
    empty one: the ratio compares figures of the same minute, whatever the machine does over
    the whole benchmark."""
    full: dict[str, Any] = {}
    empty: dict[str, list[dict[str, Any]]] = {}
    scenarios.prepare(full_url)
    scenarios.prepare(empty_url)
    plan = [(s, None) for s in scenarios.OPERATIONS] + scenarios.BATCHES
    for scenario, connections in plan:
        if scenario.name in scenarios.SCALE_SENSITIVE:
            before = drive(empty_url, scenario, connections)
            full[scenario.name] = drive(full_url, scenario, connections)
            empty[scenario.name] = [before, drive(empty_url, scenario, connections)]
    return full, empty


def run_operations(
    url: str,
    drive: Callable[..., dict[str, Any]],
    only: tuple[str, ...] | None = None,
    around: dict[str, Callable[[], None]] | None = None,
) -> dict[str, Any]:
    """Each operation driven in turn; ``around``: what runs right before and right after the
    operation of that name (a baseline measured in the same minutes)."""
    around = around or {}
    out: dict[str, Any] = {}
    scenarios.prepare(url)
    plan = [(s, None) for s in scenarios.OPERATIONS] + scenarios.BATCHES
    for scenario, connections in plan:
        if only is not None and scenario.name not in only:
            continue
        if not scenarios.available(url, scenario):
            print(f"  {scenario.name:52} not served by this build: skipped", flush=True)
            continue
        beside = around.get(scenario.name)
        if beside is not None:
            beside()
        out[scenario.name] = drive(url, scenario, connections)
        if beside is not None:
            beside()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument(
        "--million", type=int, default=1_000_000, help="devices for the full-registry run"
    )
    parser.add_argument("--skip-million", action="store_true")
    parser.add_argument("--skip-postgresql", action="store_true")
    parser.add_argument("--skip-per-test", action="store_true")
    parser.add_argument("--output", type=Path, default=BENCH / "results.json")
    args = parser.parse_args()
    results = run_all(args)
    import report

    results["targets"] = report.evaluate(results)
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    report.write_readme(results, BENCH / "README.md", BENCH / "results.svg")
    print(report.table(results))
    missed = [t for t in results["targets"] if t["met"] is False]
    print(f"\n{len(results['targets']) - len(missed)} of {len(results['targets'])} targets met")


if __name__ == "__main__":
    main()
