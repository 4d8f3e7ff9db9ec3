"""What the API does to the state: idempotent documents and outcomes, outcomes that cannot be
true refused, and a register kept current while serving."""

from __future__ import annotations

import copy
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from riskscore.config import Settings
from riskscore.data import World
from riskscore.errors import ConfigError
from riskscore.features import FEATURE_NAMES
from riskscore.model import RiskModel
from riskscore.service.runtime import ModelRuntime
from riskscore.service.scoring import Scorer
from riskscore.store import Store

from .conftest import CUT, as_request


@pytest.fixture
def good(world: World) -> dict[str, Any]:
    d = world.documents
    first = d.loc[d["issued_at"] >= CUT, "document_id"].iloc[0]
    return as_request(d[d["document_id"] == first])


def _outcome(body: dict[str, Any], **changes: object) -> dict[str, Any]:
    issued = datetime.fromisoformat(body["issued_at"])
    outcome = {"document_id": body["document_id"], "item_no": body["items"][0]["item_no"],
               "selected_by": "rule", "inspected_at": (issued + timedelta(days=1)).isoformat(),
               "recorded_at": (issued + timedelta(days=5)).isoformat(),
               "violation_found": True, "finding": "layered_resale"}  # fmt: skip
    return outcome | changes


def test_the_same_id_with_other_content_is_a_conflict_and_changes_nothing(
    client: TestClient, store: Store, good: dict[str, Any]
) -> None:
    first = client.post("/v1/score", json=good)
    assert first.status_code == 200
    reordered = dict(reversed(list(good.items())))  # the same content, keys in another order
    assert client.post("/v1/score", json=reordered).json() == first.json()
    changed = copy.deepcopy(good)
    changed["items"][0]["value_usd"] += 1.0
    lines = store.count("lines")
    conflict = client.post("/v1/score", json=changed)
    assert conflict.status_code == 409
    assert conflict.headers["content-type"] == "application/problem+json"
    assert store.count("lines") == lines
    assert client.post("/v1/score", json=good).json() == first.json()


def test_an_outcome_sent_twice_counts_once_and_a_changed_one_conflicts(
    client: TestClient, store: Store, good: dict[str, Any]
) -> None:
    client.post("/v1/score", json=good)
    before = store.count("outcomes")
    outcome = _outcome(good)
    assert client.post("/v1/outcomes", json={"outcomes": [outcome]}).status_code == 200
    assert client.post("/v1/outcomes", json={"outcomes": [outcome]}).status_code == 200
    assert store.count("outcomes") == before + 1
    changed = outcome | {"violation_found": False, "finding": None}
    assert client.post("/v1/outcomes", json={"outcomes": [changed]}).status_code == 409
    assert store.count("outcomes") == before + 1


def test_outcomes_of_one_batch_may_carry_different_offsets(
    client: TestClient, store: Store, good: dict[str, Any]
) -> None:
    client.post("/v1/score", json=good)
    before = store.count("outcomes")
    issued = datetime.fromisoformat(good["issued_at"]).astimezone(UTC)
    first = _outcome(good, inspected_at=(issued + timedelta(days=1)).isoformat())
    second = _outcome(good, inspected_at=(issued + timedelta(days=2)).astimezone(
        timezone(timedelta(hours=5))).isoformat())  # fmt: skip
    response = client.post("/v1/outcomes", json={"outcomes": [first, second]})
    assert response.status_code == 200, response.text
    assert store.count("outcomes") == before + 2


@pytest.mark.parametrize(
    ("changes", "path"),
    [
        ({"inspected_at": "1969-12-31T00:00:00+00:00", "recorded_at": "1970-01-02T00:00:00+00:00"},
         "outcomes.1.inspected_at"),
        ({"recorded_at": (datetime.now(UTC) + timedelta(days=2)).isoformat()},
         "outcomes.1.recorded_at"),
        ({"violation_found": "true"}, "outcomes.1.violation_found"),
        ({"violation_found": 1}, "outcomes.1.violation_found"),
    ],
    ids=["inspected-before-issue", "recorded-in-the-future", "text-boolean", "number-boolean"],
)  # fmt: skip
def test_an_outcome_that_cannot_be_true_is_refused_and_nothing_is_stored(
    client: TestClient, store: Store, good: dict[str, Any], changes: dict[str, object], path: str
) -> None:
    client.post("/v1/score", json=good)
    before = store.count("outcomes")
    response = client.post(
        "/v1/outcomes", json={"outcomes": [_outcome(good), _outcome(good, **changes)]}
    )
    assert response.status_code == 422
    assert [e["path"] for e in response.json()["errors"]] == [path]
    assert store.count("outcomes") == before


def test_a_firm_registered_while_serving_is_known_to_the_next_document(
    client: TestClient, store: Store, good: dict[str, Any]
) -> None:
    newcomer = "123456789012"
    body = copy.deepcopy(good) | {"document_id": "NEW-FIRM-1", "consignor_id": newcomer,
                                  "declarant_id": newcomer}  # fmt: skip
    body["flow"], body["doc_type"], body["procedure_code"] = "domestic", "ESF", ""
    body["consignor_country"] = body["consignee_country"] = "KZ"
    body["dispatch_country"] = body["destination_country"] = "KZ"
    unknown = _vector(client, store, body)
    assert pd.isna(unknown["firm_age_days"])
    firm = {"firm_id": newcomer, "registered_at": "2024-01-15T00:00:00+00:00",
            "activity_code": "46.52", "region": "ALA", "address_id": "A-NEW",
            "director_id": "D-NEW", "founder_country": "RU"}  # fmt: skip
    response = client.post("/v1/firms", json={"firms": [firm]})
    assert response.status_code == 200 and response.json() == {"accepted": 1}
    known = _vector(client, store, body | {"document_id": "NEW-FIRM-2"})
    assert known["firm_age_days"] > 100 and known["firm_founder_russian"] == 1.0


def _vector(client: TestClient, store: Store, body: dict[str, Any]) -> pd.Series:
    response = client.post("/v1/score", json=body)
    assert response.status_code == 200, response.text
    return pd.Series(
        store.features_of(body["document_id"])[0], index=list(FEATURE_NAMES), dtype=float
    )


def test_a_model_of_another_home_country_is_refused_by_the_state(
    model: RiskModel, store: Store
) -> None:
    kyrgyz = replace(model, stats=replace(model.stats, home_country="KG"))
    with pytest.raises(ConfigError, match="home country KG"):
        Scorer(ModelRuntime(kyrgyz, "m", "champion"), store, Settings())
