"""Errors as RFC 9457 problem details: every bad field with its path and why, never the input.

Every domain error (`riskscore.errors`) has its status here, in `STATUS`: a bad request is a
4xx, a store or registry that does not answer a 503, anything unexpected a 500 that names
only the kind of error. `responses` declares them in the OpenAPI document with the
`Problem` schema, so the contract shows what the service really sends.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from riskscore.errors import (
    AuthenticationError,
    ConfigError,
    ConflictError,
    DatasetError,
    DocumentConflictError,
    FieldsError,
    InvalidOutcomeError,
    ModelMismatchError,
    NotFoundError,
    OutcomeConflictError,
    PermissionDeniedError,
    RegistryError,
    RiskscoreError,
    StateError,
    UnknownDocumentError,
)

PROBLEM = "application/problem+json"
log = logging.getLogger(__name__)
_MOST_ERRORS = 50  # fields listed in one answer; the detail counts them all
_PART = 64  # characters of a path part shown (a 900 KB unknown key is not sent back)

# Domain error -> (status, title). The most specific class listed wins.
STATUS: dict[type[RiskscoreError], tuple[int, str]] = {
    UnknownDocumentError: (422, "Unknown document line"),
    InvalidOutcomeError: (422, "Invalid outcome"),
    DocumentConflictError: (409, "Document id already used"),
    OutcomeConflictError: (409, "Outcome already recorded"),
    FieldsError: (422, "Invalid request"),
    DatasetError: (422, "Invalid data"),
    AuthenticationError: (401, "Unauthorized"),
    PermissionDeniedError: (403, "Forbidden"),
    NotFoundError: (404, "Not found"),
    ConflictError: (409, "Conflict"),
    StateError: (503, "Online state unavailable"),
    RegistryError: (503, "Model registry unavailable"),
    ModelMismatchError: (500, "Model does not match the service"),
    ConfigError: (500, "Service misconfigured"),
    RiskscoreError: (500, "Scoring failed"),
}


class FieldError(BaseModel):
    """One bad field: where it is and why; never its value."""

    path: str = Field(description="dotted path of the field in the body", examples=["items.0"])
    reason: str = Field(description="why it is refused",
                        examples=["gross_mass_kg is below net_mass_kg"])  # fmt: skip


class Problem(BaseModel):
    """An RFC 9457 problem: what went wrong, never the request echoed back."""

    type: str = Field("about:blank", description="always about:blank: the status says it all",
                      examples=["about:blank"])  # fmt: skip
    title: str = Field(description="the status in words", examples=["Invalid request"])
    status: int = Field(description="the HTTP status", examples=[422])
    detail: str = Field(description="what to do about it", examples=["2 field(s) are invalid"])
    errors: list[FieldError] | None = Field(
        None, description=f"each bad field (the first {_MOST_ERRORS}); only for 400 and 422"
    )


_MEANING = {
    400: "The body is not JSON.",
    401: "No valid API key (`Authorization: Bearer KEY`).",
    403: "The key lacks the role this operation needs.",
    404: "No such resource, or not the caller's to see.",
    405: "The method is not allowed here; the `Allow` header lists those that are.",
    409: "The request conflicts with what is stored (a document_id answered for a document "
    "of other content) or with what the service is doing (a reload running already).",
    413: "The body is over the size limit.",
    422: "A field is invalid: each is named with the reason, never with its value.",
    503: "Shed (too many requests in flight; retry after `Retry-After` seconds), or a store "
    "or registry that does not answer.",
}


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI declarations of error statuses with the problem-details schema."""
    out: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        declared: dict[str, Any] = {"model": Problem, "description": _MEANING[status],
                                    "content": {PROBLEM: {"schema": _REF}}}  # fmt: skip
        headers = {405: {"Allow": "the methods allowed"},
                   503: {"Retry-After": "seconds to wait (when shed)"},
                   401: {"WWW-Authenticate": "Bearer"}}.get(status, {})  # fmt: skip
        if headers:
            declared["headers"] = {name: {"description": text, "schema": {"type": "string"}}
                                   for name, text in headers.items()}  # fmt: skip
        out[status] = declared
    return out


_REF = {"$ref": "#/components/schemas/Problem"}


def body(
    status: int, title: str, detail: str, errors: list[dict[str, str]] | None = None
) -> dict[str, Any]:
    """A problem-details body (the first 50 field errors of `errors`)."""
    found: dict[str, Any] = {"type": "about:blank", "title": title, "status": status,
                             "detail": detail}  # fmt: skip
    if errors is not None:
        found["errors"] = errors[:_MOST_ERRORS]
    return found


