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
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from riskscore.data import World
from riskscore.features import (
    FeatureStats,
    build_features,
    categorical_names,
    feature_names,
    fit_feature_stats,
    specs_of,
)
from riskscore.model import RiskModel
from riskscore.training.config import TrainConfig
from riskscore.training.evaluate import documents_of, evaluate, top_share
from riskscore.training.importance import importance, monthly_importance
from riskscore.training.split import check_split, labels_outside, window_masks
from riskscore.training.train import (
    attach_outcomes,
    channel_thresholds,
    fit_booster,
    labelled_masks,
)

log = logging.getLogger(__name__)
_SAMPLE = 10_000  # test lines for the TreeSHAP importance tables (cost grows with the trees)
# The raw-columns baseline reads only what a line and its document say by themselves.
_RAW_LOOKBACKS = frozenset({"this line", "this document"})


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
    """What a run produced: the model and every figure and table about it.

    `started_at` is when the run began (epoch milliseconds), so that its record shows the
    time training took; `warnings` say why the model should not be promoted without a look.
    """

    model: RiskModel
    evaluation: dict[str, Any]
    importance: pd.DataFrame
    monthly_importance: pd.DataFrame
    fingerprint: dict[str, Any]
    counts: dict[str, int]
    started_at: int = 0
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Fitted:
    """The features, labels and windows of one dataset under one split (`prepare_training`)."""

    lines: pd.DataFrame
    features: pd.DataFrame
    windows: dict[str, np.ndarray]
    labelled: dict[str, np.ndarray]
    y: np.ndarray


def fingerprint(world: World) -> dict[str, Any]:
    """What a model was fitted from: the dataset's digest, row counts and date range."""
    documents = world.documents
    return {
        "sha256": world.digest,
        "lines": len(documents),
        "documents": int(documents["document_id"].nunique()),
        "first": str(documents["issued_at"].min().date()),
        "last": str(documents["issued_at"].max().date()),
        "home_country": world.info.home_country,
        "extras": len(world.info.extras),
    }


def world_features(world: World, train: np.ndarray) -> tuple[FeatureStats, pd.DataFrame]:
    """Statistics fitted on the `train` lines, and every line's features with them."""
    documents = world.documents
    info = world.info
    stats = fit_feature_stats(documents[train], info.home_country, dict(info.extras))
    return stats, build_features(documents, stats, world.firms, world.outcomes)


def document_max(lines: pd.DataFrame, score: np.ndarray) -> np.ndarray:
    """Highest line score of each document (documents in sorted id order)."""
    return (
        pd.Series(score, index=lines.index)
        .groupby(lines["document_id"].to_numpy())
        .max()
        .to_numpy()
    )


def raw_names(stats: FeatureStats) -> tuple[str, ...]:
    """The features of the raw-columns baseline: what a line and its document say by
    themselves (codes, values, extras), no history and no fitted statistics."""
    return tuple(s.name for s in specs_of(stats) if s.lookback in _RAW_LOOKBACKS)


def prepare_training(
    world: World, config: TrainConfig
) -> tuple[FeatureStats, Fitted, dict[str, int]]:
    """Labels, windows and features; refuses (TrainingError) a split that cannot train."""
    began = time.perf_counter()
    lines = attach_outcomes(world.documents, world.outcomes)
    windows = window_masks(lines, config.split)
    labelled = labelled_masks(lines, config.split)
    y = lines["violation_found"].to_numpy(dtype=int)
    positives = {name: int(y[mask].sum()) for name, mask in labelled.items()}
    issued = lines["issued_at"]
    check_split(windows, positives, config.split, (issued.min().date(), issued.max().date()))
    stats, features = world_features(world, windows["train"])
    log.info("features of %d lines built (%.0f s)", len(features), time.perf_counter() - began)
    counts = {f"{name}_labelled_lines": int(mask.sum()) for name, mask in labelled.items()}
    counts |= {f"{name}_positives": n for name, n in positives.items()}
    counts |= labels_outside(lines["inspected"].to_numpy(dtype=bool), windows, labelled)
    return stats, Fitted(lines, features, windows, labelled, y), counts


