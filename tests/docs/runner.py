"""Run one page's shell snippets, in order, against live emulators on free ports.

The snippets are written for the default port (``127.0.0.1:8080``, ``localhost:8080``) and name
others (``--port 8081``): each port a page names is given a free one, in every snippet. The
emulator on 8080 is the page's own ``server`` snippet when it has one (``make run``), else one
this runner starts, as ``iot-emulator serve`` on ``./emulator.db`` in the page's directory.

Every ``curl`` of a snippet goes through a shell function that records the answer (HTTP status
and body) beside the command, and then prints the body as curl would; the test reads the
records: an HTTP error, a vendor code that is not a success, or a device in a batch answer's
``failureList`` fails the page, unless the snippet's ``expect`` marker names that code.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from emulator.testing import free_port
from tests.docs.snippets import ROOT, Snippet

DEFAULT_PORT = 8080
_ADDRESS = re.compile(r"\b(?:127\.0\.0\.1|localhost):(\d{4,5})\b")
_PORT_OPTION = re.compile(r"--port\s+(\d{4,5})\b")
# Vendor codes of success: EnOS 0, Quectel and the MCS OAuth body 200.
_SUCCESS_CODES = frozenset({0, 200})
# A shell snippet that waits longer than this has gone wrong (long-polls wait up to 30 s).
SCRIPT_TIMEOUT = 120.0

# Shell functions of every snippet: curl records its answers; make runs in the clone, as a
# user types it there (the snippets themselves run in a scratch directory).
_SHELL_FUNCTIONS = r"""
curl() {
  case " $* " in
    *" -o "*|*" --output "*|*" -w "*|*" --write-out "*) command curl "$@"; return ;;
  esac
  local record
  record=$(mktemp -d "$SNIPPET_CALLS/$SNIPPET.XXXXXX")
  printf '%s\n' "$@" > "$record/args"
  command curl -o "$record/body" -w '%{http_code}' "$@" > "$record/status" || return
  cat "$record/body"
}
make() { command make -C "$SNIPPET_ROOT" "$@"; }
"""


@dataclass(frozen=True)
class Call:
    """One curl of a snippet, as the recorder kept it."""

    snippet: Snippet
    args: list[str]
    status: int
    body: str

    def codes(self) -> set[int]:
        """The HTTP status and, in a vendor answer, the vendor code."""
        found = {self.status}
        try:
            answer: Any = json.loads(self.body)
        except ValueError:
            return found
        if isinstance(answer, dict) and isinstance(answer.get("code"), int):
            found.add(answer["code"])
        return found

    def problem(self) -> str | None:
        """Why this answer is not the success the docs promise, or ``None``."""
        allowed = self.snippet.expect
        if self.status >= 400 and self.status not in allowed:
            return f"HTTP {self.status}"
        try:
            answer: Any = json.loads(self.body)
        except ValueError:
            return None
        # The control plane speaks its own JSON: its HTTP status says it all.
        if not isinstance(answer, dict) or any("/_emulator" in arg for arg in self.args):
            return None
        code = answer.get("code")
        if isinstance(code, int) and code not in _SUCCESS_CODES and code not in allowed:
            return f"vendor code {code}"
        data = answer.get("data")
        if isinstance(data, dict) and data.get("failureList"):
            return "a device in failureList"
        return None


@dataclass(frozen=True)
class PageRun:
    returncode: int
    output: str
    calls: list[Call]


class Ports:
    """A free port for every port number a page names."""

    def __init__(self, snippets: list[Snippet]) -> None:
        named = {DEFAULT_PORT}
        for snippet in snippets:
            named.update(int(port) for port in _ADDRESS.findall(snippet.body))
            named.update(int(port) for port in _PORT_OPTION.findall(snippet.body))
        self.free = {port: free_port() for port in sorted(named)}

    def apply(self, text: str) -> str:
        text = _ADDRESS.sub(lambda m: f"127.0.0.1:{self.free[int(m[1])]}", text)
        return _PORT_OPTION.sub(lambda m: f"--port {self.free[int(m[1])]}", text)

    def served_by(self, snippet: Snippet) -> int:
        """The port a server snippet listens on (the default unless it says ``--port``)."""
        option = _PORT_OPTION.search(snippet.body)
        return self.free[int(option[1]) if option else DEFAULT_PORT]


def environment(workdir: Path, ports: Ports) -> dict[str, str]:
    """The shell of a user in a clone: the project's commands first on the PATH, the default
    emulator's port and state file given as the ``EMULATOR_*`` variables the docs mention."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("EMULATOR_")}
    env.update(
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
        EMULATOR_PORT=str(ports.free[DEFAULT_PORT]),
        EMULATOR_DB=str(workdir / "emulator.db"),
        SNIPPET_ROOT=str(ROOT),
        SNIPPET_CALLS=str(workdir / ".calls"),
        SNIPPET="0",
    )
    return env


