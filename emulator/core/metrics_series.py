"""The prometheus-client side of :mod:`emulator.core.metrics`: one app's registry, its request
counters and the state it reads at each scrape. Imported by the first request counted or the
first scrape, so an app that serves neither never loads prometheus-client."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from emulator import __version__
from emulator.core import journal, registry
from emulator.core.metrics import LATENCY_BUCKETS, MULTIPROC_ENV
from emulator.core.vendor import names as vendor_names

if TYPE_CHECKING:
    from emulator.core.context import Emulator


_LABELS = ("operation", "status", "code")


class Series:
    """One app's registry and request counters."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self, emulator: Emulator) -> None:
        multiprocess = bool(os.environ.get(MULTIPROC_ENV))
        # In multiprocess mode the counters live in files, not in a registry.
        own = None if multiprocess else CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "emulator_requests",
            "Vendor requests answered, by operation id, HTTP status and vendor code "
            "('' when the answer carries none).",
            _LABELS,
            registry=own,
        )
        self.latency = Histogram(
            "emulator_request_duration_seconds",
            "Time to answer a vendor request, by operation id, HTTP status and vendor code.",
            _LABELS,
            buckets=LATENCY_BUCKETS,
            registry=own,
        )
        self.injected = Counter(
            "emulator_injected_faults",
            "Vendor requests answered (or slowed) by an armed fault, by operation id.",
            ("operation",),
            registry=own,
        )
        if own is None:
            self.registry = CollectorRegistry(auto_describe=True)
            MultiProcessCollector(self.registry)  # type: ignore[no-untyped-call]
        else:
            self.registry = own
        self.registry.register(StateCollector(emulator))
        self._series: dict[tuple[str, int, int | None], tuple[Counter, Histogram]] = {}

    def observe(self, entry: journal.Entry) -> None:
        key = (entry.operation, entry.status, entry.vendor_code)
        series = self._series.get(key)
        if series is None:
            # prometheus-client's labels() validates and locks on every call; a load test
            # sees a handful of label sets, so each is looked up once.
            code = "" if entry.vendor_code is None else str(entry.vendor_code)
            labels = (entry.operation, str(entry.status), code)
            series = self._series[key] = (
                self.requests.labels(*labels),
                self.latency.labels(*labels),
            )
        series[0].inc()
        series[1].observe(entry.duration_ms / 1000)
        if entry.fault_id is not None:
            self.injected.labels(entry.operation).inc()

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


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
