"""The MLflow model registry: connect, resolve an alias, load a model, set an alias, tag.

The store is SQLite under `models/` unless MLFLOW_TRACKING_URI says otherwise (PostgreSQL when
several replicas share one registry); artifacts go to `models/artifacts/`. Models are
registered under a name (`reexport-risk` by default) with aliases (`champion`, `challenger`),
never stages. The service, the report and promotion read models through this module alone;
`training/tracking.py` logs runs.

May import: `riskscore.model`, `riskscore.errors`, MLflow.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from riskscore.errors import ModelMismatchError, RegistryError
from riskscore.model import RiskModel

EXPERIMENT = "riskscore"
Client = MlflowClient
# A version tagged with this was registered with a reason not to promote it (promote --force).
WARNING_TAG = "quality_warning"
CARD = "model_card.md"  # the model card, logged with the run


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


def connect(models_dir: Path, create: bool = True) -> MlflowClient:
    """Point MLflow at the store (telemetry off) and make sure our experiment exists.

    Without `create`, a local store that does not exist yet is a RegistryError rather than a
    new empty one (the service and the report need models someone trained). MLflow's fluent
    API (`mlflow.start_run`, which training uses) reads process-wide URIs, so they are set
    here too: this is the one place that does it.
    """
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    # No download progress bars in logs (a service's log is JSON lines).
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    uri = tracking_uri(models_dir)
    local = Path(uri.removeprefix("sqlite:///")) if uri.startswith("sqlite:///") else None
    if not create and local is not None and not local.exists():
        raise RegistryError(f"no model registry at {local}: train and promote a model first "
                            "(or set RISKSCORE_MODELS_DIR)")  # fmt: skip
    models_dir.mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    client = MlflowClient(uri, uri)
    if client.get_experiment_by_name(EXPERIMENT) is None:
        artifacts = (models_dir / "artifacts").resolve().as_uri()
        client.create_experiment(EXPERIMENT, artifact_location=artifacts)
    return client


def register(client: MlflowClient, model_uri: str, name: str, alias: str) -> Registered:
    """Register a logged model as a new version of `name` and point `alias` at it."""
    version = mlflow.register_model(model_uri, name)
    client.set_registered_model_alias(name, alias, version.version)
    return Registered(name, str(version.version), str(version.run_id))


def resolve(client: MlflowClient, name: str, alias: str) -> Registered | None:
    """The version behind an alias, or None when the alias is not set."""
    try:
        version = client.get_model_version_by_alias(name, alias)
    except MlflowException:
        return None
    return Registered(name, str(version.version), str(version.run_id))


def require(client: MlflowClient, name: str, alias: str, hint: str) -> Registered:
    """The version behind an alias; a RegistryError ending with `hint` when there is none."""
    registered = resolve(client, name, alias)
    if registered is None:
        raise RegistryError(f"no {name}@{alias} in the registry: {hint}")
    return registered


@contextmanager
def downloaded(registered: Registered, path: str = "") -> Iterator[Path]:
    """A local copy of a registered version's artifacts (or of one `path` in them), removed
    afterwards."""
    with tempfile.TemporaryDirectory() as tmp:
        uri = f"models:/{registered.name}/{registered.version}"
        if path:
            uri += f"/{path}"
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


def check_features(registered: Registered, expected: tuple[str, ...]) -> None:
    """Refuse a version whose feature list does not start with `expected` (this code's fixed
    features) followed only by extra features (`extra_*`, declared by its dataset), reading
    only its small manifest (the service checks this before it loads anything heavy)."""
    with downloaded(registered, "artifacts/bundle/model.json") as manifest:
        names = tuple(json.loads(manifest.read_text())["feature_names"])
    fixed, rest = names[: len(expected)], names[len(expected) :]
    if fixed != expected or not all(n.startswith("extra_") for n in rest):
        raise ModelMismatchError.of(f"{registered.name} version {registered.version}", names,
                                    expected)  # fmt: skip


def run_artifacts(client: MlflowClient, run_id: str) -> dict[str, Any]:
    """The evaluation and importance tables a run logged (and its model card, "" if none)."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(
            mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="", dst_path=tmp)
        )
        card = folder / CARD
        return {
            "evaluation": json.loads((folder / "evaluation.json").read_text()),
            "importance": pd.read_csv(folder / "importance.csv"),
            "monthly_importance": pd.read_csv(folder / "monthly_importance.csv", index_col=0),
            "card": card.read_text() if card.exists() else "",
        }


def version_tags(client: MlflowClient, registered: Registered) -> dict[str, str]:
    """The tags of a registered version."""
    version = client.get_model_version(registered.name, registered.version)
    return dict(version.tags)


def attach(client: MlflowClient, run_id: str, path: Path) -> None:
    """Attach a file (a rendered report) to the run that produced a version."""
    client.log_artifact(run_id, str(path))


def tag_version(client: MlflowClient, registered: Registered, tags: dict[str, Any]) -> None:
    for key, value in tags.items():
        client.set_model_version_tag(registered.name, registered.version, key, str(value))


def set_alias(client: MlflowClient, registered: Registered, alias: str) -> None:
    client.set_registered_model_alias(registered.name, alias, registered.version)
