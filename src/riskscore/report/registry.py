"""The report of a registered model version, assembled from the registry and its run."""

from __future__ import annotations

from pathlib import Path

from mlflow.tracking import MlflowClient

from riskscore.report.context import ReportContext
from riskscore.report.html import write_report
from riskscore.training import tracking


def context_from_registry(client: MlflowClient, name: str, alias: str) -> ReportContext:
    """Everything the report shows about the version behind `alias`."""
    registered = tracking.resolve(client, name, alias)
    if registered is None:
        raise tracking.RegistryError(f"model {name!r} has no version with alias {alias!r}")
    model = tracking.load_model(registered)
    logged = tracking.run_artifacts(client, registered.run_id)
    meta = model.metadata
    return ReportContext(
        model_name=name,
        model_version=registered.version,
        model_alias=alias,
        run_id=registered.run_id,
        git_commit=str(meta.get("git_commit", "unknown")),
        trained_at=str(meta.get("trained_at", "")),
        windows={k: (str(v[0]), str(v[1])) for k, v in meta["windows"].items()},
        data_fingerprint=meta["fingerprint"],
        thresholds=model.thresholds,
        evaluation=logged["evaluation"],
        importance=logged["importance"],
        monthly_importance=logged["monthly_importance"],
    )


def report_to(client: MlflowClient, name: str, alias: str, out: Path) -> Path:
    """Write the report of the version behind `alias` to `out` and attach it to its run."""
    context = context_from_registry(client, name, alias)
    path = write_report(context, out)
    tracking.log_report(client, context.run_id, path)
    return path
