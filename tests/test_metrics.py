"""Prometheus metrics at /_emulator/metrics: the text parses, and the counters move.

Counters and gauges are emulator-wide (every namespace adds up), so each test compares a
scrape taken after its requests with one taken before.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import insert

from emulator.app import create_app
from emulator.config import Settings
from emulator.core import metrics, registry
from emulator.testing import free_port
from tests import calls
from tests.conftest import Client, Emulators
from tests.processes import wait_healthy

CREATE = "/connect-service/v2.1/devices?action=create&orgId=o15475450989191"
HEADERS = {"apim-accesstoken": "any-well-formed-token"}
DEVICE = {"productKey": "Vu82Agp3", "timezone": "+08:00", "deviceName": {"defaultValue": "m"}}
OPERATION = "enos.connect.create_device"

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(client: Client | httpx.Client, url: str = "/_emulator/metrics") -> Samples:
    response = client.get(url)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    samples: Samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def test_scrape_parses_and_counts_requests_by_operation_status_and_code(client: Client) -> None:
    before = scrape(client)

    assert client.post(CREATE, json=DEVICE, headers=HEADERS).json()["code"] == 0
    assert client.post(CREATE, json={}, headers=HEADERS).json()["code"] == 99400
    assert client.post(CREATE, json={}, headers=HEADERS).json()["code"] == 99400
    after = scrape(client)

    ok = {"operation": OPERATION, "status": "200", "code": "0"}
    bad = {"operation": OPERATION, "status": "200", "code": "99400"}
    assert (
        value(after, "emulator_requests_total", **ok)
        - value(before, "emulator_requests_total", **ok)
        == 1
    )
    assert (
        value(after, "emulator_requests_total", **bad)
        - value(before, "emulator_requests_total", **bad)
        == 2
    )
    count = "emulator_request_duration_seconds_count"
    assert value(after, count, **bad) - value(before, count, **bad) == 2
    inf = {**bad, "le": "+Inf"}
    assert value(after, "emulator_request_duration_seconds_bucket", **inf) == value(
        after, count, **bad
    )


def test_devices_gauge_counts_devices_per_vendor(client: Client) -> None:
    before = scrape(client)

    client.post(CREATE, json=DEVICE, headers=HEADERS)
    after = scrape(client)

    assert (
        value(after, "emulator_devices", vendor="enos")
        - value(before, "emulator_devices", vendor="enos")
        == 1
    )
    assert ("emulator_devices", frozenset({("vendor", "mcs")})) in after
    assert ("emulator_devices", frozenset({("vendor", "quectel")})) in after


def test_online_gauge_follows_the_control_plane(client: Client) -> None:
    data = client.post(CREATE, json=DEVICE, headers=HEADERS).json()["data"]
    before = scrape(client)

    path = f"/_emulator/devices/enos/{data['productKey']}/{data['deviceKey']}/online"
    assert client.post(path).status_code == 200
    after = scrape(client)

    online = "emulator_devices_online"
    assert value(after, online, vendor="enos") - value(before, online, vendor="enos") == 1


def test_commands_gauge_counts_commands_per_state(
    client: Client, emulators: Emulators, namespace: str
) -> None:
    before = scrape(client)
    app, _ = emulators.get()
    with app.state.emulator.engine.begin() as conn:
        conn.execute(
            insert(registry.commands),
            [
                {"namespace": namespace, "ticket": f"{namespace}-{i}", "vendor": "quectel",
                 "product_key": "PK0001", "device_key": "DK00001", "state": state,
                 "payload": {}, "history": []}
                for i, state in enumerate(["metricsA", "metricsA", "metricsB"])
            ],
        )  # fmt: skip

    after = scrape(client)

    def moved(state: str) -> float:
        labels = {"vendor": "quectel", "state": state}
        return value(after, "emulator_commands", **labels) - value(
            before, "emulator_commands", **labels
        )

    assert (moved("metricsA"), moved("metricsB")) == (2, 1)


def test_armed_faults_and_injected_answers_are_counted(
    client: Client, emulators: Emulators, namespace: str
) -> None:
    app, _ = emulators.get()
    emulator = app.state.emulator
    # The control plane arms faults in a namespace it has opened (as any request does).
    emulator.namespaces.ensure(namespace)
    before = scrape(client)

    emulator.faults.arm(namespace, operation=OPERATION, code=11714, times=1, now_ms=0)
    armed = scrape(client)
    answer = client.post(CREATE, json=DEVICE, headers=HEADERS).json()
    after = scrape(client)

    assert answer["code"] == 11714
    gauge = "emulator_faults_armed"
    assert value(armed, gauge, operation=OPERATION) - value(before, gauge, operation=OPERATION) == 1
    assert value(after, gauge, operation=OPERATION) == value(before, gauge, operation=OPERATION)
    injected = "emulator_injected_faults_total"
    assert (
        value(after, injected, operation=OPERATION) - value(before, injected, operation=OPERATION)
        == 1
    )
    code = {"operation": OPERATION, "status": "200", "code": "11714"}
    assert (
        value(after, "emulator_requests_total", **code)
        - value(before, "emulator_requests_total", **code)
        == 1
    )


def test_the_declared_media_type_is_the_one_served(client: Client) -> None:
    # The route declares it without loading prometheus-client (core/metrics.py).
    assert metrics.CONTENT_TYPE == CONTENT_TYPE_LATEST
    assert client.get("/_emulator/metrics").headers["content-type"] == CONTENT_TYPE_LATEST
    route = client.get("/openapi.json").json()["paths"]["/_emulator/metrics"]["get"]
    assert list(route["responses"]["200"]["content"]) == [CONTENT_TYPE_LATEST]


def test_each_app_counts_only_its_own_requests() -> None:
    first = TestClient(create_app(Settings(db=":memory:", seed=1)))
    second = TestClient(create_app(Settings(db=":memory:", seed=1)))

    first.post(CREATE, json=DEVICE, headers=HEADERS)
    first.post(CREATE, json=DEVICE, headers=HEADERS)
    second.post(CREATE, json=DEVICE, headers=HEADERS)

    ok = {"operation": OPERATION, "status": "200", "code": "0"}
    assert value(scrape(first), "emulator_requests_total", **ok) == 2
    assert value(scrape(second), "emulator_requests_total", **ok) == 1


@pytest.fixture
def two_workers(tmp_path: Path) -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "emulator", "serve", "--workers", "2", "--no-access-log"],
        cwd=tmp_path,
        env={
            **os.environ,
            "EMULATOR_PORT": str(port),
            "EMULATOR_DB": str(tmp_path / "workers.db"),
            "EMULATOR_MQTT_PORT": str(free_port()),
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, process)
        yield url
    finally:
        process.terminate()
        process.communicate(timeout=30)


def test_with_workers_every_scrape_adds_up_all_workers(two_workers: str) -> None:
    sent = 12
    # A new connection per request, so the kernel spreads them over both workers.
    for _ in range(sent):
        calls.post(f"{two_workers}{CREATE}", json=DEVICE, headers=HEADERS)

    ok = {"operation": OPERATION, "status": "200", "code": "0"}
    with httpx.Client(base_url=two_workers) as http:
        totals = {value(scrape(http), "emulator_requests_total", **ok) for _ in range(4)}

    assert totals == {sent}


def test_tallied_requests_read_as_prometheus_clients_own_counter_and_histogram() -> None:
    # One process tallies requests in plain numbers (core/metrics_series.py); its scrape must
    # read as prometheus-client's Counter and Histogram given the same requests would.
    from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

    from emulator.core.metrics_series import _LABELS, _LATENCY, _REQUESTS, Tallies

    seconds = [0.0, 0.0004, 0.001, 0.0025, 0.003, 0.01, 0.7, 10.0, 12.5, *metrics.LATENCY_BUCKETS]
    keys = [("op.a", 200, 0), ("op.a", 200, None), ("op.b", 400, 99400)]
    tallies = Tallies()
    own = CollectorRegistry()
    own.register(tallies)
    theirs = CollectorRegistry()
    counter = Counter(*_REQUESTS, _LABELS, registry=theirs)
    histogram = Histogram(*_LATENCY, _LABELS, buckets=metrics.LATENCY_BUCKETS, registry=theirs)
    for n, value_s in enumerate(seconds):
        operation, status, code = keys[n % len(keys)]
        tallies.add((operation, status, code), value_s)
        labels = (operation, str(status), "" if code is None else str(code))
        counter.labels(*labels).inc()
        histogram.labels(*labels).observe(value_s)

    def samples(registry: CollectorRegistry) -> Samples:
        text = generate_latest(registry).decode()
        return {
            (s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text)
            for s in family.samples
            if not s.name.endswith("_created")
        }

    def described(registry: CollectorRegistry) -> set[str]:
        """The HELP and TYPE lines."""
        return {line for line in generate_latest(registry).decode().splitlines()
                if line.startswith("#") and "_created" not in line}  # fmt: skip

    expected = samples(theirs)
    assert len(expected) == len(keys) * (1 + len(metrics.LATENCY_BUCKETS) + 1 + 2)
    assert samples(own) == pytest.approx(expected)
    assert described(own) == described(theirs)
