"""Errors as RFC 9457 problem details: every bad field with its path and why, never the input.

Every domain error (`riskscore.errors`) has its status here, in `STATUS`: a bad request is a
4xx, a store or registry that does not answer a 503, anything unexpected a 500 that names
only the kind of error.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from riskscore.errors import (
    ConfigError,
    DatasetError,
    DocumentConflictError,
    FieldsError,
    InvalidOutcomeError,
    ModelMismatchError,
    RegistryError,
    RiskscoreError,
    StateError,
    UnknownDocumentError,
)

PROBLEM = "application/problem+json"
log = logging.getLogger(__name__)

# Domain error -> (status, title). The most specific class listed wins.
STATUS: dict[type[RiskscoreError], tuple[int, str]] = {
    UnknownDocumentError: (422, "Unknown document line"),
    InvalidOutcomeError: (422, "Invalid outcome"),
    DocumentConflictError: (409, "Document id already used"),
    FieldsError: (422, "Invalid request"),
    DatasetError: (422, "Invalid data"),
    StateError: (503, "Online state unavailable"),
    RegistryError: (503, "Model registry unavailable"),
    ModelMismatchError: (500, "Model does not match the service"),
    ConfigError: (500, "Service misconfigured"),
    RiskscoreError: (500, "Scoring failed"),
}


def problem(
    status: int, title: str, detail: str, errors: list[dict[str, str]] | None = None
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": title,
        "status": status,
        "detail": detail,
    }
    if errors is not None:
        body["errors"] = errors
    return JSONResponse(body, status_code=status, media_type=PROBLEM)


def _path(location: tuple[Any, ...]) -> str:
    parts = [str(p) for p in location if p != "body"]
    return ".".join(parts) or "body"


async def _invalid(request: Request, error: Exception) -> JSONResponse:
    if not isinstance(error, RequestValidationError):
        return await _unexpected(request, error)
    # Only where and why: pydantic's `input` and `ctx` would echo the document back.
    errors = [{"path": _path(tuple(e["loc"])), "reason": str(e["msg"])} for e in error.errors()]
    return problem(422, "Invalid request", f"{len(errors)} field(s) are invalid", errors)


async def _domain(request: Request, error: Exception) -> JSONResponse:
    kind = next((k for k in type(error).__mro__ if k in STATUS), RiskscoreError)
    status, title = STATUS[kind]
    if isinstance(error, UnknownDocumentError):
        errors = [{"path": f"outcomes.{i}", "reason": "names a document line that was never scored"}
                  for i in error.rows]  # fmt: skip
        return problem(status, title, "outcomes must follow scored documents", errors)
    if isinstance(error, InvalidOutcomeError):
        errors = [{"path": f"outcomes.{i}.{field}", "reason": reason}
                  for i, field, reason in error.problems]  # fmt: skip
        return problem(status, title, "nothing of the batch was stored", errors)
    if isinstance(error, FieldsError):
        errors = [{"path": path, "reason": reason} for path, reason in error.fields]
        return problem(status, title, f"{len(errors)} field(s) are invalid", errors)
    if status >= 500:
        log.error("request failed: %s", error)
    # The message is ours (it names fields and reasons, never the caller's values).
    return problem(status, title, str(error) if status < 500 else type(error).__name__)


async def _unexpected(request: Request, error: Exception) -> JSONResponse:
    log.exception("request failed")
    return problem(500, "Scoring failed", type(error).__name__)


async def _http(request: Request, error: Exception) -> JSONResponse:
    if not isinstance(error, StarletteHTTPException):
        return await _unexpected(request, error)
    return problem(error.status_code, str(error.detail), str(error.detail))


def install(app: FastAPI) -> None:
    """Map every error the app can meet to a problem-details answer."""
    app.add_exception_handler(RequestValidationError, _invalid)
    app.add_exception_handler(RiskscoreError, _domain)
    app.add_exception_handler(Exception, _unexpected)
    app.add_exception_handler(StarletteHTTPException, _http)
