"""The prometheus-client side of :mod:`emulator.core.metrics`: one app's registry, its request
counters and the state it reads at each scrape. Imported by the first request counted or the
first scrape, so an app that serves neither never loads prometheus-client."""

from __future__ import annotations

import os
import threading
from bisect import bisect_left
from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString
from sqlalchemy import func, select

from emulator import __version__
from emulator.core import journal, registry
from emulator.core.metrics import LATENCY_BUCKETS, MULTIPROC_ENV
from emulator.core.vendor import names as vendor_names

if TYPE_CHECKING:
    from emulator.core.context import Emulator


_LABELS = ("operation", "status", "code")
_REQUESTS = (
    "emulator_requests",
    "Vendor requests answered, by operation id, HTTP status and vendor code "
    "('' when the answer carries none).",
)
_LATENCY = (
    "emulator_request_duration_seconds",
    "Time to answer a vendor request, by operation id, HTTP status and vendor code.",
)

_Key = tuple[str, int, "int | None"]
# The histogram's ``le`` labels, written as prometheus-client writes them.
_BOUNDS = [floatToGoString(b) for b in LATENCY_BUCKETS] + ["+Inf"]  # type: ignore[no-untyped-call]


class Series:
    """One app's registry and request counters.

    In one process the requests are tallied in plain numbers (:class:`Tallies`) and turned
    into the counter and histogram at each scrape: counted into prometheus-client's own, a
    create spent about 9 us in process on it (a lock per value, the buckets searched in
    Python), tallied about 3. With ``--workers N`` its counter and histogram keep them, in
    the files every worker's scrape adds up."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self, emulator: Emulator) -> None:
        multiprocess = bool(os.environ.get(MULTIPROC_ENV))
        # In multiprocess mode the counters live in files, not in a registry.
        own = None if multiprocess else CollectorRegistry(auto_describe=True)
        self.injected = Counter(
            "emulator_injected_faults",
            "Vendor requests answered (or slowed) by an armed fault, by operation id.",
            ("operation",),
            registry=own,
        )
        self._requests: Tallies | Files
        if own is None:
            self._requests = Files()
            self.registry = CollectorRegistry(auto_describe=True)
            MultiProcessCollector(self.registry)  # type: ignore[no-untyped-call]
        else:
            self._requests = tallies = Tallies()
            self.registry = own
            self.registry.register(tallies)
        self.registry.register(StateCollector(emulator))

    def observe(self, entry: journal.Entry) -> None:
        key = (entry.operation, entry.status, entry.vendor_code)
        self._requests.add(key, entry.duration_ms / 1000)
        if entry.fault_id is not None:
            self.injected.labels(entry.operation).inc()

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


def _labels(key: _Key) -> tuple[str, str, str]:
    operation, status, code = key
    return operation, str(status), "" if code is None else str(code)


class Tallies(Collector):
    """Each label set's requests: how many, their total duration, and how many fell in each
    latency bucket, as the counter and histogram of a scrape."""

    def __init__(self) -> None:
        # Per label set: [count, seconds, one count per bucket of LATENCY_BUCKETS, over all].
        self._tallies: dict[_Key, list[float]] = {}
        self._lock = threading.Lock()  # sync handlers count from worker threads

    def add(self, key: _Key, seconds: float) -> None:
        bucket = bisect_left(LATENCY_BUCKETS, seconds) + 2  # a bound counts as its bucket
        with self._lock:
            tally = self._tallies.get(key)
            if tally is None:
                tally = self._tallies[key] = [0.0] * (len(LATENCY_BUCKETS) + 3)
            tally[0] += 1
            tally[1] += seconds
            tally[bucket] += 1

    def describe(self) -> list[Metric]:
        return [CounterMetricFamily(*_REQUESTS, labels=_LABELS),
                HistogramMetricFamily(*_LATENCY, labels=_LABELS)]  # fmt: skip

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            tallies = {key: list(tally) for key, tally in self._tallies.items()}
        requests = CounterMetricFamily(*_REQUESTS, labels=_LABELS)
        latency = HistogramMetricFamily(*_LATENCY, labels=_LABELS)
        for key, (count, seconds, *buckets) in sorted(
            tallies.items(), key=lambda item: _labels(item[0])
        ):
            labels = _labels(key)
            requests.add_metric(labels, count)
            cumulative, running = [], 0.0
            for bound, n in zip(_BOUNDS, buckets, strict=True):
                running += n
                cumulative.append((bound, running))
            latency.add_metric(labels, cumulative, seconds)
        yield requests
        yield latency


class Files:
    """With ``--workers N``: prometheus-client's counter and histogram, kept in the files of
    ``PROMETHEUS_MULTIPROC_DIR``."""

    def __init__(self) -> None:
        self.requests = Counter(*_REQUESTS, _LABELS, registry=None)
        self.latency = Histogram(*_LATENCY, _LABELS, buckets=LATENCY_BUCKETS, registry=None)
        self._series: dict[_Key, tuple[Counter, Histogram]] = {}

    def add(self, key: _Key, seconds: float) -> None:
        series = self._series.get(key)
        if series is None:
            # prometheus-client's labels() validates and locks on every call; a load test
            # sees a handful of label sets, so each is looked up once.
            labels = _labels(key)
            series = self._series[key] = (
                self.requests.labels(*labels),
                self.latency.labels(*labels),
            )
        series[0].inc()
        series[1].observe(seconds)


class StateCollector(Collector):
    """Gauges read from the database and the fault book at each scrape."""

    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator

    def describe(self) -> list[Metric]:
        # Known up front, so registering this collector runs no query.
        return []

    def collect(self) -> Iterator[Metric]:
        emulator = self.emulator
        info = GaugeMetricFamily(
            "emulator_build_info",
            "The emulator's version and auth mode.",
            labels=["version", "auth"],
        )
        info.add_metric([__version__, emulator.settings.auth], 1)
        yield info
        devices = GaugeMetricFamily(
            "emulator_devices", "Devices in the registry, by vendor.", labels=["vendor"]
        )
        online = GaugeMetricFamily(
            "emulator_devices_online", "Devices whose simulated twin is online, by vendor.",
            labels=["vendor"],
        )  # fmt: skip
        commands = GaugeMetricFamily(
            "emulator_commands", "Command tickets, by vendor and state.", labels=["vendor", "state"]
        )
        namespaces = GaugeMetricFamily("emulator_namespaces", "Namespaces holding state.")
        d, c = registry.devices, registry.commands
        with emulator.engine.connect() as conn:
            per_vendor = {name: [0, 0] for name in vendor_names()}
            rows = conn.execute(
                select(d.c.vendor, d.c.online, func.count()).group_by(d.c.vendor, d.c.online)
            )
            for vendor, is_online, count in rows:
                totals = per_vendor.setdefault(vendor, [0, 0])
                totals[0] += count
                if is_online:
                    totals[1] += count
            rows = conn.execute(
                select(c.c.vendor, c.c.state, func.count()).group_by(c.c.vendor, c.c.state)
            )
            for vendor, state, count in rows:
                commands.add_metric([vendor, state], count)
            names = [
                row[0] for row in conn.execute(select(registry.namespaces.c.name))
            ]  # fmt: skip
        for vendor, (total, up) in sorted(per_vendor.items()):
            devices.add_metric([vendor], total)
            online.add_metric([vendor], up)
        namespaces.add_metric([], len(names))
        yield devices
        yield online
        yield commands
        yield namespaces
        faults = GaugeMetricFamily(
            "emulator_faults_armed", "Armed fault rules, by operation id.", labels=["operation"]
        )
        now = emulator.clock.now_ms()
        armed: dict[str, int] = {}
        for name in names:
            for rule in emulator.faults.rules(name, now):
                armed[rule.operation] = armed.get(rule.operation, 0) + 1
        for operation, count in sorted(armed.items()):
            faults.add_metric([operation], count)
        yield faults