@contextmanager
def servers(snippets: list[Snippet], workdir: Path, ports: Ports) -> Iterator[None]:
    """The page's server snippets (or the default emulator), running, until the block ends."""
    env = environment(workdir, ports)
    commands = [(_SHELL_FUNCTIONS + ports.apply(s.body), ports.served_by(s)) for s in snippets]
    if ports.free[DEFAULT_PORT] not in {port for _, port in commands}:
        default = f"exec iot-emulator serve --port {ports.free[DEFAULT_PORT]} --db emulator.db"
        commands.insert(0, (default, ports.free[DEFAULT_PORT]))
    started: list[tuple[subprocess.Popen[bytes], Path]] = []
    try:
        for index, (command, port) in enumerate(commands):
            log = workdir / f"server-{index}.log"
            with log.open("wb") as out:
                process = subprocess.Popen(
                    ["bash", "-c", command],
                    cwd=workdir,
                    # Each server's MQTT listener on a port of its own (the default, 11883, is
                    # one per machine: pages, and parallel test workers, would fight over it).
                    env={**env, "EMULATOR_MQTT_PORT": str(free_port())},
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,  # make and the emulator it starts stop together
                )
            started.append((process, log))
            _wait_healthy(port, process, log)
        yield
    finally:
        for process, _ in started:
            _stop(process)


def _wait_healthy(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    """Until the emulator answers its health check (it may first install, as ``make run``
    does on a fresh clone), or its process ends."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the server snippet exited with {process.returncode}:\n"
                                 f"{log.read_text(errors='replace')}")  # fmt: skip
        try:
            if httpx.get(f"http://127.0.0.1:{port}/_emulator/health", timeout=1).is_success:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise AssertionError(f"no emulator answered on port {port}:\n{log.read_text()}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=15)


def script(snippets: list[Snippet], ports: Ports) -> str:
    """One shell script of the page's snippets, in order, each announcing itself."""
    parts = [
        "set -eo pipefail",
        _SHELL_FUNCTIONS,
        "trap 'echo \"snippet failed: $SNIPPET_WHERE\" >&2' ERR",
    ]
    for index, snippet in enumerate(snippets):
        parts.append(f"SNIPPET={index}; SNIPPET_WHERE={shlex.quote(snippet.where)}")
        parts.append(ports.apply(snippet.body))
    return "\n".join(parts) + "\n"


def run_page(snippets: list[Snippet], workdir: Path) -> PageRun:
    """Start the page's emulators, run its other snippets in order, read what curl got."""
    runnable = [s for s in snippets if s.kind == "run"]
    ports = Ports(snippets)
    env = environment(workdir, ports)
    (workdir / ".calls").mkdir()
    with servers([s for s in snippets if s.kind == "server"], workdir, ports):
        done = subprocess.run(
            ["bash", "-c", script(runnable, ports)],
            cwd=workdir,
            env=env,
            capture_output=True,
            text=True,
            timeout=SCRIPT_TIMEOUT,
        )
    calls = []
    for record in sorted((workdir / ".calls").iterdir(), key=_call_order):
        index = int(record.name.split(".", 1)[0])
        status = (record / "status").read_text().strip()
        body = record / "body"
        calls.append(
            Call(
                snippet=runnable[index],
                args=(record / "args").read_text().splitlines(),
                status=int(status or 0),
                body=body.read_text(errors="replace") if body.exists() else "",
            )
        )
    return PageRun(done.returncode, done.stdout + done.stderr, calls)


def _call_order(record: Path) -> tuple[int, int]:
    return int(record.name.split(".", 1)[0]), record.stat().st_mtime_ns
