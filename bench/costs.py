"""What a request costs the machine besides its wall time: CPU and context switches per request
of the server's process (all its threads) and of the local PostgreSQL server's processes.

On two cores shared by the load generator, the server and PostgreSQL, throughput follows the
CPU all three spend a request, and a thread woken from a wait (a round trip, the interpreter
lock, a hand-over between threads) costs CPU of its own: the figures say where a change
moved it. Read from /proc (Linux); elsewhere, or for a PostgreSQL on another host, the
figures that cannot be read are left out.
"""

from __future__ import annotations

import os
from pathlib import Path

_PROC = Path("/proc")


def _stat_cpu(pid: str) -> tuple[float, float]:
    """(user, system) CPU seconds of a process, its threads included."""
    fields = (_PROC / pid / "stat").read_text().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tick, int(fields[12]) / tick


def _switches(pid: str) -> int:
    """Context switches of every thread of a process, voluntary and not."""
    total = 0
    for status in (_PROC / pid / "task").glob("*/status"):
        for line in status.read_text().splitlines():
            if "ctxt_switches:" in line:  # voluntary_ and nonvoluntary_
                total += int(line.split()[1])
    return total


def _postgres_pids() -> list[str]:
    pids = []
    for entry in _PROC.iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == "postgres":
                    pids.append(entry.name)
            except OSError:  # ended, or not ours to read
                continue
    return pids


def snapshot(server_pid: int) -> dict[str, float]:
    """The counters now, to subtract from those after a run (:func:`per_request`)."""
    if not _PROC.is_dir():
        return {}
    out: dict[str, float] = {}
    try:
        out["server_user_s"], out["server_system_s"] = _stat_cpu(str(server_pid))
        out["server_switches"] = _switches(str(server_pid))
    except OSError:
        return {}
    postgres = _postgres_pids()
    if postgres:
        user = system = switches = 0.0
        for pid in postgres:
            try:
                u, s = _stat_cpu(pid)
                n = _switches(pid)
            except OSError:  # a backend that ended between the listing and the read
                continue
            user, system, switches = user + u, system + s, switches + n
        out.update(postgres_user_s=user, postgres_system_s=system, postgres_switches=switches)
    return out


def per_request(
    before: dict[str, float], after: dict[str, float], requests: float
) -> dict[str, float]:
    """CPU (us) and context switches per request between two snapshots. PostgreSQL's
    processes are compared by their sums: a backend that ended in between drags its figure
    down, one that started adds its whole life (both rare while a run keeps its connections)."""
    if requests <= 0:
        return {}
    out = {}
    for key in before.keys() & after.keys():
        delta = (after[key] - before[key]) / requests
        if key.endswith("_s"):
            out[key[: -len("_s")] + "_us"] = round(delta * 1e6, 1)
        else:
            out[key] = round(delta, 2)
    return out
