"""Scoring a whole dataset offline: what the service would decide for each document.

The features come from `build_features`, the batch pipeline the parity test holds the service
to, so every line is scored on its point-in-time history within the dataset. Channels come
from the model's thresholds; the random share is the live service's policy and is not drawn
here. Reasons (TreeSHAP) are given for the lines of yellow and red documents, in chunks, so
that progress can be shown.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from riskscore.features import FEATURE_NAMES, build_features
from riskscore.service.runtime import ModelRuntime

_CHUNK = 5_000


def score_dataset(
    documents: pd.DataFrame,
    firms: pd.DataFrame | None,
    outcomes: pd.DataFrame | None,
    runtime: ModelRuntime,
    progress: Callable[[float], None] = lambda share: None,
) -> pd.DataFrame:
    """One row per line: document_id, item_no, issued_at, doc_type, score, document_score,
    channel and reasons (a list of {feature, value, contribution, sentence})."""
    features = build_features(documents, runtime.model.stats, firms, outcomes)
    progress(0.5)
    matrix = features[list(FEATURE_NAMES)].to_numpy(dtype=float)
    scores = runtime.score(matrix)
    document_score = (
        pd.Series(scores, index=documents.index)
        .groupby(documents["document_id"].to_numpy())
        .transform("max")
    )
    channel = document_score.map(runtime.channel)
    reasons: list[list[dict[str, Any]]] = [[] for _ in range(len(documents))]
    flagged = np.flatnonzero((channel != "green").to_numpy())
    for start in range(0, len(flagged), _CHUNK):
        rows = flagged[start : start + _CHUNK]
        for row, found in zip(rows, runtime.reasons(matrix[rows]), strict=True):
            reasons[row] = [r.model_dump() | {"value": _text(r.value)} for r in found]
        progress(0.5 + 0.5 * min(1.0, (start + _CHUNK) / len(flagged)))
    progress(1.0)
    return pd.DataFrame({
        "document_id": documents["document_id"].to_numpy(),
        "item_no": documents["item_no"].to_numpy(),
        "issued_at": documents["issued_at"].to_numpy(),
        "doc_type": documents["doc_type"].to_numpy(),
        "score": scores,
        "document_score": document_score.to_numpy(),
        "channel": channel.to_numpy(),
        "reasons": reasons,
    })  # fmt: skip


def _text(value: float | str | None) -> str | None:
    """A reason's value as text (a category's code or a number), so the column has one type."""
    return None if value is None else str(value)
