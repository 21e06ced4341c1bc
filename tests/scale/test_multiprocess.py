"""Several emulator processes on one store behave as one emulator.

Two real ``python -m emulator serve`` processes on one PostgreSQL (skipped with the reason when
``EMULATOR_TEST_DATABASE_URL`` is not set or the server is unreachable), and ``serve --workers
2`` on one SQLite file. 16 concurrent clients, spread over the processes, race on the same
deviceKeys and commands: every device, ticket and journal entry exists exactly once, and the
faults, the clock and the namespaces are the same whichever process answers.
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from emulator.testing import free_port
from tests import calls
from tests.conftest import drop_schemas, postgresql_schema, postgresql_skip_reason
from tests.processes import start, stop, wait_healthy

CLIENTS = 16
SCHEMA = f"emu_scale_{os.getpid()}"
ENOS_CREATE = "/connect-service/v2.1/devices?action=create&orgId=o15475450989191"
ENOS_GET = "/connect-service/v2.1/devices?action=get&orgId=o15475450989191"
ENOS_HEADERS = {"apim-accesstoken": "any-well-formed-token"}
CREATE_BATCH = "/v2/devicemgr/r3/openapi/device/createBatch"
BATCH_CONTROL = "/v2/binding/enduserapi/batchControlDevice"
# The Quectel doc's example tokens: well formed, so lenient auth accepts them.
QUECTEL_SAAS = {
    "Authorization": "QJWT eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIyOTQ5NCJ9.JUQjUKlaDepazh7JssvRZKDiA1U"
}
QUECTEL_USER = {"Authorization": "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl"}


def race(urls: list[str], work: Callable[[httpx.Client, int], list[Any]]) -> list[Any]:
    """``work(client, n)`` in CLIENTS threads at once, client n on process ``n % len(urls)``;
    every answer of every thread."""
    results: list[Any] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    barrier = threading.Barrier(CLIENTS)

    def run(n: int) -> None:
        try:
            with httpx.Client(base_url=urls[n % len(urls)], timeout=60) as http:
                barrier.wait()
                out = work(http, n)
            with lock:
                results.extend(out)
        except BaseException as exc:  # reported in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return results


def serve(tmp_path: Path, db: str, *extra: str) -> tuple[str, Any]:
    port = free_port()
    process = start(
        ["serve", "--no-access-log", "--log-level", "warning", *extra],
        cwd=tmp_path,
        env={"EMULATOR_PORT": str(port), "EMULATOR_DB": db},
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, process)
    except BaseException:
        stop(process)
        raise
    return url, process


@pytest.fixture(scope="module")
def two_processes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[str]]:
    """Two emulator processes on one PostgreSQL schema."""
    reason = postgresql_skip_reason()
    if reason is not None:
        pytest.skip(reason)
    db = postgresql_schema(SCHEMA)
    tmp = tmp_path_factory.mktemp("scale")
    processes = []
    try:
        urls = []
        for _ in range(2):
            url, process = serve(tmp, db)
            urls.append(url)
            processes.append(process)
        yield urls
    finally:
        for process in processes:
            stop(process)
        drop_schemas(SCHEMA)


@pytest.fixture
def ns(two_processes: list[str], request: pytest.FixtureRequest) -> list[str]:
    """Both processes' base URLs in a namespace of this test."""
    name = f"scale-{request.node.name[:40]}"
    return [f"{url}/ns/{name}" for url in two_processes]


def racing_enos_creates(urls: list[str], keys: list[str]) -> None:
    """Every client creates every key (in its own order): exactly one creation each."""

    def work(http: httpx.Client, n: int) -> list[tuple[str, int]]:
        order = keys[:]
        random.Random(n).shuffle(order)
        out = []
        for key in order:
            body = {"productKey": "Vu82Agp3", "timezone": "+08:00", "deviceKey": key,
                    "deviceName": {"defaultValue": key}}  # fmt: skip
            answer = http.post(ENOS_CREATE, json=body, headers=ENOS_HEADERS)
            assert answer.status_code == 200, answer.text
            out.append((key, answer.json()["code"]))
        return out

    results = race(urls, work)
    assert len(results) == CLIENTS * len(keys)
    created = Counter(key for key, code in results if code == 0)
    assert created == Counter(keys), "each deviceKey is created exactly once"
    refused = Counter(code for _key, code in results if code != 0)
    assert refused == {11702: (CLIENTS - 1) * len(keys)}


def journal(url: str, operation: str, expected: int) -> list[dict[str, Any]]:
    """The journal's entries of ``operation``, once ``expected`` of them are there (or after
    30 s, for the test to say what is missing). On PostgreSQL each process writes its entries
    just after its answers, in batches (core/journal_writer.py), so the entries another
    process answered may arrive a few milliseconds after the answers did."""
    deadline = time.monotonic() + 30
    while True:
        answer = calls.get(
            f"{url}/_emulator/requests",
            params={"operation": operation, "limit": 10_000},
            timeout=30,
        )
        assert answer.status_code == 200, answer.text
        entries: list[dict[str, Any]] = answer.json()["requests"]
        if len(entries) >= expected or time.monotonic() > deadline:
            return entries
        time.sleep(0.02)


