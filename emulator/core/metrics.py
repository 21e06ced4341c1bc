"""Prometheus metrics at ``GET /_emulator/metrics`` (text exposition format).

Counters come from the request journal: every recorded vendor request is counted and timed by
operation id, HTTP status and vendor code (an observer of the emulator's journal). State
gauges (devices per vendor, commands per state, armed faults, namespaces) are computed at
scrape time from the database and the fault book, so they are right whichever process wrote
the rows.

Each app has its own :class:`Metrics` and ``CollectorRegistry``, never the global one, so
several emulators can live in one process (the test suite does); each observes its own
emulator's journal. prometheus-client (and the HTTP servers it imports) loads with the first
request counted or the first scrape (:mod:`emulator.core.metrics_series`), not at start-up.

With ``--workers N`` the CLI sets ``PROMETHEUS_MULTIPROC_DIR`` before the workers start:
prometheus-client then keeps counters in files that every worker's scrape adds up.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from fastapi import APIRouter, FastAPI, Request, Response

from emulator.core import journal
from emulator.core.routing import include

if TYPE_CHECKING:
    from emulator.core.context import Emulator
    from emulator.core.metrics_series import Series

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
# Vendor requests are fast (a few ms); faults can add seconds of latency.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# prometheus_client.CONTENT_TYPE_LATEST, written here so declaring the route loads nothing
# (tests/test_metrics.py checks they agree).
CONTENT_TYPE = "text/plain; version=1.0.0; charset=utf-8"


class Metrics:
    """One app's metrics: request counters fed by the journal, state read at scrape time."""

    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator
        self._series: Series | None = None
        self._building = threading.Lock()

    @property
    def series(self) -> Series:
        """The registry and its counters, made at the first request counted or scrape."""
        series = self._series
        if series is None:
            with self._building:  # sync handlers observe from worker threads
                if self._series is None:
                    from emulator.core.metrics_series import Series

                    self._series = Series(self.emulator)
                series = self._series
        return series

    def observe(self, entry: journal.Entry) -> None:
        (self._series or self.series).observe(entry)

    def exposition(self) -> bytes:
        return self.series.exposition()


router = APIRouter(prefix="/_emulator", tags=["control plane"])


@router.get(
    "/metrics",
    operation_id="control.metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE: {}}}},
)
def metrics(request: Request) -> Response:
    """Prometheus metrics (text format): requests and latency per operation id and code,
    devices per vendor, commands per state, armed faults."""
    # A plain def: FastAPI runs it in a thread, so counting a large registry never blocks
    # the event loop.
    app_metrics: Metrics = request.app.state.metrics
    return Response(app_metrics.exposition(), media_type=app_metrics.series.content_type)


def install(app: FastAPI, emulator: Emulator) -> Metrics:
    """Give ``app`` its metrics and the scrape route; count what its journal records."""
    app_metrics = Metrics(emulator)
    app.state.metrics = app_metrics
    include(app, router)
    emulator.journal.observers.append(app_metrics.observe)
    return app_metrics
