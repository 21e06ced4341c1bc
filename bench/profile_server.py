"""Where a real emulator server spends its time under load: py-spy samples it while the load
generator of ``make bench`` drives one operation.

    .venv/bin/python bench/profile_server.py create           # EnOS create device
    .venv/bin/python bench/profile_server.py batch1 --top 40  # more rows
    .venv/bin/python bench/profile_server.py create --postgresql --connections 8 --gil

``profile_requests.py`` counts the emulator's own CPU per request in process; this shows the
server as the benchmark sees it, uvicorn's HTTP parsing, the socket and SQLite's I/O included.
It prints the functions that use the most samples themselves (self) and with what they call
(inclusive), as shares of all samples. py-spy reads another process's memory: it needs to run
as that process's user with ptrace allowed (in a container, the SYS_PTRACE capability).
"""

from __future__ import annotations

import argparse
import collections
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import load
import run
import scenarios

CASES = {
    "create": scenarios.CREATE_DEVICE,
    "batch1": scenarios.CREATE_BATCH_1,
    "batch500": scenarios.CREATE_BATCH_500,
    "control1": scenarios.BATCH_CONTROL_1,
    "allocate": scenarios.ALLOCATE,
    "register": scenarios.REGISTER,
}
# "name (path/to/module.py:line)" -> "name (module path after site-packages)"
_SITE = re.compile(r" \(.*?/site-packages/")


def py_spy() -> str:
    found = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(found).exists():
        sys.exit("py-spy is not installed: make install (it is a dev dependency)")
    return found


def record(url: str, pid: int, scenario: load.Scenario, seconds: int, out: Path,
           connections: int = 16, gil: bool = False) -> None:  # fmt: skip
    load.run(url, scenario, seconds=2, connections=connections)  # warm-up, not sampled
    spy = subprocess.Popen(
        [py_spy(), "record", "--pid", str(pid), "--duration", str(seconds), "--rate", "300",
         "--format", "raw", "--output", str(out), *(["--gil"] if gil else [])],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    time.sleep(0.5)  # py-spy attaches
    result = load.run(url, scenario, seconds=seconds, connections=connections)
    if spy.wait() != 0:
        sys.exit("py-spy could not sample the server (is ptrace allowed?)")
    print(f"{scenario.name}: {result.requests_per_s:.0f} req/s while sampled")


def summary(raw: Path, top: int) -> str:
    own: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        samples = int(count)
        frames = [_SITE.sub(" (", frame) for frame in stack.split(";") if frame]
        if not frames:
            continue
        total += samples
        own[frames[-1]] += samples
        for frame in set(frames):
            inclusive[frame] += samples
    lines = [f"{total} samples", "", "self:"]
    lines += [f"{100 * n / total:5.1f}%  {f}" for f, n in own.most_common(top)]
    # The server's outer frames (uvicorn's loop, the CLI) are in nearly every sample: left out.
    below_the_loop = [(f, n) for f, n in inclusive.most_common() if n < 0.95 * total]
    lines += ["", "inclusive (below the event loop):"]
    lines += [f"{100 * n / total:5.1f}%  {f}" for f, n in below_the_loop[:top]]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("operation", choices=sorted(CASES))
    parser.add_argument("--seconds", type=int, default=6)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument(
        "--postgresql", action="store_true", help="on PostgreSQL (as make bench finds it)"
    )
    # On PostgreSQL most threads wait on the database most of the time: --gil keeps only the
    # samples of the thread running Python, which is what the process's CPU is spent on.
    parser.add_argument("--gil", action="store_true", help="only samples holding the GIL")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = run.postgresql_url() if args.postgresql else None
        if args.postgresql and url is None:
            sys.exit("no PostgreSQL to profile on")
        server = None
        try:
            server = run.emulator_server(url or Path(tmp) / "emulator.db")
            scenarios.prepare(server.url)
            raw = Path(tmp) / "samples.txt"
            record(server.url, server.process.pid, CASES[args.operation], args.seconds, raw,
                   args.connections, args.gil)  # fmt: skip
        finally:
            if server is not None:
                server.stop()
            if url is not None:
                run.drop_postgresql_schema(url)
        print(summary(raw, args.top))


if __name__ == "__main__":
    main()