def test_racing_creates_of_one_device_key_create_it_once_across_processes(
    ns: list[str],
) -> None:
    keys = [f"race{i:02d}" for i in range(12)]
    racing_enos_creates(ns, keys)
    for url in ns:
        for key in keys:
            found = calls.get(f"{url}{ENOS_GET}&productKey=Vu82Agp3&deviceKey={key}",
                              headers=ENOS_HEADERS).json()  # fmt: skip
            assert found["code"] == 0, found
        devices = calls.get(f"{url}/_emulator/devices", params={"vendor": "enos"}).json()
        listed = [d["deviceKey"] for d in devices["devices"] if d["deviceKey"].startswith("race")]
        assert sorted(listed) == keys
    # Every request in the journal once, whichever process answered it and is asked.
    for url in ns:
        entries = journal(url, "enos.connect.create_device", CLIENTS * len(keys))
        assert len(entries) == CLIENTS * len(keys)
        assert len({e["id"] for e in entries}) == len(entries)
        assert Counter(e["vendorCode"] for e in entries) == {
            0: len(keys),
            11702: (CLIENTS - 1) * len(keys),
        }


def test_racing_create_batches_create_each_device_once(ns: list[str]) -> None:
    keys = [f"batch{i:03d}" for i in range(40)]

    def work(http: httpx.Client, n: int) -> list[dict[str, Any]]:
        order = keys[:]
        random.Random(n).shuffle(order)
        answer = http.post(
            CREATE_BATCH,
            json={"productKey": "PK0001", "devices": [{"deviceKey": k} for k in order]},
            headers=QUECTEL_SAAS,
        )
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["code"] == 200, body
        return [body["data"]]

    results = race(ns, work)
    created = Counter(s["data"]["deviceKey"] for r in results for s in r["successList"])
    assert created == Counter(keys)
    failed = [f for r in results for f in r["failureList"]]
    assert len(failed) == (CLIENTS - 1) * len(keys)
    assert {f["msg"] for f in failed} == {"The device already exists"} or all(
        "exist" in f["msg"] for f in failed
    )
    overview = calls.get(
        f"{ns[1]}/v2/devicemgr/r3/openapi/product/device/overview",
        params={"productKey": "PK0001", "pageSize": 1000},
        headers=QUECTEL_SAAS,
    ).json()
    listed = [d["deviceKey"] for d in overview["data"] if d["deviceKey"].startswith("batch")]
    assert sorted(listed) == keys


def test_commands_sent_through_both_processes_reach_a_device_online_through_one(
    ns: list[str],
) -> None:
    device = "/_emulator/devices/quectel/PK0001/DK00001"
    created = calls.post(
        f"{ns[1]}{CREATE_BATCH}",
        json={"productKey": "PK0001", "devices": [{"deviceKey": "DK00001"}]},
        headers=QUECTEL_SAAS,
    ).json()
    assert len(created["data"]["successList"]) == 1, created
    assert calls.post(f"{ns[0]}{device}/online").status_code == 200
    per_client = 5

    def work(http: httpx.Client, n: int) -> list[str]:
        tickets = []
        for i in range(per_client):
            body = {"type": 2, "data": f'[{{"level":{n * 100 + i}}}]', "isCache": 2,
                    "deviceList": [{"productKey": "PK0001", "deviceKey": "DK00001"}]}  # fmt: skip
            answer = http.post(BATCH_CONTROL, json=body, headers=QUECTEL_USER).json()
            assert answer["code"] == 200, answer
            [success] = answer["data"]["successList"]
            tickets.append(success["ticket"])
        return tickets

    tickets = race(ns, work)
    assert len(tickets) == CLIENTS * per_client
    assert len(set(tickets)) == len(tickets), "no ticket handed out twice"
    for url in ns:
        inbox = calls.get(f"{url}{device}/commands").json()["commands"]
        assert sorted(c["ticket"] for c in inbox) == sorted(tickets)
        seqs = [c["seq"] for c in inbox]
        assert len(set(seqs)) == len(seqs), "each delivery has its own place in the inbox"
        listed = calls.get(f"{url}/_emulator/commands", params={"limit": 10_000}).json()
        assert listed["total"] == len(tickets)
    entries = journal(ns[1], "quectel.enduser.batch_control_device", len(tickets))
    assert len(entries) == len(tickets)


def test_a_fault_armed_through_one_process_fires_its_times_across_both(ns: list[str]) -> None:
    rule = {"operation": "enos.connect.create_device", "code": 11714, "times": 5}
    assert calls.post(f"{ns[0]}/_emulator/faults", json=rule).status_code == 201
    listed = calls.get(f"{ns[1]}/_emulator/faults").json()
    assert [r["code"] for r in listed["faults"]] == [11714]

    def work(http: httpx.Client, n: int) -> list[int]:
        codes = []
        for i in range(4):
            body = {"productKey": "Vu82Agp3", "timezone": "+08:00",
                    "deviceName": {"defaultValue": f"f{n}-{i}"}}  # fmt: skip
            codes.append(http.post(ENOS_CREATE, json=body, headers=ENOS_HEADERS).json()["code"])
        return codes

    codes = race(ns, work)
    assert Counter(codes) == {11714: 5, 0: CLIENTS * 4 - 5}
    assert calls.get(f"{ns[1]}/_emulator/faults").json()["faults"] == []
    created = journal(ns[0], "enos.connect.create_device", CLIENTS * 4)
    injected = [e for e in created if e["injected"]]
    assert len(injected) == 5


