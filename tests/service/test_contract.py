"""The OpenAPI document tells the truth: described fields, declared errors, offline docs."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from riskscore.config import Settings
from riskscore.service import create_app
from riskscore.store import Store

REQUEST = Path(__file__).resolve().parents[2] / "service" / "examples" / "score_request.json"
_LEAVES = {"string", "number", "integer", "boolean"}


def _spec() -> dict[str, Any]:
    spec: dict[str, Any] = create_app(Settings(random_share=0.0)).openapi()
    return spec


def _plain(declared: dict[str, Any], schemas: dict[str, Any]) -> bool:
    """A field of one value (a string, number, flag or enum), not a list or another model."""
    for part in declared.get("anyOf", [declared]):
        if part.get("type") in _LEAVES:
            return True
        ref = part.get("$ref", "").rsplit("/", 1)[-1]
        if ref and "enum" in schemas[ref]:
            return True
    return False


def test_every_field_is_described_and_every_plain_field_has_an_example() -> None:
    undescribed, unexampled = [], []
    schemas = _spec()["components"]["schemas"]
    for name, schema in schemas.items():
        for field, declared in schema.get("properties", {}).items():
            if "description" not in declared:
                undescribed.append(f"{name}.{field}")
            if _plain(declared, schemas) and "examples" not in declared:
                unexampled.append(f"{name}.{field}")
    assert undescribed == [] and unexampled == []


def test_the_channel_is_an_enum() -> None:
    schemas = _spec()["components"]["schemas"]
    assert schemas["ScoreResponse"]["properties"]["channel"] == {
        "$ref": "#/components/schemas/Channel", "description": schemas["ScoreResponse"]
        ["properties"]["channel"]["description"], "examples": ["red"]}  # fmt: skip
    assert schemas["Channel"]["enum"] == ["green", "yellow", "red"]


def test_every_error_status_is_declared_as_problem_details() -> None:
    spec = _spec()
    declared: set[str] = set()
    for path, operations in spec["paths"].items():
        for operation in operations.values():
            for status, answer in operation["responses"].items():
                if status[0] in "45":
                    declared.add(status)
                    assert list(answer["content"]) == ["application/problem+json"], (path, status)
                    schema = answer["content"]["application/problem+json"]["schema"]
                    assert schema == {"$ref": "#/components/schemas/Problem"}
            if "requestBody" in operation:
                assert {"400", "401", "403", "413", "422", "503"} <= set(operation["responses"])
    assert {"400", "401", "403", "404", "405", "409", "413", "422", "503"} <= declared
    assert "HTTPValidationError" not in spec["components"]["schemas"]


def test_a_wrong_method_is_405_with_allow(client: TestClient) -> None:
    response = client.get("/v1/score")
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert response.headers["content-type"] == "application/problem+json"


def test_a_huge_unknown_field_is_named_but_not_echoed(client: TestClient, store: Store) -> None:
    body = json.loads(REQUEST.read_text())
    key = "k" * 900_000
    body[key] = 1
    before = store.count("lines")
    response = client.post("/v1/score", json=body)
    assert response.status_code == 422
    assert len(response.content) < 2_000
    [error] = response.json()["errors"]
    assert error["path"].startswith("k" * 64) and "900,000 characters" in error["path"]
    assert store.count("lines") == before


def test_an_outcome_batch_at_its_limit_fits_the_body_limit() -> None:
    """A full batch of the longest outcomes the schema allows still fits 1 MB."""
    from riskscore.service.schemas import MAX_OUTCOMES

    longest = {"document_id": "D" * 64, "item_no": 999, "selected_by": "random",
               "inspected_at": "2024-06-04T00:00:00.000000+05:00",
               "recorded_at": "2024-06-10T00:00:00.000000+05:00", "violation_found": True,
               "finding": "dormant_reactivation"}  # fmt: skip
    size = len(json.dumps({"outcomes": [longest] * MAX_OUTCOMES}))
    assert size < Settings().max_body_bytes


def test_too_many_outcomes_are_refused_before_any_is_stored(
    client: TestClient, store: Store
) -> None:
    from riskscore.service.schemas import MAX_OUTCOMES

    outcome = {"document_id": "X", "item_no": 1, "selected_by": "rule",
               "inspected_at": "2024-06-04T00:00:00Z", "recorded_at": "2024-06-10T00:00:00Z",
               "violation_found": False}  # fmt: skip
    before = store.count("outcomes")
    response = client.post("/v1/outcomes", json={"outcomes": [outcome] * (MAX_OUTCOMES + 1)})
    assert response.status_code == 422
    assert response.json()["errors"][0]["path"] == "outcomes"
    empty = client.post("/v1/outcomes", json={"outcomes": [{}] * 10_000})
    assert empty.status_code == 422 and len(empty.json()["errors"]) <= 50
    assert store.count("outcomes") == before


def test_the_docs_need_no_internet(client: TestClient) -> None:
    for page in ("/docs", "/redoc"):
        html = client.get(page).text
        assets = re.findall(r"""(?:src|href)=["']([^"']+)["']""", html)
        assert assets, page
        assert not [a for a in assets if a.startswith(("http:", "https:", "//"))], page
        for asset in assets:
            assert client.get(asset).status_code == 200, asset


def test_a_request_id_comes_back_and_names_the_decision(client: TestClient) -> None:
    body = json.loads(REQUEST.read_text())
    first = client.post("/v1/score", json=body, headers={"X-Request-ID": "dt-2025-000017"})
    assert first.headers["x-request-id"] == "dt-2025-000017"
    assert first.json()["request_id"] == "dt-2025-000017"
    again = client.post("/v1/score", json=copy.deepcopy(body), headers={"X-Request-ID": "retry-1"})
    assert again.headers["x-request-id"] == "retry-1"
    assert again.json()["request_id"] == "dt-2025-000017"  # the stored decision's
    odd = client.get("/livez", headers={"X-Request-ID": "x" * 500})
    assert re.fullmatch(r"[0-9a-f]{32}", odd.headers["x-request-id"])  # replaced, not echoed
