"""What drives the scores: gain and TreeSHAP contributions, with the direction of each effect."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from riskscore.features import specs_of
from riskscore.features.catalogue import Spec
from riskscore.model import RiskModel


def importance(
    model: RiskModel,
    features: pd.DataFrame,
    contributions: np.ndarray | None = None,
    specs: dict[str, Spec] | None = None,
) -> pd.DataFrame:
    """One row per feature: gain share, mean |contribution| and direction, most important first.

    Direction is the sign of the rank correlation between a numeric feature's value and its
    contribution: "raises risk when high" or "lowers risk when high" (weak: "mixed").
    """
    contrib = (model.contributions(features) if contributions is None else contributions)[:, :-1]
    gain = model.booster.feature_importance("gain")
    specs = specs or {s.name: s for s in specs_of(model.stats)}
    rows = []
    for j, name in enumerate(model.feature_names):
        rows.append(
            {
                "feature": name,
                "family": specs[name].family,
                "meaning": specs[name].meaning,
                "gain_share": float(gain[j] / max(gain.sum(), 1e-12)),
                "mean_abs_contribution": float(np.abs(contrib[:, j]).mean()),
                "direction": _direction(
                    name, features[name].to_numpy(), contrib[:, j], specs[name].categorical
                ),
            }
        )
    table = pd.DataFrame(rows)
    return table.sort_values("mean_abs_contribution", ascending=False, ignore_index=True)


def _direction(name: str, values: np.ndarray, contribution: np.ndarray, categorical: bool) -> str:
    if categorical:
        return "depends on the category"
    known = ~np.isnan(values)
    if known.sum() < 10 or np.ptp(values[known]) == 0 or np.ptp(contribution[known]) == 0:
        return "mixed"
    rho = float(spearmanr(values[known], contribution[known]).statistic)
    if rho > 0.2:
        return "raises risk when high"
    return "lowers risk when high" if rho < -0.2 else "mixed"


def monthly_importance(
    model: RiskModel,
    features: pd.DataFrame,
    months: pd.Series,
    contributions: np.ndarray | None = None,
    top: int = 8,
) -> pd.DataFrame:
    """Mean |contribution| per month of the `top` features overall: is the story stable?"""
    raw = model.contributions(features) if contributions is None else contributions
    contrib = np.abs(raw[:, :-1])
    frame = pd.DataFrame(contrib, columns=list(model.feature_names), index=features.index)
    keep = frame.mean().sort_values(ascending=False).index[:top]
    return frame[keep].groupby(months.to_numpy()).mean()
