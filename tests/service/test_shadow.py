"""Shadow scoring: with a challenger loaded, every new document is scored again after its
answer was sent, from the same reads of the state with the challenger's own statistics and
vocabularies; its score goes to the audit log and the metrics, never to the caller."""

from __future__ import annotations

import dataclasses
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from riskscore.config import Settings
from riskscore.data import World
from riskscore.features import fit_feature_stats
from riskscore.model import RiskModel
from riskscore.service import create_app
from riskscore.service.auth import Role
from riskscore.store import SqliteStore

from .conftest import CUT, as_request, bearer

_DECISION = ("request_id", "scored_at")  # what differs between two answers to one document


@pytest.fixture(scope="module")
def challenger(model: RiskModel, world: World) -> RiskModel:
    """The champion's booster with statistics and vocabularies fitted on an earlier window,
    and stricter thresholds: it scores the same documents differently."""
    d = world.documents
    stats = fit_feature_stats(d[d["issued_at"] < pd.Timestamp("2023-01-20", tz="UTC")],
                              model.stats.home_country, dict(model.stats.extras))  # fmt: skip
    return dataclasses.replace(
        model, stats=stats, thresholds=model.thresholds | {"yellow_score": 0.2},
        metadata=model.metadata | {"version": "challenger-1"},
    )  # fmt: skip


@pytest.fixture
def documents(world: World) -> list[dict[str, Any]]:
    d = world.documents
    ids = list(dict.fromkeys(d.loc[d["issued_at"] >= CUT, "document_id"]))[:40]
    return [as_request(d[d["document_id"] == i]) for i in ids]


def _serve(
    path: Path, champion: RiskModel, settings: Settings, bodies: list[dict[str, Any]],
    shadow: RiskModel | None = None,
) -> Iterator[tuple[list[dict[str, Any]], SqliteStore, TestClient]]:  # fmt: skip
    store = SqliteStore(path)
    headers = bearer(store, "customs-test", Role.SCORE)
    app = create_app(settings, model=champion, store=store, shadow=shadow)
    with TestClient(app, headers=headers) as client:
        answers = [client.post("/v1/score", json=body).json() for body in bodies]
        yield answers, store, client
    store.close()


def _copy(warm_state: Path, tmp_path: Path, name: str) -> Path:
    shutil.copy(warm_state, tmp_path / name)
    return tmp_path / name


def test_the_challenger_shadows_without_changing_any_answer(
    warm_state: Path, tmp_path: Path, model: RiskModel, challenger: RiskModel,
    settings: Settings, documents: list[dict[str, Any]],
) -> None:  # fmt: skip
    shadowed = _serve(_copy(warm_state, tmp_path, "a.db"), model, settings, documents, challenger)
    answers, store, client = next(shadowed)
    metrics = client.get("/metrics").text
    rows = store._db.execute("SELECT document_id, record FROM audit WHERE kind = 'shadow' "
                             "ORDER BY seq").fetchall()  # fmt: skip
    shadow = {document_id: json.loads(record) for document_id, record in rows}
    verdict = store.verify_audit(b"")
    next(shadowed, None)
    plain, *_ = next(_serve(_copy(warm_state, tmp_path, "b.db"), model, settings, documents))
    # Never to the caller: the answers are those of a service without a challenger.
    for with_shadow, without in zip(answers, plain, strict=True):
        assert {k: v for k, v in with_shadow.items() if k not in _DECISION} == {
            k: v for k, v in without.items() if k not in _DECISION}  # fmt: skip
    # The challenger's scores are those it gives as the champion, in the same order.
    alone, *_ = next(_serve(_copy(warm_state, tmp_path, "c.db"), challenger, settings, documents))
    assert list(shadow) == [a["document_id"] for a in answers]
    differ = 0
    for answer, own in zip(answers, alone, strict=True):
        record = shadow[answer["document_id"]]
        assert record["score"] == own["score"]
        assert record["channel"] == own["channel"]
        assert record["model"]["version"] == "challenger-1"
        assert record["champion"]["score"] == answer["score"]
        assert record["request_id"] == answer["request_id"]
        differ += record["score"] != answer["score"]
    assert differ > 0  # its own statistics made a difference
    assert verdict.problems == []
    counted = sum(s.value for f in text_string_to_metric_families(metrics) for s in f.samples
                  if s.name == "riskscore_shadow_documents_total")  # fmt: skip
    assert counted == len(documents)


def test_a_batch_is_shadowed_after_its_answer(
    store: SqliteStore, model: RiskModel, challenger: RiskModel, settings: Settings,
    documents: list[dict[str, Any]],
) -> None:  # fmt: skip
    headers = bearer(store, "customs-test", Role.SCORE)
    app = create_app(settings, model=model, store=store, shadow=challenger)
    with TestClient(app, headers=headers) as client:
        answer = client.post("/v1/score/batch", json={"documents": documents[:5]})
    assert [r["status"] for r in answer.json()["results"]] == [200] * 5
    rows = store._db.execute("SELECT document_id FROM audit WHERE kind = 'shadow' ORDER BY seq")
    assert [r[0] for r in rows] == [d["document_id"] for d in documents[:5]]