def _fit(fitted: Fitted, names: tuple[str, ...], categorical: tuple[str, ...],
         config: TrainConfig) -> Any:  # fmt: skip
    """A booster on the `names` columns of the labelled train lines, stopped on validation."""
    train, valid = fitted.labelled["train"], fitted.labelled["validation"]
    x = fitted.features[list(names)]
    return fit_booster(x[train], fitted.y[train], x[valid], fitted.y[valid], config.lightgbm,
                       tuple(c for c in categorical if c in names))  # fmt: skip


def train_model(
    world: World,
    config: TrainConfig,
    baselines: Baselines | None = None,
    git_commit: str = "unknown",
) -> TrainingResult:
    """Fit on `world` (its truth, if any, is never read), set channel thresholds on
    validation, evaluate on test against the `baselines` and a LightGBM on the raw columns."""
    started_at = int(time.time() * 1000)
    world = world.without_truth()
    stats, fitted, counts = prepare_training(world, config)
    names, categorical = feature_names(stats), categorical_names(stats)
    booster = _fit(fitted, names, categorical, config)
    log.info("booster trained: best iteration %d", booster.best_iteration)
    model = RiskModel(booster, stats, names, categorical, thresholds={})
    valid = fitted.windows["validation"]
    model.thresholds = channel_thresholds(
        document_max(fitted.lines[valid], model.score(fitted.features[valid])), config.channels
    )
    model.metadata = {
        "windows": {k: [str(a), str(b)] for k, (a, b) in config.split.windows().items()},
        "split_source": config.split.source,
        "fingerprint": fingerprint(world),
        "git_commit": git_commit,
        "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "best_iteration": booster.best_iteration,
        "data_dir": str(world.source),
        "label_source": "inspection outcomes (inspected lines only; uninspected are unlabelled)",
    }
    warnings = _warnings(model, fitted, counts, config)
    model.metadata["warnings"] = warnings
    raw = RiskModel(_fit(fitted, raw_names(stats), categorical, config), stats,
                    raw_names(stats), categorical, thresholds={})  # fmt: skip
    test = fitted.windows["test"]
    scored = score_window(model, world.documents, fitted.features, fitted.lines, test,
                          baselines or Baselines(), config.lightgbm.seed)  # fmt: skip
    scored["raw_lightgbm"] = raw.score(fitted.features[test])
    evaluation = evaluate(scored, red=config.channels.red_share)
    evaluation["labels_left_out"] = {k: v for k, v in counts.items() if "labels_" in k}
    return _explained(model, fitted, evaluation, counts, (started_at, warnings, config))


def _warnings(
    model: RiskModel, fitted: Fitted, counts: dict[str, int], config: TrainConfig
) -> list[str]:
    """Why this model should not be promoted without a look (empty: no reason)."""
    warnings = []
    floor = config.guard.min_train_positives
    if counts["train_positives"] < floor:
        warnings.append(f"trained on {counts['train_positives']} positive labels, fewer than "
                        f"the {floor} the config asks for")  # fmt: skip
    valid = fitted.labelled["validation"]
    scored = fitted.lines[valid].assign(model=model.score(fitted.features[valid]))
    docs = documents_of(scored)
    chosen = top_share(docs["model"].to_numpy(dtype=float), config.channels.red_share)
    found = docs["violation_found"].to_numpy(dtype=bool)
    precision, base = float(found[chosen].mean()), float(found.mean())
    if precision <= base:
        warnings.append(f"on validation it does not beat random selection at the red budget "
                        f"(precision {precision:.3f} against {base:.3f} at random)")  # fmt: skip
    return warnings


def _explained(
    model: RiskModel,
    fitted: Fitted,
    evaluation: dict[str, Any],
    counts: dict[str, int],
    run: tuple[int, list[str], TrainConfig],
) -> TrainingResult:
    """The result with its importance tables (TreeSHAP on a sample of test lines)."""
    started_at, warnings, config = run
    test = fitted.windows["test"]
    sample = fitted.features[test].sample(min(_SAMPLE, int(test.sum())),
                                          random_state=config.lightgbm.seed)  # fmt: skip
    months = fitted.lines.loc[sample.index, "issued_at"].dt.strftime("%Y-%m")
    contributions = model.contributions(sample)  # once, for both tables
    specs = {s.name: s for s in specs_of(model.stats)}
    return TrainingResult(
        model, evaluation, importance(model, sample, contributions, specs),
        monthly_importance(model, sample, months, contributions),
        model.metadata["fingerprint"], counts, started_at, warnings,
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
    scored["doc_type"] = in_window["doc_type"].to_numpy()
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
