"""A catalogue of bad requests: each gets a clear problem-details answer and writes nothing."""

from __future__ import annotations

import copy
import json
from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from riskscore.data import World
from riskscore.features import FEATURE_NAMES
from riskscore.store import Store

from .conftest import CUT, as_request


@pytest.fixture
def good(world: World) -> dict[str, Any]:
    d = world.documents
    first = d.loc[d["issued_at"] >= CUT, "document_id"].iloc[0]
    return as_request(d[d["document_id"] == first])


def _edit(body: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    bad = copy.deepcopy(body)
    *parents, last = path.split(".")
    target: Any = bad
    for part in parents:
        target = target[int(part)] if part.isdigit() else target[part]
    if value is _DELETE:
        del target[last]
    else:
        target[last] = value
    return bad


_DELETE = object()
CASES = [
    ("items.0.hs_code", "85423", "items.0.hs_code"),
    ("items.0.net_mass_kg", -1.0, "items.0.net_mass_kg"),
    ("items.0.gross_mass_kg", 0.0, "items.0"),
    ("issued_at", "2024-06-03T10:00:00", "issued_at"),
    ("issued_at", "yesterday", "issued_at"),
    ("consignee_country", "kz", "consignee_country"),
    ("doc_type", "CMR", "doc_type"),
    ("document_id", _DELETE, "document_id"),
    ("items", [], "items"),
    ("items.0.value_usd", "a lot", "items.0.value_usd"),
    ("extra_field", 1, "extra_field"),
]


@pytest.mark.parametrize(
    ("path", "value", "named"),
    CASES,
    ids=["short-hs", "negative-mass", "gross-below-net", "naive-time", "not-a-time",
         "lowercase-country", "unknown-doc-type", "no-id", "no-items", "text-value", "extra-field"],
)  # fmt: skip
def test_bad_documents_get_422_problem_details(
    client: TestClient, store: Store, good: dict[str, Any], path: str, value: Any, named: str
) -> None:
    before = store.count("lines")
    response = client.post("/v1/score", json=_edit(good, path, value))
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == 422 and problem["title"]
    assert any(e["path"].startswith(named) for e in problem["errors"]), problem["errors"]
    assert all(set(e) == {"path", "reason"} for e in problem["errors"])
    assert good["items"][0]["description"] not in response.text  # the document is not echoed
    assert store.count("lines") == before


def test_malformed_json_is_a_400_problem(client: TestClient) -> None:
    response = client.post(
        "/v1/score", content=b'{"document_id": ', headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"


def test_too_many_items_is_422(client: TestClient, good: dict[str, Any]) -> None:
    body = copy.deepcopy(good)
    body["items"] = [dict(body["items"][0], item_no=i) for i in range(1, 202)]
    response = client.post("/v1/score", json=body)
    assert response.status_code == 422
    assert response.json()["errors"][0]["path"] == "items"


def test_a_body_over_the_limit_is_413(client: TestClient, good: dict[str, Any]) -> None:
    body = copy.deepcopy(good)
    body["items"][0]["description"] = "x" * 1_200_000
    response = client.post(
        "/v1/score", content=json.dumps(body), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"


def test_unknown_codes_are_scored_and_named(client: TestClient, good: dict[str, Any]) -> None:
    body = _edit(_edit(good, "items.0.hs_code", "9999999999"), "dispatch_country", "XX")
    response = client.post("/v1/score", json=body)
    assert response.status_code == 200
    named = {(u["field"], u["value"]) for u in response.json()["unknown_codes"]}
    assert {("items[0].hs_code", "9999999999"), ("dispatch_country", "XX")} <= named


def test_outcomes_for_unscored_documents_are_refused(client: TestClient, store: Store) -> None:
    outcome = {"document_id": "NEVER-SCORED", "item_no": 1, "selected_by": "rule",
               "inspected_at": "2024-06-04T00:00:00Z", "recorded_at": "2024-06-10T00:00:00Z",
               "violation_found": False}  # fmt: skip
    before = store.count("outcomes")
    response = client.post("/v1/outcomes", json={"outcomes": [outcome]})
    assert response.status_code == 422
    assert response.json()["errors"] == [
        {"path": "outcomes.0", "reason": "names a document line that was never scored"}
    ]
    assert store.count("outcomes") == before


def test_the_same_document_twice_answers_the_same_and_counts_once(
    client: TestClient, store: Store, good: dict[str, Any]
) -> None:
    before = store.count("lines")
    first = client.post("/v1/score", json=good)
    second = client.post("/v1/score", json=good)
    assert first.json() == second.json()
    assert store.count("lines") == before + len(good["items"])


def test_health_and_version(client: TestClient) -> None:
    assert client.get("/livez").json() == {"status": "ok"}
    assert client.get("/readyz").json() == {"status": "ready"}
    assert client.get("/version").json()["features"] == 64
    assert "/v1/score" in client.get("/openapi.json").json()["paths"]


def test_yellow_and_red_documents_carry_reasons(client: TestClient, world: World) -> None:
    d = world.documents
    later = d[(d["issued_at"] >= CUT) & (d["issued_at"] < CUT + pd.Timedelta(days=5))]
    channels = set()
    for _, lines in later.groupby("document_id", sort=False):
        body = client.post("/v1/score", json=as_request(lines)).json()
        channels.add(body["channel"])
        for item in body["items"]:
            if body["channel"] == "green":
                assert item["reasons"] == []
            else:
                assert len(item["reasons"]) == 5
                assert all(r["sentence"] and r["feature"] for r in item["reasons"])
    assert {"green", "red"} <= channels or {"green", "yellow"} <= channels


def test_a_streamed_body_over_the_limit_is_413_too(
    client: TestClient, good: dict[str, Any]
) -> None:
    body = copy.deepcopy(good)
    body["items"][0]["description"] = "x" * 1_200_000
    data = json.dumps(body).encode()

    def chunks() -> Any:  # no Content-Length: the middleware must count what arrives
        for start in range(0, len(data), 65_536):
            yield data[start : start + 65_536]

    response = client.post(
        "/v1/score", content=chunks(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413


def test_a_document_already_in_the_history_is_not_its_own_past(
    client: TestClient, store: Store, world: World
) -> None:
    d = world.documents
    stored = d[d["issued_at"] < CUT]
    last = stored[stored["document_id"] == stored["document_id"].iloc[-1]]
    body = client.post("/v1/score", json=as_request(last)).json()
    vectors = store.features_of(body["document_id"])
    count = FEATURE_NAMES.index("document_item_count")
    assert [v[count] for v in vectors] == [float(len(last))] * len(last)
