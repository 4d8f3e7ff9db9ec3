"""The OpenAPI document against the service, fuzzed by schemathesis: every built-in check,
a bounded and seeded number of cases per operation, with a key that has every role.

A schema-valid request may still be refused with 422 by a rule JSON Schema cannot state;
`CROSS_FIELD` lists each, with its reason. Only a 422 whose every error is one of them is
exempt from `positive_data_acceptance`; every other check still runs on it.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from riskscore.config import Settings
from riskscore.model import RiskModel
from riskscore.service import create_app
from riskscore.service.auth import Role
from riskscore.store import SqliteStore

from .conftest import bearer

# Reason (as the problem names it) -> why JSON Schema cannot say it.
CROSS_FIELD = {
    "gross_mass_kg is below net_mass_kg": "compares two numbers of one item",
    "linked_item_no is given without linked_document_id": "a non-null value that needs another "
    "non-null value (dependentRequired checks presence, and both may be present as null)",
    "supplementary_qty and supplementary_unit go together": "both null or both non-null, "
    "whatever is present",
    "cannot carry flow": "which flows a doc_type allows (an if/then per value that neither "
    "pydantic writes nor the generator reads)",
    "procedure_code must be": "which procedure codes a DT of each flow allows, as above",
    "procedure_code must be empty": "the same rule for ESF and SNT",
    "issued_at must lie between 1991 and 2100": "a range of date-times (JSON Schema compares "
    "numbers only)",
    "item_no values repeat": "uniqueness of one property across items (uniqueItems compares "
    "whole items)",
    "recorded_at is before inspected_at": "compares two date-times",
    "finding is given without violation_found": "a field's nullness tied to another's value",
    "is in the future": "compares a date-time with the clock at the time of the request",
    "is before the document was issued": "compares with stored data: the document's issue time",
    "not an extra of this model": "which extras a request may carry is the served model's "
    "choice (its training data's extra columns), not the API's",
    "(a numeric extra)": "the same: the served model's kind of each extra",
    "(a categorical extra)": "the same",
    "names a document line that was never scored": "not a cross-field rule but a reference to "
    "stored data: an outcome must name a scored line, which no schema can know",
}


class _Forward:
    """The ASGI app schemathesis calls: its own lifespan does nothing, and HTTP requests go to
    `target`, the served app (set by the `served` fixture, which runs its lifespan)."""

    def __init__(self) -> None:
        self.target: Any = create_app(Settings(random_share=0.0))  # serves /openapi.json

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        await self.target(scope, receive, send)


FORWARD = _Forward()
schema = schemathesis.openapi.from_asgi("/openapi.json", FORWARD)


@pytest.fixture(scope="module")
def key(
    warm_state: Path, model: RiskModel, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, str]]:
    """The served app (over one copy of the warm state for every case) behind FORWARD, and a
    key with every role."""
    folder = tmp_path_factory.mktemp("schemathesis")
    shutil.copy(warm_state, folder / "state.db")
    store = SqliteStore(folder / "state.db")
    settings = Settings(data_dir=folder, models_dir=folder / "models", random_share=0.0)
    app = create_app(settings, model=model, store=store)
    with TestClient(app):
        FORWARD.target = app
        yield bearer(store, "schemathesis", *Role)
    store.close()


def _cross_field_only(response: Any) -> bool:
    """A 422 whose every error is a rule of CROSS_FIELD."""
    if response.status_code != 422:
        return False
    errors = response.json().get("errors") or []
    return bool(errors) and all(
        any(rule in error["reason"] for rule in CROSS_FIELD) for error in errors
    )


@schema.parametrize()
@settings(max_examples=25, derandomize=True, deadline=None, database=None,
          suppress_health_check=list(HealthCheck))  # fmt: skip
def test_the_service_keeps_its_contract(case: Any, key: dict[str, str]) -> None:
    response = case.call(headers=key)
    excluded = [positive_data_acceptance] if _cross_field_only(response) else []
    case.validate_response(response, headers=key, excluded_checks=excluded)
