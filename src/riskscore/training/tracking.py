"""MLflow: runs, the model registry, aliases. The only training code that imports mlflow.

The store is SQLite under `models/` unless MLFLOW_TRACKING_URI says otherwise; artifacts go
to `models/artifacts/`. Models are registered as `reexport-risk` with aliases, never stages.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
from mlflow.models import ModelSignature
from mlflow.tracking import MlflowClient
from mlflow.types import ColSpec, Schema, TensorSpec

from riskscore.errors import RiskscoreError
from riskscore.features import SPECS
from riskscore.features.catalogue import render_markdown
from riskscore.model import RiskModel, RiskPyfunc
from riskscore.training.config import TrainConfig
from riskscore.training.pipeline import TrainingResult

EXPERIMENT = "riskscore"


class RegistryError(RiskscoreError):
    """The registry lacks what was asked for (no such model or alias)."""


@dataclass(frozen=True)
class Registered:
    """A registered model version and the run that produced it."""

    name: str
    version: str
    run_id: str


def tracking_uri(models_dir: Path) -> str:
    """MLFLOW_TRACKING_URI when set, else SQLite under `models_dir`."""
    return (
        os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{(models_dir / 'mlflow.db').resolve()}"
    )


def connect(models_dir: Path) -> MlflowClient:
    """Point MLflow at the store (telemetry off) and make sure our experiment exists."""
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    models_dir.mkdir(parents=True, exist_ok=True)
    uri = tracking_uri(models_dir)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    client = MlflowClient(uri, uri)
    if client.get_experiment_by_name(EXPERIMENT) is None:
        artifacts = (models_dir / "artifacts").resolve().as_uri()
        client.create_experiment(EXPERIMENT, artifact_location=artifacts)
    return client


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
    experiment = client.get_experiment_by_name(EXPERIMENT)
    assert experiment is not None
    with (
        mlflow.start_run(experiment_id=experiment.experiment_id) as run,
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
        version = mlflow.register_model(info.model_uri, config.model.name)
        client.set_registered_model_alias(config.model.name, "challenger", version.version)
        return Registered(config.model.name, str(version.version), run.info.run_id)


def log_report(client: MlflowClient, run_id: str, path: Path) -> None:
    """Attach a rendered report to its run."""
    client.log_artifact(run_id, str(path))


def resolve(client: MlflowClient, name: str, alias: str) -> Registered | None:
    """The version behind an alias, or None when the alias is not set."""
    try:
        version = client.get_model_version_by_alias(name, alias)
    except mlflow.exceptions.MlflowException:
        return None
    return Registered(name, str(version.version), str(version.run_id))


@contextmanager
def downloaded(registered: Registered) -> Iterator[Path]:
    """A local copy of a registered version's artifacts, removed afterwards."""
    with tempfile.TemporaryDirectory() as tmp:
        uri = f"models:/{registered.name}/{registered.version}"
        yield Path(mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=tmp))


def load_model(registered: Registered) -> RiskModel:
    """The RiskModel bundle of a registered version."""
    with downloaded(registered) as folder:
        model = RiskModel.load(folder / "artifacts" / "bundle")
    model.metadata |= {
        "name": registered.name,
        "version": registered.version,
        "run_id": registered.run_id,
    }
    return model


def run_artifacts(client: MlflowClient, run_id: str) -> dict[str, Any]:
    """The evaluation and importance tables a run logged."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(
            mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="", dst_path=tmp)
        )
        return {
            "evaluation": json.loads((folder / "evaluation.json").read_text()),
            "importance": pd.read_csv(folder / "importance.csv"),
            "monthly_importance": pd.read_csv(folder / "monthly_importance.csv", index_col=0),
        }


def tag_version(client: MlflowClient, registered: Registered, tags: dict[str, Any]) -> None:
    for key, value in tags.items():
        client.set_model_version_tag(registered.name, registered.version, key, str(value))


def set_alias(client: MlflowClient, registered: Registered, alias: str) -> None:
    client.set_registered_model_alias(registered.name, alias, registered.version)