def test_the_clock_frozen_through_one_process_is_frozen_in_the_other(ns: list[str]) -> None:
    try:
        frozen = calls.post(f"{ns[0]}/_emulator/clock", json={"freeze": "2030-01-01T00:00:00Z"})
        assert frozen.status_code == 200
        seen = calls.get(f"{ns[1]}/_emulator/clock").json()
        assert seen["frozen"] is True
        assert seen["now"] == "2030-01-01T00:00:00.000Z"
        calls.post(f"{ns[1]}/_emulator/clock", json={"advance": 60})
        assert calls.get(f"{ns[0]}/_emulator/clock").json()["now"] == "2030-01-01T00:01:00.000Z"
    finally:
        calls.delete(f"{ns[0]}/_emulator/clock")
    assert calls.get(f"{ns[1]}/_emulator/clock").json()["frozen"] is False


def test_a_namespace_dropped_through_one_process_starts_afresh_in_the_other(
    two_processes: list[str],
) -> None:
    a, b = (f"{url}/ns/scale-dropped" for url in two_processes)
    racing_enos_creates([a, b], ["kept"])
    name = "scale-dropped"
    assert calls.delete(f"{two_processes[0]}/_emulator/namespaces/{name}").status_code == 200
    found = calls.get(f"{b}{ENOS_GET}&productKey=Vu82Agp3&deviceKey=kept", headers=ENOS_HEADERS)
    assert found.json()["code"] == 11404, "the other process serves the baseline again"
    sample = calls.get(f"{b}/_emulator/devices", params={"vendor": "enos"}).json()
    assert "kept" not in {d["deviceKey"] for d in sample["devices"]}


def test_two_workers_on_one_sqlite_file_behave_as_one_emulator(tmp_path: Path) -> None:
    url, process = serve(tmp_path, str(tmp_path / "state.db"), "--workers", "2")
    try:
        base = f"{url}/ns/workers"
        racing_enos_creates([base], [f"w{i:02d}" for i in range(8)])
        assert len(journal(base, "enos.connect.create_device", CLIENTS * 8)) == CLIENTS * 8
        rule = {"operation": "enos.connect.create_device", "code": 11714, "times": 3}
        assert calls.post(f"{base}/_emulator/faults", json=rule).status_code == 201

        def work(http: httpx.Client, n: int) -> list[int]:
            body = {"productKey": "Vu82Agp3", "timezone": "+08:00",
                    "deviceName": {"defaultValue": f"n{n}"}}  # fmt: skip
            return [http.post(ENOS_CREATE, json=body, headers=ENOS_HEADERS).json()["code"]]

        assert Counter(race([base], work)) == {11714: 3, 0: CLIENTS - 3}
        # A deviceKey fault fails that device of a batch, whichever worker serves it.
        device_rule = {"operation": "quectel.devicemgr.create_batch", "code": 50000,
                       "deviceKey": "wf1", "times": 1}  # fmt: skip
        assert calls.post(f"{base}/_emulator/faults", json=device_rule).status_code == 201
        batch = {"productKey": "PK0001", "devices": [{"deviceKey": "wf0"}, {"deviceKey": "wf1"}]}
        answer = calls.post(f"{base}{CREATE_BATCH}", json=batch, headers=QUECTEL_SAAS).json()
        assert [s["data"]["deviceKey"] for s in answer["data"]["successList"]] == ["wf0"]
        assert [f["data"]["deviceKey"] for f in answer["data"]["failureList"]] == ["wf1"]
        # Commands through both workers: each ticket once, each delivery its own inbox place.
        device = "/_emulator/devices/quectel/PK0001/wf0"
        assert calls.post(f"{base}{device}/online").status_code == 200

        def send(http: httpx.Client, n: int) -> list[str]:
            tickets = []
            for i in range(3):
                body = {"type": 2, "data": f'[{{"n":{n * 10 + i}}}]', "isCache": 2,
                        "deviceList": [{"productKey": "PK0001", "deviceKey": "wf0"}]}  # fmt: skip
                answer = http.post(BATCH_CONTROL, json=body, headers=QUECTEL_USER).json()
                tickets += [s["ticket"] for s in answer["data"]["successList"]]
            return tickets

        tickets = race([base], send)
        assert len(set(tickets)) == len(tickets) == CLIENTS * 3
        inbox = calls.get(f"{base}{device}/commands").json()["commands"]
        assert sorted(c["ticket"] for c in inbox) == sorted(tickets)
        assert len({c["seq"] for c in inbox}) == len(inbox)
    finally:
        stop(process)
