"""SIGTERM during a running batch of writes: requests in flight finish, nothing acknowledged
is lost, and the SQLite file is consistent (what ``docker stop`` does to the container)."""

from __future__ import annotations

import signal
import sqlite3
import threading
import time
from contextlib import closing
from pathlib import Path

import httpx

from emulator.testing import free_port
from tests import calls
from tests.processes import start, wait_healthy

CREATE = "/connect-service/v2.1/devices?action=create&orgId=o15475450989191"
HEADERS = {"apim-accesstoken": "any-well-formed-token"}
OPERATION = "enos.connect.create_device"
WRITERS = 4
# Acknowledged creates to see before the signal, so it lands in the middle of the batch.
ACKED_BEFORE_SIGNAL = 40
# The in-flight request waits this long inside the server (a latency fault).
SLOW_MS = 8000


def device(key: str) -> dict[str, object]:
    return {
        "productKey": "Vu82Agp3",
        "deviceKey": key,
        "timezone": "+08:00",
        "deviceName": {"defaultValue": key},
    }


class Batch:
    """Writer threads creating devices until the server stops answering."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.acked: list[str] = []
        self.lock = threading.Lock()
        self.enough = threading.Event()
        self.threads = [
            threading.Thread(target=self.write, args=(n,), daemon=True) for n in range(WRITERS)
        ]

    def write(self, writer: int) -> None:
        with httpx.Client(base_url=self.url, timeout=30) as http:
            for i in range(100_000):
                key = f"w{writer}x{i}"
                try:
                    answer = http.post(CREATE, json=device(key), headers=HEADERS).json()
                except httpx.HTTPError:
                    return  # the server has stopped accepting: the batch ends here
                assert answer["code"] == 0, answer
                with self.lock:
                    self.acked.append(key)
                    if len(self.acked) >= ACKED_BEFORE_SIGNAL:
                        self.enough.set()


def test_sigterm_during_a_batch_of_writes_loses_no_acknowledged_create(tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    db = tmp_path / "state.db"
    process = start(
        ["serve", "--no-access-log"],
        cwd=tmp_path,
        env={"EMULATOR_PORT": str(port), "EMULATOR_DB": str(db)},
    )
    try:
        wait_healthy(url, process)
        # The next create waits inside the server, so it is in flight when the signal comes.
        armed = calls.post(
            f"{url}/_emulator/faults",
            json={"operation": OPERATION, "latencyMs": SLOW_MS, "times": 1},
        )
        assert armed.status_code == 201, armed.text
        slow: dict[str, object] = {}
        in_flight = threading.Thread(
            target=lambda: slow.update(
                httpx.post(f"{url}{CREATE}", json=device("slow"), headers=HEADERS, timeout=60)
                .json()
            ),
            daemon=True,
        )  # fmt: skip
        in_flight.start()
        while calls.get(f"{url}/_emulator/faults").json()["faults"]:
            time.sleep(0.02)  # until the rule is taken: the slow request is inside the server
        batch = Batch(url)
        for thread in batch.threads:
            thread.start()
        assert batch.enough.wait(timeout=60), "the batch did not start"
        assert in_flight.is_alive(), "the slow request must still be in flight at the signal"

        process.send_signal(signal.SIGTERM)
        output = process.communicate(timeout=60)[0].decode()
        in_flight.join(timeout=30)
        for thread in batch.threads:
            thread.join(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()

    # Uvicorn shuts down gracefully, then re-raises the signal: the exit status says SIGTERM.
    assert process.returncode == -signal.SIGTERM, output
    assert "Finished server process" in output
    assert slow.get("code") == 0, slow  # answered after the signal, not cut off
    # The pool closed cleanly: SQLite folded its write-ahead log into the file.
    assert not Path(f"{db}-wal").exists()
    with closing(sqlite3.connect(db)) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        stored = {
            row[0]
            for row in conn.execute(
                "SELECT device_key FROM devices WHERE vendor = 'enos' AND product_key = 'Vu82Agp3'"
            )
        }
    assert len(batch.acked) >= ACKED_BEFORE_SIGNAL
    assert set(batch.acked) <= stored
    assert "slow" in stored


def test_sigterm_stops_an_idle_emulator_after_a_graceful_shutdown(tmp_path: Path) -> None:
    port = free_port()
    process = start(
        ["serve"], cwd=tmp_path, env={"EMULATOR_PORT": str(port), "EMULATOR_DB": ":memory:"}
    )
    wait_healthy(f"http://127.0.0.1:{port}", process)

    process.send_signal(signal.SIGTERM)
    output = process.communicate(timeout=30)[0].decode()

    assert process.returncode == -signal.SIGTERM
    assert "Waiting for application shutdown" in output
    assert "Finished server process" in output
