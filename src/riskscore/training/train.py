"""Core training: labels from inspections, the time split, the booster, channel thresholds.

Plain objects in and out (frames, params, booster), so every step is testable without MLflow.
"""

from __future__ import annotations

from datetime import date

import lightgbm as lgb
import numpy as np
import pandas as pd

from riskscore.training.config import Channels, LightGBMParams, Split
from riskscore.training.split import window_masks

KEYS = ["document_id", "item_no"]


def attach_outcomes(documents: pd.DataFrame, outcomes: pd.DataFrame | None) -> pd.DataFrame:
    """Line keys and times with `inspected`, `violation_found` and `recorded_at` of the outcome.

    Uninspected lines are not negatives: they have `inspected` False and no label.
    """
    lines = documents[[*KEYS, "issued_at"]].copy()
    if outcomes is None or outcomes.empty:
        lines["inspected"] = False
        lines["violation_found"] = False
        lines["recorded_at"] = pd.NaT
        return lines
    per_line = outcomes.groupby(KEYS, sort=False).agg(
        violation_found=("violation_found", "any"), recorded_at=("recorded_at", "min")
    )
    # A violation is known when it is recorded, not when an earlier clean result was.
    found_at = outcomes[outcomes["violation_found"]].groupby(KEYS, sort=False)["recorded_at"].min()
    per_line["recorded_at"] = found_at.reindex(per_line.index).fillna(per_line["recorded_at"])
    joined = lines.join(per_line, on=KEYS)
    joined["inspected"] = joined["recorded_at"].notna()
    joined["violation_found"] = (
        joined["violation_found"].astype("boolean").fillna(False).astype(bool)
    )
    return joined


def _utc(day: date) -> pd.Timestamp:
    return pd.Timestamp(day, tz="UTC")


def labelled_masks(lines: pd.DataFrame, split: Split) -> dict[str, np.ndarray]:
    """Lines that carry a usable label in each window.

    A train label counts when it was recorded before validation starts, a validation label
    before test starts: what the service would have known when the model was trained.
    """
    masks = window_masks(lines, split)
    windows = split.windows()
    known_by = {"train": windows["validation"][0], "validation": windows["test"][0]}
    out = {}
    for name, mask in masks.items():
        labelled = mask & lines["inspected"].to_numpy()
        if name in known_by:
            labelled &= (lines["recorded_at"] < _utc(known_by[name])).to_numpy()
        out[name] = labelled
    return out


def fit_booster(
    x_train: pd.DataFrame,
    y_train: np.ndarray,
    x_valid: pd.DataFrame,
    y_valid: np.ndarray,
    params: LightGBMParams,
    categorical: tuple[str, ...],
) -> lgb.Booster:
    """LightGBM with early stopping on the validation window's labels."""
    native = {
        "objective": "binary",
        "metric": "average_precision",
        "num_leaves": params.num_leaves,
        "max_depth": params.max_depth,
        "learning_rate": params.learning_rate,
        "min_data_in_leaf": params.min_data_in_leaf,
        "feature_fraction": params.feature_fraction,
        "bagging_fraction": params.bagging_fraction,
        "bagging_freq": params.bagging_freq,
        "lambda_l2": params.lambda_l2,
        "seed": params.seed,
        "deterministic": True,
        "force_row_wise": True,
        "num_threads": 2,
        "verbose": -1,
    }
    train = lgb.Dataset(
        x_train, y_train, categorical_feature=list(categorical), free_raw_data=False
    )
    valid = lgb.Dataset(x_valid, y_valid, reference=train)
    return lgb.train(
        native,
        train,
        num_boost_round=params.num_boost_round,
        valid_sets=[valid],
        callbacks=[lgb.early_stopping(params.early_stopping_rounds, verbose=False)],
    )


def channel_thresholds(document_scores: np.ndarray, channels: Channels) -> dict[str, float]:
    """Score thresholds that send `red_share` and `yellow_share` of documents to each channel.

    >>> t = channel_thresholds(np.linspace(0, 1, 101), Channels(red_share=0.1, yellow_share=0.2))
    >>> round(t["red_score"], 2), round(t["yellow_score"], 2)
    (0.9, 0.7)
    """
    red = float(np.quantile(document_scores, 1 - channels.red_share))
    yellow = float(np.quantile(document_scores, 1 - channels.red_share - channels.yellow_share))
    return {
        "red_score": red,
        "yellow_score": min(yellow, red),
        "red_share": channels.red_share,
        "yellow_share": channels.yellow_share,
    }
