"""The access line and request metrics of every request, and its request id.

`Access` is the outermost middleware, so that what it logs and counts includes requests shed,
refused for their key or too large: a request id (the caller's `X-Request-ID` when it is a
short plain token, else a new one) goes into the request's state and back in the answer's
header; when the answer is sent, one JSON log line and the request metrics record it.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Iterable
from typing import Any

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from riskscore.service.auth import caller_of
from riskscore.service.logs import ACCESS, Proxies
from riskscore.service.metrics import Metrics

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
_log = logging.getLogger(ACCESS)


class Access:
    """Request id, one access log line and the request metrics of every HTTP request."""

    def __init__(
        self, app: ASGIApp, metrics: Metrics, proxies: Proxies, templates: Templates
    ) -> None:
        self.app, self.metrics, self.proxies, self.templates = app, metrics, proxies, templates

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        began = time.perf_counter()
        headers = dict(scope.get("headers", []))
        asked = headers.get(b"x-request-id", b"").decode("latin-1")
        request_id = asked if _REQUEST_ID.match(asked) else uuid.uuid4().hex
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        status = 500  # unless an answer starts: an error escaped to the server

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message).append("X-Request-ID", request_id)
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            seconds = time.perf_counter() - began
            route = self.templates.route_of(scope)
            self.metrics.requests.labels(route, scope["method"], str(status)).inc()
            self.metrics.latency.labels(route, str(status)).observe(seconds)
            peer = scope.get("client")
            forwarded = headers.get(b"x-forwarded-for", b"").decode("latin-1")
            client = self.proxies.client(peer[0] if peer else None, forwarded)
            fields = _fields(state, scope, route, status, seconds) | {"client": client}
            _log.info("request", extra=fields)


def _fields(
    state: dict[str, Any], scope: Scope, route: str, status: int, seconds: float
) -> dict[str, Any]:
    caller = caller_of(state)
    return {
        "request_id": state["request_id"],
        "caller": caller.name if caller else None,
        "key_id": caller.key_id if caller else None,
        "method": scope["method"],
        "route": route,
        "status": status,
        "latency_ms": round(seconds * 1_000, 3),
        "channel": state.get("channel"),
        "model_version": state.get("model_version"),
        "document_id": state.get("document_id"),
    }


class Templates:
    """The app's route templates, to name a request's route before (or without) routing."""

    def __init__(self, routes: Iterable[Any]) -> None:
        self._known = [(r.path_regex, r.path) for r in routes if hasattr(r, "path_regex")]

    def route_of(self, scope: Scope) -> str:
        """The template a request matches ("/v1/answers/{document_id}"), or "unmatched": a
        label of bounded cardinality, whatever path was asked."""
        route = scope.get("route")
        if route is not None and hasattr(route, "path"):
            return str(route.path)
        path = scope["path"]
        return next((template for regex, template in self._known if regex.match(path)),
                    "unmatched")  # fmt: skip
