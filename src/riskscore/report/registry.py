"""The report of a registered model version, assembled from the registry and its run."""

from __future__ import annotations

from pathlib import Path

from riskscore import registry
from riskscore.registry import Client
from riskscore.report.card import model_card
from riskscore.report.context import ReportContext
from riskscore.report.html import write_report


def context_from_registry(client: Client, name: str, alias: str) -> ReportContext:
    """Everything the report shows about the version behind `alias`."""
    registered = registry.require(client, name, alias, "train (and promote) a model first")
    model = registry.load_model(registered)
    logged = registry.run_artifacts(client, registered.run_id)
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
        card=model_card(name, registered.version, meta, model.thresholds, logged["evaluation"]),
    )


def report_to(client: Client, name: str, alias: str, out: Path) -> Path:
    """Write the report of the version behind `alias` to `out` and attach it to its run."""
    context = context_from_registry(client, name, alias)
    path = write_report(context, out)
    registry.attach(client, context.run_id, path)
    return path
