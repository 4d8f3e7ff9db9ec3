"""Whether the ranking holds month by month, and whether its score reads as a probability."""

from __future__ import annotations

from typing import Any

import pandas as pd

from riskscore.report.formatting import percent, shorten
from riskscore.report.trends import calibration_chart, importance_heatmap, precision_chart

_RANKERS: tuple[str, ...] = ("model", "legacy_rules")
_LABEL_WIDTH = 48


def _precision(evaluation: dict[str, Any]) -> tuple[list[str], dict[str, list[float | None]]]:
    key = "precision_truth" if "truth" in evaluation else "precision_labels"
    rows = [r for r in evaluation["monthly"] if r["ranker"] in _RANKERS]
    months = sorted({str(r["month"]) for r in rows})
    value = {(r["month"], r["ranker"]): r.get(key) for r in rows}
    series = {r: [value.get((m, r)) for m in months] for r in _RANKERS}
    return months, {r: v for r, v in series.items() if any(x is not None for x in v)}


def _of(part: int, whole: int) -> str:
    return f"all {whole}" if part == whole else f"{part} of the {whole}"


def _precision_sentence(series: dict[str, list[float | None]]) -> str:
    def spread(values: list[float | None]) -> str:
        known = [v for v in values if v is not None]
        return f"from {percent(min(known))} to {percent(max(known))}"

    if "model" not in series:
        return ""
    text = (
        "Month by month, the share of red-channel inspections that find a violation ran "
        f"{spread(series['model'])} for the model"
    )
    if "legacy_rules" not in series:
        return text + "."
    pairs = [
        (m, r)
        for m, r in zip(series["model"], series["legacy_rules"], strict=True)
        if m is not None and r is not None
    ]
    better = sum(m > r for m, r in pairs)
    return (
        f"{text} and {spread(series['legacy_rules'])} for the current rules. "
        f"The model did better in {_of(better, len(pairs))} months."
    )


def _importance(context_importance: pd.DataFrame, monthly: pd.DataFrame) -> dict[str, Any]:
    if monthly.empty:
        return {"chart": None, "sentence": ""}
    meaning = dict(zip(context_importance["feature"], context_importance["meaning"], strict=True))
    ordered = monthly[monthly.mean().sort_values(ascending=False).index].sort_index()
    labels = [shorten(str(meaning.get(f, f)), _LABEL_WIDTH) for f in ordered.columns]
    leader = ordered.idxmax(axis=1).value_counts()
    top = str(leader.index[0])
    sentence = (
        f"The strongest signal was \u201c{meaning.get(top, top)}\u201d in "
        f"{_of(int(leader.iloc[0]), len(ordered))} months of the test window."
    )
    return {"chart": importance_heatmap(ordered, labels), "sentence": sentence}


def stability_section(
    evaluation: dict[str, Any], importance: pd.DataFrame, monthly: pd.DataFrame
) -> dict[str, Any]:
    """Monthly precision at the red budget and the monthly weight of the top features."""
    months, series = _precision(evaluation)
    return {
        "truth": "truth" in evaluation,
        "precision_chart": precision_chart(months, series) if series else None,
        "precision_sentence": _precision_sentence(series),
        "importance": _importance(importance, monthly),
    }


def calibration_section(calibration: dict[str, Any]) -> dict[str, Any]:
    """Reliability diagram and Brier score against always answering the average rate."""
    predicted = [float(b["predicted"]) for b in calibration["bins"]]
    observed = [float(b["observed"]) for b in calibration["bins"]]
    brier, base = float(calibration["brier"]), float(calibration["brier_base_rate"])
    gap = sum(abs(p - o) for p, o in zip(predicted, observed, strict=True)) / max(len(predicted), 1)
    gain = 1 - brier / base if base > 0 else 0.0
    return {
        "chart": calibration_chart(predicted, observed) if predicted else None,
        "brier": f"{brier:.3f}",
        "base": f"{base:.3f}",
        "gain": percent(gain),
        "better": brier < base,
        "gap": f"{100 * gap:.1f}",
        "readable": gap <= 0.05,
        "lines": f"{int(calibration['lines']):,d}",
    }
