"""One training run end to end, without MLflow: data -> features -> booster -> evaluation.

The model is fitted from what a customs service would have (documents, register, outcomes).
What evaluation compares it with beyond the inspected labels (the ground truth of generated
data, a legacy-rules ranker) is handed in as `Baselines`; nothing here opens a dataset's
files or knows the synthetic world.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from riskscore.data import World
from riskscore.features import (
    CATEGORICAL,
    FEATURE_NAMES,
    FeatureStats,
    build_features,
    fit_feature_stats,
)
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


# A ranker scores each line of a documents frame (higher: inspect first).
Ranker = Callable[[pd.DataFrame], np.ndarray]


@dataclass(frozen=True)
class Baselines:
    """What evaluation compares the model with, beyond the inspected labels, when known.

    `truth` has per line (document_id, item_no) `is_evasion`, `typology` and `p_evasion` (the
    generator's chain-start probability, shown as the oracle); `legacy_rules` ranks lines as
    today's selectivity rules would.
    """

    truth: pd.DataFrame | None = None
    legacy_rules: Ranker | None = None


@dataclass
class TrainingResult:
    """What a run produced: the model and every figure and table about it."""

    model: RiskModel
    evaluation: dict[str, Any]
    importance: pd.DataFrame
    monthly_importance: pd.DataFrame
    fingerprint: dict[str, Any]
    counts: dict[str, int]


def fingerprint(world: World) -> dict[str, Any]:
    """What a model was fitted from: the dataset's digest, row counts and date range."""
    documents = world.documents
    return {
        "sha256": world.digest,
        "lines": len(documents),
        "documents": int(documents["document_id"].nunique()),
        "first": str(documents["issued_at"].min().date()),
        "last": str(documents["issued_at"].max().date()),
    }


def world_features(world: World, train: np.ndarray) -> tuple[FeatureStats, pd.DataFrame]:
    """Statistics fitted on the `train` lines, and every line's features with them."""
    documents = world.documents
    stats = fit_feature_stats(documents[train])
    return stats, build_features(documents, stats, world.firms, world.outcomes)


def document_max(lines: pd.DataFrame, score: np.ndarray) -> np.ndarray:
    """Highest line score of each document (documents in sorted id order)."""
    return (
        pd.Series(score, index=lines.index)
        .groupby(lines["document_id"].to_numpy())
        .max()
        .to_numpy()
    )


def train_model(
    world: World,
    config: TrainConfig,
    baselines: Baselines | None = None,
    git_commit: str = "unknown",
) -> TrainingResult:
    """Fit on `world` (its truth, if any, is never read), set channel thresholds on
    validation, evaluate on test against the `baselines`."""
    began = time.perf_counter()
    world = world.without_truth()
    documents = world.documents
    lines = attach_outcomes(documents, world.outcomes)
    windows = window_masks(lines, config.split)
    stats, features = world_features(world, windows["train"])
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
        "fingerprint": fingerprint(world),
        "git_commit": git_commit,
        "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "best_iteration": booster.best_iteration,
        "data_dir": str(world.source),
    }
    test = windows["test"]
    scored = score_window(
        model, documents, features, lines, test, baselines or Baselines(), config.lightgbm.seed
    )
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


def score_window(
    model: RiskModel,
    documents: pd.DataFrame,
    features: pd.DataFrame,
    lines: pd.DataFrame,
    window: np.ndarray,
    baselines: Baselines,
    seed: int,
) -> pd.DataFrame:
    """The window's lines with every ranker's score, the labels and, when known, the truth."""
    in_window = documents[window]
    scored = lines[window].copy()
    scored["model"] = model.score(features[window])
    if baselines.legacy_rules is not None:
        scored["legacy_rules"] = baselines.legacy_rules(in_window)
    # One draw per document: a draw per line would favour documents with many lines.
    document_codes = pd.factorize(scored["document_id"])[0]
    draws = np.random.default_rng(seed).random(int(document_codes.max(initial=-1)) + 1)
    scored["random"] = draws[document_codes]
    if baselines.truth is not None:  # generated data: what really happened, too
        truth = baselines.truth.set_index(["document_id", "item_no"])
        keys = pd.MultiIndex.from_frame(in_window[["document_id", "item_no"]])
        aligned = truth.reindex(keys)
        scored["oracle"] = aligned["p_evasion"].to_numpy()
        scored["is_evasion"] = aligned["is_evasion"].fillna(False).to_numpy(dtype=bool)
        scored["typology"] = aligned["typology"].to_numpy()
    return scored
