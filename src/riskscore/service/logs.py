"""JSON logs, one object a line, and the client address a request really came from.

`JsonFormatter` writes the standard library's records as JSON with their extra fields;
`configure` puts it on riskscore's and uvicorn's loggers (the service logs its own access
lines, so uvicorn's are off). A log line names the request, the caller's key id, the route,
status, latency, channel and model version: never a document's content.
"""

from __future__ import annotations

import ipaddress
import json
import logging
from datetime import UTC, datetime
from typing import Any

ACCESS = "riskscore.access"
# Fields a record may carry to the JSON line (passed as `extra=`).
FIELDS = ("request_id", "caller", "key_id", "client", "method", "route", "status",
          "latency_ms", "channel", "model_version", "document_id")  # fmt: skip


class JsonFormatter(logging.Formatter):
    """A log record as one JSON object: time, level, logger, message and its known extras."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in FIELDS:
            value = record.__dict__.get(name)
            if value is not None:
                line[name] = value
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def configure(level: int = logging.INFO) -> dict[str, Any]:
    """The logging config (`logging.config.dictConfig` form) that `riskscore serve` hands
    uvicorn, so that every worker process logs JSON lines to stderr."""
    handler = {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}
    logger = {"handlers": ["json"], "level": level, "propagate": False}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": f"{__name__}.JsonFormatter"}},
        "handlers": {"json": handler},
        "loggers": {
            "riskscore": logger,
            "uvicorn": logger,
            "uvicorn.error": logger,
            "uvicorn.access": logger | {"level": logging.WARNING},
        },
    }


class Proxies:
    """Which peers' X-Forwarded-For to believe: only the configured proxies'."""

    def __init__(self, trusted: list[str]) -> None:
        self._networks = [ipaddress.ip_network(t, strict=False) for t in trusted]

    def client(self, peer: str | None, forwarded: str) -> str | None:
        """The client's address: the peer's own, unless the peer is a trusted proxy; then
        the right-most address of X-Forwarded-For that is not a trusted proxy."""
        if peer is None or not forwarded or not self._trusted(peer):
            return peer
        for hop in reversed([h.strip() for h in forwarded.split(",")]):
            if not self._trusted(hop):
                return hop if _address(hop) else peer
        return peer

    def _trusted(self, address: str) -> bool:
        ip = _address(address)
        return ip is not None and any(ip in network for network in self._networks)


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None
