"""Real `python -m emulator` processes for the tests that need one (CLI, crash, shutdown, logs,
metrics with workers, several processes on one database)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from emulator.testing import free_port


def start(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """``python -m emulator ARGS``; its MQTT listener on a free port (the default, 11883, is
    one per machine: parallel tests would fight over it)."""
    return subprocess.Popen(
        [sys.executable, "-m", "emulator", *args],
        cwd=cwd,
        env={**os.environ, "EMULATOR_MQTT_PORT": str(free_port()), **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    process.communicate(timeout=10)


def wait_healthy(url: str, process: subprocess.Popen[bytes], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = process.stdout.read().decode() if process.stdout else ""
            raise AssertionError(f"the emulator exited with {process.returncode}:\n{output}")
        try:
            if httpx.get(f"{url}/_emulator/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise AssertionError("the emulator did not become healthy")
