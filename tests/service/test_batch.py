"""Batch scoring: over HTTP, one answer or one problem per document in order; offline, a
whole dataset with channels and reasons."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from riskscore import registry
from riskscore.cli import app as cli
from riskscore.data import World, load_world
from riskscore.model import RiskModel
from riskscore.service.offline import score_dataset
from riskscore.service.runtime import ModelRuntime
from riskscore.service.schemas import MAX_BATCH
from riskscore.store import Store
from riskscore.training import tracking
from riskscore.training.config import load_config
from riskscore.training.pipeline import TrainingResult

from .conftest import CUT, as_request


@pytest.fixture
def documents(world: World) -> list[dict[str, Any]]:
    d = world.documents
    later = d[d["issued_at"] >= CUT]
    return [as_request(lines) for _, lines in later.groupby("document_id", sort=False)][:4]


def test_each_document_gets_its_answer_or_its_problem_in_order(
    client: TestClient, store: Store, documents: list[dict[str, Any]]
) -> None:
    bad = copy.deepcopy(documents[1])
    bad["items"][0]["gross_mass_kg"] = bad["items"][0]["net_mass_kg"] / 2 - 1
    unknown_field = dict(documents[3], surprise=1)
    before = store.count("lines")
    response = client.post("/v1/score/batch", json={"documents": [documents[0], bad, documents[2],
                                                                  unknown_field]})  # fmt: skip
    assert response.status_code == 200
    results = response.json()["results"]
    assert [(r["index"], r["status"]) for r in results] == [(0, 200), (1, 422), (2, 200), (3, 422)]
    assert results[1]["problem"]["errors"][0]["path"] == "items.0"
    assert results[3]["problem"]["errors"][0]["path"] == "surprise"
    assert [results[i]["answer"]["document_id"] for i in (0, 2)] == [
        documents[0]["document_id"], documents[2]["document_id"]]  # fmt: skip
    assert store.answer(documents[1]["document_id"]) is None  # nothing written for it
    scored = len(documents[0]["items"]) + len(documents[2]["items"])
    assert store.count("lines") == before + scored
    again = client.get(f"/v1/answers/{documents[0]['document_id']}").json()
    assert again == results[0]["answer"]


def test_a_batch_over_its_limit_is_refused_whole(
    client: TestClient, store: Store, documents: list[dict[str, Any]]
) -> None:
    before = store.count("lines")
    response = client.post("/v1/score/batch", json={"documents": documents[:1] * (MAX_BATCH + 1)})
    assert response.status_code == 422
    assert response.json()["errors"][0]["path"] == "documents"
    assert store.count("lines") == before


def test_a_dataset_is_scored_offline_with_channels_and_reasons(
    tiny_world: Path, model: RiskModel
) -> None:
    world = load_world(tiny_world, with_truth=False)
    runtime = ModelRuntime(model, "reexport-risk", "champion")
    shares: list[float] = []
    table = score_dataset(world.documents, world.firms, world.outcomes, runtime, shares.append)
    assert len(table) == len(world.documents) and shares[-1] == 1.0
    assert shares == sorted(shares)
    by_document = table.groupby("document_id")
    assert (by_document["score"].transform("max") == table["document_score"]).all()
    assert (table["document_score"].map(runtime.channel) == table["channel"]).all()
    flagged = table["channel"] != "green"
    assert flagged.any() and (~flagged).any()
    assert table.loc[flagged, "reasons"].map(len).eq(5).all()
    assert table.loc[~flagged, "reasons"].map(len).eq(0).all()
    first = table.loc[flagged, "reasons"].iloc[0][0]
    assert set(first) == {"feature", "value", "contribution", "sentence"}


def test_the_score_command_writes_a_file_with_progress(
    tiny_world: Path, small_training: TrainingResult, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.setenv("RISKSCORE_MODELS_DIR", str(tmp_path / "models"))
    client = registry.connect(tmp_path / "models")
    version = tracking.log_training(client, small_training, load_config(), "")
    registry.set_alias(client, version, "champion")
    out = tmp_path / "scores.parquet"
    result = CliRunner().invoke(cli, ["score", "--data", str(tiny_world), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "scoring" in result.output and "documents; red" in result.output
    table = pd.read_parquet(out)
    assert set(table["channel"]) <= {"green", "yellow", "red"}
    assert table["document_id"].nunique() == int(result.output.split(" lines of ")[1].split()[0]
                                                  .replace(",", ""))  # fmt: skip
