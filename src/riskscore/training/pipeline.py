"""One training run end to end, without MLflow: data -> features -> booster -> evaluation.

The model is fitted from what a customs service would have (documents, register, outcomes).
The synthetic world's truth is read only afterwards, to evaluate on the test window.
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from riskscore.data import World, load_world
from riskscore.data.inspections import rule_probability
from riskscore.data.io import read_table
from riskscore.features import CATEGORICAL, FEATURE_NAMES, build_features, fit_feature_stats
from riskscore.model import RiskModel
from riskscore.training.config import TrainConfig
from riskscore.training.evaluate import evaluate
from riskscore.training.importance import importance, monthly_importance
from riskscore.training.train import (
    attach_outcomes,
    channel_thresholds,
    fit_booster,
    labelled_masks,
    window_masks,
)

log = logging.getLogger(__name__)
_SAMPLE = 10_000  # test lines for the TreeSHAP importance tables (cost grows with the trees)


@dataclass
class TrainingResult:
    """What a run produced: the model and every figure and table about it."""

    model: RiskModel
    evaluation: dict[str, Any]
    importance: pd.DataFrame
    monthly_importance: pd.DataFrame
    fingerprint: dict[str, Any]
    counts: dict[str, int]


def fingerprint(directory: Path, documents: pd.DataFrame) -> dict[str, Any]:
    """Hash of the input files a model was trained on, with row counts and date range."""
    digest = hashlib.sha256()
    for name in ("documents", "firms", "outcomes"):
        path = Path(directory) / f"{name}.parquet"
        if path.exists():
            digest.update(path.read_bytes())
    return {
        "sha256": digest.hexdigest(),
        "lines": len(documents),
        "documents": int(documents["document_id"].nunique()),
        "first": str(documents["issued_at"].min().date()),
        "last": str(documents["issued_at"].max().date()),
    }


def document_max(lines: pd.DataFrame, score: np.ndarray) -> np.ndarray:
    """Highest line score of each document (documents in sorted id order)."""
    return (
        pd.Series(score, index=lines.index)
        .groupby(lines["document_id"].to_numpy())
        .max()
        .to_numpy()
    )


def train_model(
    directory: Path, config: TrainConfig, git_commit: str = "unknown"
) -> TrainingResult:
    """Fit, set channel thresholds on validation, evaluate on test."""
    began = time.perf_counter()
    world = load_world(directory, with_truth=False)
    documents = world.documents
    lines = attach_outcomes(documents, world.outcomes)
    windows = window_masks(lines, config.split)
    stats = fit_feature_stats(documents[windows["train"]])
    features = build_features(documents, stats, world.firms, world.outcomes)
    log.info("features of %d lines built (%.0f s)", len(features), time.perf_counter() - began)
    labelled = labelled_masks(lines, config.split)
    y = lines["violation_found"].to_numpy(dtype=int)
    booster = fit_booster(
        features[labelled["train"]], y[labelled["train"]],
        features[labelled["validation"]], y[labelled["validation"]],
        config.lightgbm, CATEGORICAL,
    )  # fmt: skip
    log.info(
        "booster trained: best iteration %d (%.0f s)",
        booster.best_iteration,
        time.perf_counter() - began,
    )
    model = RiskModel(booster, stats, FEATURE_NAMES, CATEGORICAL, thresholds={})
    valid = windows["validation"]
    model.thresholds = channel_thresholds(
        document_max(lines[valid], model.score(features[valid])), config.channels
    )
    model.metadata = {
        "windows": {k: [str(a), str(b)] for k, (a, b) in config.split.windows().items()},
        "fingerprint": fingerprint(directory, documents),
        "git_commit": git_commit,
        "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "best_iteration": booster.best_iteration,
        "data_dir": str(Path(directory).resolve()),
    }
    test = windows["test"]
    scored = score_window(model, world, features, lines, test, directory, config.lightgbm.seed)
    evaluation = evaluate(scored, red=config.channels.red_share)
    log.info("test window evaluated; computing importance (%.0f s)", time.perf_counter() - began)
    sample = features[test].sample(min(_SAMPLE, int(test.sum())), random_state=config.lightgbm.seed)
    months = lines.loc[sample.index, "issued_at"].dt.strftime("%Y-%m")
    counts = {f"{name}_labelled_lines": int(mask.sum()) for name, mask in labelled.items()}
    counts |= {f"{name}_positives": int(y[mask].sum()) for name, mask in labelled.items()}
    contributions = model.contributions(sample)  # once, for both tables
    return TrainingResult(
        model, evaluation, importance(model, sample, contributions),
        monthly_importance(model, sample, months, contributions),
        model.metadata["fingerprint"], counts,
    )  # fmt: skip


def _rule_columns(documents: pd.DataFrame) -> pa.Table:
    """The columns the legacy rules read, as Arrow (built column by column: pyarrow's
    from_pandas reads tz-aware columns through an API pandas 3.1 deprecates)."""
    names = (
        "document_id",
        "doc_type",
        "flow",
        "hs_code",
        "dispatch_country",
        "destination_country",
    )
    columns = {
        name: pa.array(documents[name].to_numpy(dtype=object), pa.string()) for name in names
    }
    micros = documents["issued_at"].dt.tz_convert(None).to_numpy().astype("datetime64[us]")
    columns["issued_at"] = pa.array(micros.astype("int64"), pa.int64()).cast(
        pa.timestamp("us", "UTC")
    )
    return pa.table(columns)


def score_window(
    model: RiskModel,
    world: World,
    features: pd.DataFrame,
    lines: pd.DataFrame,
    window: np.ndarray,
    directory: Path,
    seed: int,
) -> pd.DataFrame:
    """The test window's lines with every ranker's score and both label sets."""
    documents = world.documents[window]
    scored = lines[window].copy()
    scored["model"] = model.score(features[window])
    scored["legacy_rules"] = rule_probability(_rule_columns(documents))
    # One draw per document: a draw per line would favour documents with many lines.
    document_codes = pd.factorize(scored["document_id"])[0]
    draws = np.random.default_rng(seed).random(int(document_codes.max(initial=-1)) + 1)
    scored["random"] = draws[document_codes]
    truth_path = Path(directory) / "truth.parquet"
    if truth_path.exists():  # generated data: evaluate against what really happened too
        truth = read_table(truth_path, "truth").set_index(["document_id", "item_no"])
        keys = pd.MultiIndex.from_frame(documents[["document_id", "item_no"]])
        aligned = truth.reindex(keys)
        scored["oracle"] = aligned["p_evasion"].to_numpy()
        scored["is_evasion"] = aligned["is_evasion"].fillna(False).to_numpy(dtype=bool)
        scored["typology"] = aligned["typology"].to_numpy()
    return scored