def problem(
    status: int, title: str, detail: str, errors: list[dict[str, str]] | None = None
) -> JSONResponse:
    return JSONResponse(body(status, title, detail, errors), status_code=status,
                        media_type=PROBLEM)  # fmt: skip


def invalid(errors: list[Any]) -> dict[str, Any]:
    """The 422 body of pydantic's errors: only where and why, since pydantic's `input` and
    `ctx` would echo the document back."""
    listed = [{"path": path_of(tuple(e["loc"])), "reason": str(e["msg"])} for e in errors]
    return body(422, "Invalid request", f"{len(listed)} field(s) are invalid", listed)


def of_error(error: RiskscoreError) -> dict[str, Any]:
    """The problem-details body of a domain error."""
    kind = next((k for k in type(error).__mro__ if k in STATUS), RiskscoreError)
    status, title = STATUS[kind]
    if isinstance(error, UnknownDocumentError):
        errors = [{"path": f"outcomes.{i}", "reason": "names a document line that was never scored"}
                  for i in error.rows]  # fmt: skip
        return body(status, title, "outcomes must follow scored documents", errors)
    if isinstance(error, InvalidOutcomeError):
        errors = [{"path": f"outcomes.{i}.{field}", "reason": reason}
                  for i, field, reason in error.problems]  # fmt: skip
        return body(status, title, "nothing of the batch was stored", errors)
    if isinstance(error, FieldsError):
        errors = [{"path": path, "reason": reason} for path, reason in error.fields]
        return body(status, title, f"{len(errors)} field(s) are invalid", errors)
    if status >= 500:
        log.error("request failed: %s", error)
    # The message is ours (it names fields and reasons, never the caller's values).
    return body(status, title, str(error) if status < 500 else type(error).__name__)


def path_of(location: tuple[Any, ...]) -> str:
    """A field's dotted path, each part cut to 64 characters (a key is named, never echoed
    at length).

    >>> path_of(("body", "items", 0, "x" * 100))
    'items.0.xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx... (100 characters)'
    """
    parts = [_short(str(p)) for p in location if p != "body"]
    return ".".join(parts) or "body"


def _short(part: str) -> str:
    return part if len(part) <= _PART else f"{part[:_PART]}... ({len(part):,} characters)"


async def _invalid(request: Request, error: Exception) -> JSONResponse:
    if not isinstance(error, RequestValidationError):
        return await _unexpected(request, error)
    found = error.errors()
    if any(e["type"] == "json_invalid" for e in found):
        return problem(400, "Malformed JSON", "the body is not valid JSON")
    return JSONResponse(invalid(list(found)), status_code=422, media_type=PROBLEM)


async def _domain(request: Request, error: Exception) -> JSONResponse:
    if not isinstance(error, RiskscoreError):
        return await _unexpected(request, error)
    found = of_error(error)
    status = found["status"]
    response = JSONResponse(found, status_code=status, media_type=PROBLEM)
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="riskscore"'
    return response


async def _unexpected(request: Request, error: Exception) -> JSONResponse:
    log.exception("request failed")
    return problem(500, "Scoring failed", type(error).__name__)


async def _http(request: Request, error: Exception) -> JSONResponse:
    if not isinstance(error, StarletteHTTPException):
        return await _unexpected(request, error)
    response = problem(error.status_code, str(error.detail), str(error.detail))
    response.headers.update(error.headers or {})  # `Allow` of a 405
    return response


def tidy(schema: dict[str, Any]) -> dict[str, Any]:
    """The OpenAPI document with errors declared as `application/problem+json` only (FastAPI
    also lists `application/json` for a response `model`, which the service never sends)."""
    for path in schema.get("paths", {}).values():
        for operation in path.values():
            for status, declared in operation.get("responses", {}).items():
                content = declared.get("content", {})
                if status[0] in "45" and PROBLEM in content:
                    content.pop("application/json", None)
    return schema


def install(app: FastAPI) -> None:
    """Map every error the app can meet to a problem-details answer."""
    app.add_exception_handler(RequestValidationError, _invalid)
    app.add_exception_handler(RiskscoreError, _domain)
    app.add_exception_handler(Exception, _unexpected)
    app.add_exception_handler(StarletteHTTPException, _http)
