"""What a test pays for the pytest plugin: a generated file of tests that each take their own
namespace and make one call through ``iot_emulator``, against a file of plain tests, run by
pytest in the same way one after the other.

Each run records when each test ends (a ``conftest.py`` written beside the tests); the figure
is the time between the first test's end and the last's, over the number of tests: what a test
costs once the session is up (collection and the one server start-up are left out, for both).
CPU time is recorded too: the plugin's server runs in a thread of the same process, so the
process's CPU time is the client's and the server's work, which other load on the machine
moves less than it moves the wall clock.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

CONFTEST = """
import json, os, time
STAMPS = []
def pytest_runtest_logfinish(nodeid, location):
    STAMPS.append((time.perf_counter(), time.process_time()))
def pytest_sessionfinish(session):
    with open(os.environ["BENCH_STAMPS"], "w") as out:
        json.dump(STAMPS, out)
"""

PLAIN = """
def test_plain_{n}():
    assert sum(range(10)) == 45
"""

# One vendor call in the test's own namespace (created by that call, dropped after the test).
EMULATOR = """
def test_emulator_{n}(iot_emulator):
    answer = iot_emulator.post(
        "/mcs/v2/devices", headers={{"Authorization": "Bearer any-well-formed-token"}},
        json={{"prodId": "a1234567890", "name": "plug", "isTest": True}},
    )
    assert answer.status_code == 200
"""


def _run(folder: Path, name: str) -> tuple[float, float]:
    """(wall ms, CPU ms) per test of one file."""
    stamps = folder / f"{name}.json"
    subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly",
         f"{name}.py"],
        cwd=folder, env={**os.environ, "BENCH_STAMPS": str(stamps)}, check=True,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    ends = json.loads(stamps.read_text())
    count = len(ends) - 1
    return (
        (ends[-1][0] - ends[0][0]) / count * 1000,
        (ends[-1][1] - ends[0][1]) / count * 1000,
    )


def measure(tests: int = 300, rounds: int = 5) -> dict[str, float]:
    """Per-test costs, the median of ``rounds`` alternated runs of each file."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "conftest.py").write_text(CONFTEST)
        (folder / "test_plain.py").write_text("".join(PLAIN.format(n=n) for n in range(tests)))
        (folder / "test_emulator.py").write_text(
            "".join(EMULATOR.format(n=n) for n in range(tests))
        )
        plain, emulator = [], []
        for _ in range(rounds):
            plain.append(_run(folder, "test_plain"))
            emulator.append(_run(folder, "test_emulator"))
    wall = statistics.median(e[0] for e in emulator) - statistics.median(p[0] for p in plain)
    cpu = statistics.median(e[1] for e in emulator) - statistics.median(p[1] for p in plain)
    return {
        "tests": tests,
        "plain_ms": statistics.median(p[0] for p in plain),
        "emulator_ms": statistics.median(e[0] for e in emulator),
        "over_plain_ms": wall,
        "cpu_over_plain_ms": cpu,
    }


if __name__ == "__main__":
    print(json.dumps(measure(), indent=2))
