"""Load shedding: a bounded number of requests in flight per process, the rest refused at once.

Scoring is CPU work on one event loop, so a process that takes more requests than it can
finish only makes every one of them late. Beyond `most` requests in flight a request gets an
immediate 503 with `Retry-After`, before its body is read, and is counted; a caller (or the
load balancer) retries elsewhere or later (docs/decisions.md, "Load shedding"). The health
and metrics routes are never shed: they must answer while the process is overloaded.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from riskscore.service.access import Templates
from riskscore.service.metrics import Metrics
from riskscore.service.problems import problem

NEVER_SHED = frozenset({"/livez", "/readyz", "/metrics"})


class Shedding:
    """503 with Retry-After for a request that finds `most` others in flight."""

    def __init__(
        self, app: ASGIApp, most: int, retry_after: int, metrics: Metrics, templates: Templates
    ) -> None:
        self.app, self.most, self.retry_after = app, most, retry_after
        self.metrics, self.templates = metrics, templates
        self.in_flight = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in NEVER_SHED:
            await self.app(scope, receive, send)
            return
        if self.in_flight >= self.most:
            self.metrics.shed.labels(self.templates.route_of(scope)).inc()
            response = problem(503, "Overloaded", f"{self.most} requests are in flight; retry "
                               f"after {self.retry_after} s")  # fmt: skip
            response.headers["Retry-After"] = str(self.retry_after)
            await response(scope, receive, send)
            return
        self.in_flight += 1
        self.metrics.in_flight.inc()
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1
            self.metrics.in_flight.dec()
