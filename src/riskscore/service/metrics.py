"""Prometheus metrics of one serving process, and the /metrics answer of all of them.

With several workers (`riskscore serve --workers N`) every process writes its values to files
in PROMETHEUS_MULTIPROC_DIR and /metrics adds up what all of them wrote (prometheus-client's
multiprocess mode); with one process the values live in memory. The metrics are made when the
app is built, in a registry of its own: importing this module registers nothing.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import Response

_SECONDS = (0.001, 0.0025, 0.005, 0.0075, 0.01, 0.015, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
_STAGE_SECONDS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1)


def multiprocess_dir() -> str | None:
    """The folder of multiprocess mode, when the environment names one."""
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


class Metrics:
    """The service's metrics (names start with `riskscore_`)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter("riskscore_requests", "HTTP requests answered",
                                ["route", "method", "status"], registry=r)  # fmt: skip
        self.latency = Histogram("riskscore_request_seconds", "Time to answer a request",
                                 ["route", "status"], buckets=_SECONDS, registry=r)  # fmt: skip
        self.stages = Histogram("riskscore_stage_seconds", "Time of each scoring stage",
                                ["stage"], buckets=_STAGE_SECONDS, registry=r)  # fmt: skip
        self.channels = Counter("riskscore_documents", "Documents decided, by channel",
                                ["channel"], registry=r)  # fmt: skip
        self.drawn = Counter("riskscore_random_draws", "Documents sent red at random",
                             registry=r)  # fmt: skip
        self.shed = Counter("riskscore_shed_requests", "Requests refused with 503 when "
                            "too many were in flight", ["route"], registry=r)  # fmt: skip
        self.in_flight = Gauge("riskscore_in_flight", "Requests being worked on",
                               registry=r, multiprocess_mode="livesum")  # fmt: skip
        self.model = Gauge("riskscore_model_info", "The model served (1) and those it "
                           "replaced (0)", ["name", "version", "alias", "run_id", "fingerprint"],
                           registry=r, multiprocess_mode="liveall")  # fmt: skip
        self.reloads = Counter("riskscore_model_reloads", "Reload checks, by outcome",
                               ["outcome"], registry=r)  # fmt: skip
        self.degraded = Counter("riskscore_degraded_answers", "Answers on the rules alone "
                                "because the model or the state failed", ["cause"],
                                registry=r)  # fmt: skip
        self.shadow = Counter("riskscore_shadow_documents", "Documents the challenger scored "
                              "after the answer, by its channel and whether it agreed with the "
                              "champion's model", ["channel", "agrees"], registry=r)  # fmt: skip
        self.shadow_failed = Counter("riskscore_shadow_failures", "Shadow scorings that failed",
                                     registry=r)  # fmt: skip
        self._served: tuple[str, ...] | None = None

    def serving(self, identity: tuple[str, ...]) -> None:
        """Record that the process now serves the model of `identity`."""
        if self._served is not None:
            self.model.labels(*self._served).set(0)
        self.model.labels(*identity).set(1)
        self._served = identity

    def decided(self, channel: str, drawn: bool, stages: dict[str, float]) -> None:
        """Count a new decision and the time of its stages (milliseconds)."""
        self.channels.labels(channel).inc()
        if drawn:
            self.drawn.inc()
        for stage, ms in stages.items():
            self.stages.labels(stage).observe(ms / 1_000)

    def shadowed(self, channel: str, agrees: bool) -> None:
        """Count the challenger's decision on a document."""
        self.shadow.labels(channel, "yes" if agrees else "no").inc()

    def endpoint(
        self, sizes: Callable[[], dict[str, int]], every: float = 30.0
    ) -> Callable[[Request], Response]:
        """The /metrics handler: this process's (or, in multiprocess mode, every process's)
        metrics and the state's size, counted at most every `every` seconds."""
        exposed = self.registry
        if (folder := multiprocess_dir()) is not None:
            exposed = CollectorRegistry()
            multiprocess.MultiProcessCollector(exposed, path=folder)  # type: ignore[no-untyped-call]
        exposed.register(_StateSize(sizes, every))

        def metrics(request: Request) -> Response:
            return Response(generate_latest(exposed), media_type=CONTENT_TYPE_LATEST)

        return metrics


class _StateSize(Collector):
    """Rows in the state's tables, read when scraped (cached, since a count is a scan)."""

    def __init__(self, sizes: Callable[[], dict[str, int]], every: float) -> None:
        self._sizes, self._every = sizes, every
        self._last: tuple[float, dict[str, int]] | None = None

    def describe(self) -> Iterable[GaugeMetricFamily]:
        yield self._family()

    def _family(self) -> GaugeMetricFamily:
        return GaugeMetricFamily("riskscore_state_rows", "Rows in the online state",
                                 labels=["table"])  # fmt: skip

    def collect(self) -> Iterable[GaugeMetricFamily]:
        now = time.monotonic()
        if self._last is None or now - self._last[0] >= self._every:
            self._last = (now, self._sizes())
        family = self._family()
        for table, rows in self._last[1].items():
            family.add_metric([table], rows)
        yield family


def process_died(pid: int) -> None:
    """Drop a finished worker's live gauges (multiprocess mode)."""
    if (folder := multiprocess_dir()) is not None:
        multiprocess.mark_process_dead(pid, folder)  # type: ignore[no-untyped-call]
