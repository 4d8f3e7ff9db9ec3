"""Everything the managers' report shows, gathered in one frozen object.

The training entry point fills it from the evaluation, the model registry and the explanation
step; the report only reads it. Nothing here computes a metric.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from riskscore.report.card import Section

IMPORTANCE_COLUMNS: tuple[str, ...] = (
    "feature",
    "family",
    "meaning",
    "gain_share",
    "mean_abs_contribution",
    "direction",
)
DIRECTIONS: tuple[str, ...] = (
    "raises risk when high",
    "lowers risk when high",
    "depends on the category",
    "mixed",
)


# eq=False: the frames inside make field-by-field equality ambiguous, and nobody compares reports.
@dataclass(frozen=True, eq=False)
class ReportContext:
    """The figures and facts of one model version, ready to be rendered for managers.

    Attributes:
        model_name: Registered model name.
        model_version: Registered model version.
        model_alias: Registry alias the version carries, such as "champion".
        run_id: Tracking run that trained the model.
        git_commit: Commit of the code that trained it.
        trained_at: When training finished (ISO timestamp).
        windows: "train", "validation" and "test" mapped to (first day, last day), ISO dates.
        data_fingerprint: The dataset trained on: sha256, lines, documents, first, last.
        thresholds: red_share, yellow_share, red_score and yellow_score.
        evaluation: Exactly what `riskscore.training.evaluate.evaluate` returned.
        importance: One row per feature with `IMPORTANCE_COLUMNS`, by mean_abs_contribution
            descending; direction is one of `DIRECTIONS`.
        monthly_importance: Index of months "YYYY-MM", one column per top feature, values the
            mean absolute contribution of that feature that month.
        card: The model card's sections (`report.card.model_card`), empty for none.
    """

    model_name: str
    model_version: str
    model_alias: str
    run_id: str
    git_commit: str
    trained_at: str
    windows: dict[str, tuple[str, str]]
    data_fingerprint: dict[str, Any]
    thresholds: dict[str, float]
    evaluation: dict[str, Any]
    importance: pd.DataFrame
    monthly_importance: pd.DataFrame
    card: list[Section] = field(default_factory=list)

    def __post_init__(self) -> None:
        missing = [c for c in IMPORTANCE_COLUMNS if c not in self.importance.columns]
        if missing:
            raise ValueError(f"importance lacks columns {missing}")
        unknown = set(self.importance["direction"]) - set(DIRECTIONS)
        if unknown:
            raise ValueError(f"importance has unknown directions {sorted(unknown)}")
        absent = {"train", "validation", "test"} - set(self.windows)
        if absent:
            raise ValueError(f"windows lacks {sorted(absent)}")
