"""Errors as RFC 9457 problem details: every bad field with its path and why, never the input."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from riskscore.errors import RiskscoreError
from riskscore.service.scoring import UnknownDocumentError

PROBLEM = "application/problem+json"
log = logging.getLogger(__name__)


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
    assert isinstance(error, RequestValidationError)
    # Only where and why: pydantic's `input` and `ctx` would echo the document back.
    errors = [{"path": _path(tuple(e["loc"])), "reason": str(e["msg"])} for e in error.errors()]
    return problem(422, "Invalid request", f"{len(errors)} field(s) are invalid", errors)


async def _unknown_document(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, UnknownDocumentError)
    errors = [{"path": f"outcomes.{i}", "reason": "names a document line that was never scored"}
              for i in error.args[0]]  # fmt: skip
    return problem(422, "Unknown document line", "outcomes must follow scored documents", errors)


async def _domain(request: Request, error: Exception) -> JSONResponse:
    log.exception("request failed")
    return problem(500, "Scoring failed", type(error).__name__)


async def _http(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, StarletteHTTPException)
    return problem(error.status_code, str(error.detail), str(error.detail))


def install(app: FastAPI) -> None:
    """Map every error the app can meet to a problem-details answer."""
    app.add_exception_handler(RequestValidationError, _invalid)
    app.add_exception_handler(UnknownDocumentError, _unknown_document)
    app.add_exception_handler(RiskscoreError, _domain)
    app.add_exception_handler(Exception, _domain)
    app.add_exception_handler(StarletteHTTPException, _http)
