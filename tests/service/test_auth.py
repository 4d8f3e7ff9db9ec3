"""API keys and roles: who may call what, checked before the body is read."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from riskscore.config import Settings
from riskscore.model import RiskModel
from riskscore.service import create_app
from riskscore.service.auth import Keyring, Role, new_key
from riskscore.store import SqliteStore, Store

from .conftest import bearer

REQUEST = Path(__file__).resolve().parents[2] / "service" / "examples" / "score_request.json"


@pytest.fixture
def app_client(store: SqliteStore, model: RiskModel, settings: Settings) -> Iterator[TestClient]:
    """The app with no key of its own: each test sends the headers it means."""
    with TestClient(create_app(settings, model=model, store=store)) as test_client:
        yield test_client


@pytest.fixture
def document() -> dict[str, Any]:
    body: dict[str, Any] = json.loads(REQUEST.read_text())
    return body


def _problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    found: dict[str, Any] = response.json()
    assert found["status"] == status
    return found


@pytest.mark.parametrize(
    "header",
    [
        None,
        "Bearer",
        "Basic dXNlcjpwYXNz",
        "Bearer rsk_0123456789abcdef_" + "x" * 43,
        "Bearer nope",
    ],
    ids=["none", "empty", "basic", "unknown-key", "malformed"],
)
def test_no_valid_key_is_401(app_client: TestClient, header: str | None) -> None:
    headers = {} if header is None else {"Authorization": header}
    for method, path in [("POST", "/v1/score"), ("POST", "/v1/outcomes"), ("GET", "/version"),
                         ("GET", "/v1/answers/X1"), ("POST", "/v1/admin/reload")]:  # fmt: skip
        response = app_client.request(method, path, headers=headers, content=b"{}")
        _problem(response, 401)
        assert response.headers["www-authenticate"].startswith("Bearer")


def test_the_key_is_checked_before_the_body(app_client: TestClient) -> None:
    """A body that is not even JSON, or too large, from a caller without a key: 401."""
    for body in (b"{not json", b"x" * 2_000_000):
        response = app_client.post("/v1/score", content=body, headers={"content-type": "text/x"})
        _problem(response, 401)


def test_open_paths_need_no_key(app_client: TestClient) -> None:
    for path in ("/livez", "/readyz", "/metrics", "/openapi.json", "/docs", "/redoc"):
        assert app_client.get(path).status_code == 200, path


def test_a_key_without_the_role_is_403(
    app_client: TestClient, store: Store, document: dict[str, Any]
) -> None:
    reader = bearer(store, "audit-office", Role.READ)
    before = store.count("lines")
    found = _problem(app_client.post("/v1/score", json=document, headers=reader), 403)
    assert "'score'" in found["detail"]
    _problem(app_client.post("/v1/outcomes", json={"outcomes": []}, headers=reader), 403)
    _problem(app_client.post("/v1/admin/reload", headers=reader), 403)
    assert app_client.get("/version", headers=reader).status_code == 200  # any valid key
    assert store.count("lines") == before


def test_a_score_caller_reads_back_only_its_own_answers(
    app_client: TestClient, store: Store, document: dict[str, Any]
) -> None:
    customs = bearer(store, "customs-dt", Role.SCORE)
    other = bearer(store, "tax-esf", Role.SCORE)
    reader = bearer(store, "audit-office", Role.READ)
    sent = app_client.post("/v1/score", json=document, headers=customs)
    assert sent.status_code == 200
    path = f"/v1/answers/{document['document_id']}"
    assert app_client.get(path, headers=customs).json() == sent.json()
    assert app_client.get(path, headers=reader).json() == sent.json()
    _problem(app_client.get(path, headers=other), 404)  # not told it exists
    _problem(app_client.get("/v1/answers/NEVER-SENT", headers=reader), 404)


def test_a_second_key_of_the_same_caller_reads_its_answers(
    app_client: TestClient, store: Store, document: dict[str, Any]
) -> None:
    """Rotation: the caller, not the key, owns what it sent."""
    old, new = bearer(store, "customs-dt", Role.SCORE), bearer(store, "customs-dt", Role.SCORE)
    assert app_client.post("/v1/score", json=document, headers=old).status_code == 200
    assert app_client.get(f"/v1/answers/{document['document_id']}", headers=new).status_code == 200


def test_a_revoked_or_expired_key_stops_working(store: Store) -> None:
    made = new_key("customs-dt", [Role.SCORE])
    store.add_key(made.record)
    now = [0.0]
    keyring = Keyring(store, ttl=5.0, clock=lambda: now[0])
    assert keyring.caller(made.key) is not None
    store.revoke_key(made.record.key_id, datetime.now(UTC))
    assert keyring.caller(made.key) is not None  # still trusted from the cache ...
    now[0] = 5.0
    assert keyring.caller(made.key) is None  # ... for at most `ttl` seconds
    past = datetime.now(UTC) - timedelta(days=1)
    expired = new_key("tax-esf", [Role.SCORE], expires_at=past)
    store.add_key(expired.record)
    assert Keyring(store, ttl=0).caller(expired.key) is None


def test_a_key_must_match_its_hash(store: Store) -> None:
    made = new_key("customs-dt", [Role.SCORE])
    store.add_key(made.record)
    forged = made.key[:-4] + ("AAAA" if not made.key.endswith("AAAA") else "BBBB")
    assert Keyring(store, ttl=0).caller(forged) is None
    assert made.key not in json.dumps([list(k) for k in store.api_keys()], default=str)


def test_the_openapi_document_declares_the_bearer_scheme(app_client: TestClient) -> None:
    spec = app_client.get("/openapi.json").json()
    assert spec["components"]["securitySchemes"]["apiKey"] == {
        "type": "http", "scheme": "bearer", "description": spec["components"]["securitySchemes"]
        ["apiKey"]["description"]}  # fmt: skip
    assert spec["paths"]["/v1/score"]["post"]["security"] == [{"apiKey": []}]
    assert "security" not in spec["paths"]["/livez"]["get"]
