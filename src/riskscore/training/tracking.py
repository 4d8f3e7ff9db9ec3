"""MLflow runs: log one training run with everything about it, and register its model.

The only training code that imports MLflow. Reading models back (aliases, loading, tags) is
`riskscore.registry`'s; `RiskPyfunc` lives here because only logging a model needs it.
"""

from __future__ import annotations

import subprocess
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
from mlflow.models import ModelSignature
from mlflow.pyfunc.model import PythonModel, PythonModelContext
from mlflow.tracking import MlflowClient
from mlflow.types import ColSpec, Schema, TensorSpec

from riskscore import registry
from riskscore.features import specs_of
from riskscore.features.catalogue import render_markdown
from riskscore.model import RiskModel
from riskscore.registry import CARD, WARNING_TAG, Registered
from riskscore.report.card import card_markdown, model_card
from riskscore.training.config import TrainConfig
from riskscore.training.pipeline import TrainingResult
from riskscore.training.tune import TrialHook, Tuned


class RiskPyfunc(PythonModel):
    """MLflow pyfunc around a bundle: a features frame in, scores out (MLflow's stock LightGBM
    flavour would return 0/1 labels for a classifier)."""

    def load_context(self, context: PythonModelContext) -> None:
        self.model = RiskModel.load(Path(context.artifacts["bundle"]))

    def predict(
        self,
        context: PythonModelContext,
        model_input: pd.DataFrame,
        params: dict[str, str] | None = None,
    ) -> np.ndarray:
        return self.model.score(model_input)


def git_commit() -> str:
    """The commit of the working tree, or "unknown" outside a git checkout."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True
        )
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return out.stdout.strip()


def _flatten(prefix: str, value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, inner in value.items():
            out |= _flatten(f"{prefix}.{key}" if prefix else str(key), inner)
        return out
    return {prefix: value}


def metrics_of(evaluation: dict[str, Any]) -> dict[str, float]:
    """Flat metric names: test_{labels|truth}_{pr_auc|roc_auc}_{ranker} and budget figures."""
    metrics: dict[str, float] = {}
    for view in ("labels", "truth"):
        if view not in evaluation:
            continue
        for curve in ("pr_auc", "roc_auc"):
            for ranker, value in evaluation[view].get(curve, {}).items():
                metrics[f"test_{view}_{curve}_{ranker}"] = value
        for row in evaluation[view]["budgets"]:
            pct = f"{round(row['budget'] * 100)}pct"
            metrics[f"test_{view}_precision_at_{pct}_{row['ranker']}"] = row["precision"]
            metrics[f"test_{view}_recall_at_{pct}_{row['ranker']}"] = row["recall"]
    metrics["test_brier"] = evaluation["calibration"]["brier"]
    return metrics


def _signature(model: RiskModel) -> ModelSignature:
    inputs = Schema([ColSpec("double", name) for name in model.feature_names])
    return ModelSignature(inputs=inputs, outputs=Schema([TensorSpec(np.dtype("float64"), (-1,))]))


def run_name(config: TrainConfig, kind: str = "train") -> str:
    """A run name that says what the run was: `train 2021-01..2024-12 seed 7`."""
    split = config.split
    return (f"{kind} {split.train_start:%Y-%m}..{split.test_end:%Y-%m} "
            f"seed {config.lightgbm.seed}")  # fmt: skip


def start_run(
    client: MlflowClient, name: str, started_at: int | None = None, nested: bool = False
) -> mlflow.ActiveRun:
    """An active run of our experiment, begun at `started_at` (epoch ms; now when None), so
    that the UI shows how long the work took, not how long logging took."""
    experiment = client.get_experiment_by_name(registry.EXPERIMENT)
    assert experiment is not None
    tags = {}
    if nested:
        parent = mlflow.active_run()
        assert parent is not None
        tags["mlflow.parentRunId"] = parent.info.run_id
    run = client.create_run(experiment.experiment_id, start_time=started_at, tags=tags,
                            run_name=name)  # fmt: skip
    return mlflow.start_run(run_id=run.info.run_id, nested=nested)


def log_training(
    client: MlflowClient, result: TrainingResult, config: TrainConfig, config_text: str
) -> Registered:
    """Log one run with everything about it, register the model and alias it `challenger`
    (tagged `quality_warning` when the run found a reason not to promote it), and log its
    model card."""
    with (
        start_run(client, run_name(config), result.started_at or None),
        tempfile.TemporaryDirectory() as tmp,
    ):
        mlflow.log_params(_flatten("", config.model_dump(mode="json")))
        fingerprint = result.fingerprint
        mlflow.set_tags(
            {
                "git_commit": result.model.metadata["git_commit"],
                "data_dir": result.model.metadata["data_dir"],
            }
            | {f"data.{k}": str(v) for k, v in fingerprint.items()}
        )
        mlflow.log_metrics(
            metrics_of(result.evaluation) | {k: float(v) for k, v in result.counts.items()}
        )
        mlflow.log_text(config_text, "config.toml")
        mlflow.log_dict(result.evaluation, "evaluation.json")
        mlflow.log_dict(result.model.metadata, "metadata.json")
        mlflow.log_text(result.importance.to_csv(index=False), "importance.csv")
        mlflow.log_text(result.monthly_importance.to_csv(), "monthly_importance.csv")
        mlflow.log_text(render_markdown(specs_of(result.model.stats)), "feature_catalogue.md")
        bundle = result.model.save(Path(tmp) / "bundle")
        with warnings.catch_warnings():
            # The signature is given explicitly; an input example would only make MLflow load
            # and run the model once more while logging.
            warnings.filterwarnings("ignore", message=".*input example was not provided")
            info = mlflow.pyfunc.log_model(
                name="model",
                python_model=RiskPyfunc(),
                artifacts={"bundle": str(bundle)},
                signature=_signature(result.model),
                pip_requirements=["lightgbm", "pandas", "numpy", "mlflow"],
            )
        registered = registry.register(client, info.model_uri, config.model.name, "challenger")
        if result.warnings:
            registry.tag_version(client, registered, {WARNING_TAG: "; ".join(result.warnings)})
        card = model_card(registered.name, registered.version, result.model.metadata,
                          result.model.thresholds, result.evaluation)  # fmt: skip
        mlflow.log_text(card_markdown(card), CARD)
        return registered


def log_tuning(
    client: MlflowClient,
    config: TrainConfig,
    search: Callable[[TrialHook], Tuned],
    progress: Callable[[int, float, float], None] | None = None,
) -> tuple[Tuned, str]:
    """Run `search` inside one parent run, each trial a nested run with its parameters and
    validation score; the parent records the best config (as `best_config.toml`). Returns
    the search's outcome and the parent's run id."""
    best = [float("-inf")]
    with start_run(client, run_name(config, "tune")) as parent:

        def on_trial(number: int, params: dict[str, Any], score: float) -> None:
            name = f"trial {number}" + (" (default config)" if number == 0 else "")
            with start_run(client, name, nested=True):
                mlflow.log_params(params)
                mlflow.log_metric("validation_average_precision", score)
            best[0] = max(best[0], score)
            if progress is not None:
                progress(number, score, best[0])

        tuned = search(on_trial)
        mlflow.log_metrics({"best_validation_average_precision": tuned.best_score,
                            "default_validation_average_precision": tuned.default_score,
                            "trials": tuned.trials})  # fmt: skip
        mlflow.log_text(tuned.config.to_toml(), "best_config.toml")
        return tuned, parent.info.run_id
