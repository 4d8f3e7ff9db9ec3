"""Train, track, register, promote and report against a real MLflow SQLite store."""

from __future__ import annotations

from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from riskscore import registry
from riskscore.config import DEFAULT_MODEL_NAME
from riskscore.data import load_world
from riskscore.features import build_features
from riskscore.report.registry import report_to
from riskscore.training import tracking
from riskscore.training.config import load_config
from riskscore.training.pipeline import TrainingResult, train_model
from riskscore.training.promote import promote

NAME = DEFAULT_MODEL_NAME


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> MlflowClient:
    models = tmp_path_factory.mktemp("models")
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("MLFLOW_TRACKING_URI", raising=False)
        yield registry.connect(models)


@pytest.fixture(scope="module")
def first(small_training: TrainingResult) -> TrainingResult:
    return small_training


def test_the_model_beats_rules_and_random_on_the_truth(first: TrainingResult) -> None:
    truth = {(r["ranker"], r["budget"]): r for r in first.evaluation["truth"]["budgets"]}
    for budget in (0.02, 0.05):
        model = truth[("model", budget)]["recall"]
        assert model > truth[("legacy_rules", budget)]["recall"]
        assert model > 3 * truth[("random", budget)]["recall"]
    assert first.counts["train_positives"] > 20
    assert set(first.importance.columns) >= {
        "feature",
        "meaning",
        "mean_abs_contribution",
        "direction",
    }


def test_a_run_carries_everything(client: MlflowClient, first: TrainingResult) -> None:
    config = load_config()
    registered = tracking.log_training(client, first, config, "[split]\n")
    run = client.get_run(registered.run_id)
    assert run.data.params["lightgbm.seed"] == "42"
    assert run.data.tags["git_commit"] == "abc123"
    assert run.data.tags["data.sha256"] == first.fingerprint["sha256"]
    assert "test_truth_precision_at_2pct_model" in run.data.metrics
    logged = {a.path for a in client.list_artifacts(registered.run_id)}
    assert {"config.toml", "evaluation.json", "importance.csv", "feature_catalogue.md"} <= logged
    assert registry.resolve(client, NAME, "challenger") == registered
    pyfunc = mlflow.pyfunc.load_model(f"models:/{NAME}@challenger")
    features = np.random.default_rng(0).random((5, len(first.model.feature_names)))
    scores = pyfunc.predict(pd.DataFrame(features, columns=list(first.model.feature_names)))
    assert np.all((scores > 0) & (scores < 1))  # scores, not 0/1 labels
    loaded = registry.load_model(registered)
    np.testing.assert_array_equal(loaded.score(features), first.model.score(features))


def test_promotion_and_its_record(client: MlflowClient, small_world: Path, tmp_path: Path) -> None:
    decision = promote(client, NAME)
    assert decision.promoted and decision.reason == "no champion yet"
    champion = registry.resolve(client, NAME, "champion")
    assert champion is not None and champion.version == decision.challenger.version
    config = load_config(None, {"lightgbm.seed": 7, "lightgbm.num_leaves": 4})
    second = tracking.log_training(
        client, train_model(load_world(small_world, with_truth=False), config), config, ""
    )
    decision = promote(client, NAME)
    version = client.get_model_version(NAME, second.version)
    assert version.tags["promotion_decision"] == ("promoted" if decision.promoted else "rejected")
    assert "champion_precision_labels" in version.tags
    better = float(version.tags["challenger_precision_labels"]) > float(
        version.tags["champion_precision_labels"]
    )
    assert decision.promoted == better
    if not decision.promoted:
        assert promote(client, NAME, force=True).promoted
    assert registry.resolve(client, NAME, "champion").version == second.version  # type: ignore[union-attr]
    html = report_to(client, NAME, "champion", tmp_path / "report.html").read_text()
    for section in (
        "purpose",
        "drivers",
        "budget",
        "typologies",
        "stability",
        "calibration",
        "model",
    ):
        assert f'id="{section}"' in html


def test_the_champion_scores_what_the_world_gives(client: MlflowClient, small_world: Path) -> None:
    champion = registry.resolve(client, NAME, "champion")
    assert champion is not None
    model = registry.load_model(champion)
    world = load_world(small_world, with_truth=False)
    part = world.documents.iloc[-500:]
    scores = model.score(build_features(part, model.stats))
    assert scores.shape == (500,) and np.isfinite(scores).all()
