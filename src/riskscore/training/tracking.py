"""MLflow runs: log one training run with everything about it, and register its model.

The only training code that imports MLflow. Reading models back (aliases, loading, tags) is
`riskscore.registry`'s; `RiskPyfunc` lives here because only logging a model needs it.
"""

from __future__ import annotations

import subprocess
import tempfile
import warnings
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
from riskscore.features import SPECS
from riskscore.features.catalogue import render_markdown
from riskscore.model import RiskModel
from riskscore.registry import Registered
from riskscore.training.config import TrainConfig
from riskscore.training.pipeline import TrainingResult


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


def log_training(
    client: MlflowClient, result: TrainingResult, config: TrainConfig, config_text: str
) -> Registered:
    """Log one run with everything about it, register the model and alias it `challenger`."""
    experiment = client.get_experiment_by_name(registry.EXPERIMENT)
    assert experiment is not None
    with (
        mlflow.start_run(experiment_id=experiment.experiment_id),
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
        mlflow.log_text(render_markdown(SPECS), "feature_catalogue.md")
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
        return registry.register(client, info.model_uri, config.model.name, "challenger")
