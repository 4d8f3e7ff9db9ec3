"""`riskscore tune`: trials as nested runs under one parent, the default config first."""

from __future__ import annotations

from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient
from typer.testing import CliRunner

from riskscore import registry
from riskscore.cli import app
from riskscore.training.config import load_config


def test_tune_writes_a_config_that_did_at_least_as_well_as_the_default(
    foreign_dataset: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.setenv("RISKSCORE_MODELS_DIR", str(tmp_path / "models"))
    out = tmp_path / "tuned.toml"
    result = CliRunner().invoke(app, ["tune", "--data", str(foreign_dataset), "--split", "auto",
                                      "--trials", "3", "--out", str(out)])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "trial 3/3" in result.output
    tuned = load_config(out)
    assert tuned.split.source == "auto" and tuned.lightgbm.max_depth <= 7
    client: MlflowClient = registry.connect(tmp_path / "models")
    experiment = client.get_experiment_by_name(registry.EXPERIMENT)
    assert experiment is not None
    runs = client.search_runs([experiment.experiment_id])
    parents = [r for r in runs if r.info.run_name.startswith("tune ")]
    assert len(parents) == 1
    parent = parents[0]
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    assert len(children) == 3
    assert any(r.info.run_name == "trial 0 (default config)" for r in children)
    best = parent.data.metrics["best_validation_average_precision"]
    assert best >= parent.data.metrics["default_validation_average_precision"]
    assert best == max(r.data.metrics["validation_average_precision"] for r in children)
