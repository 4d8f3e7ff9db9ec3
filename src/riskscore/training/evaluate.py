"""Evaluation on the test window: the inspection-budget view customs uses, against baselines.

Documents are what officers inspect, so rankings are by document (the highest line score).
Two label sets: the *inspected labels* (what a customs service sees: only inspected documents,
violation found or not) and, for generated data, the *truth* (every document). Every ranker is
scored on exactly the same documents. Top-k% precision and recall are our own code: scikit-learn
has no "top share of documents" metric; PR-AUC, ROC-AUC, calibration and Brier come from it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import binomtest
from sklearn.calibration import calibration_curve
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

BUDGETS: tuple[float, ...] = (0.01, 0.02, 0.05, 0.10)
# raw_lightgbm: the same LightGBM on the raw columns only (no history features, same split).
RANKERS: tuple[str, ...] = ("model", "raw_lightgbm", "legacy_rules", "random", "oracle")


def documents_of(lines: pd.DataFrame) -> pd.DataFrame:
    """One row per document: the highest score of each ranker, labels, month.

    `lines` has document_id, issued_at, one column per ranker, and `inspected`,
    `violation_found`, optionally `is_evasion` and `typology`.
    """
    rankers = [r for r in RANKERS if r in lines]
    agg: dict[str, tuple[str, str]] = {r: (r, "max") for r in rankers}
    agg |= {"issued_at": ("issued_at", "first"), "inspected": ("inspected", "any")}
    if "doc_type" in lines:
        agg["doc_type"] = ("doc_type", "first")
    agg["violation_found"] = ("violation_found", "any")
    if "is_evasion" in lines:
        agg["is_evasion"] = ("is_evasion", "any")
    docs = lines.groupby("document_id", sort=True).agg(**agg)
    docs["month"] = docs["issued_at"].dt.strftime("%Y-%m")
    return docs


def top_share(score: np.ndarray, share: float, seed: int = 0) -> np.ndarray:
    """Mask of the top `share` of items by score; ties are broken at random, reproducibly.

    >>> top_share(np.array([0.1, 0.9, 0.5, 0.9]), 0.5).tolist()
    [False, True, False, True]
    """
    count = max(1, round(len(score) * share))
    tiebreak = np.random.default_rng(seed).random(len(score))
    order = np.lexsort((tiebreak, -score))
    mask = np.zeros(len(score), dtype=bool)
    mask[order[:count]] = True
    return mask


def budget_rows(docs: pd.DataFrame, label: str, budgets: tuple[float, ...]) -> list[dict[str, Any]]:
    """Precision, recall and violations caught when inspecting the top share of documents."""
    y = docs[label].to_numpy(dtype=bool)
    rows = []
    for ranker in (r for r in RANKERS if r in docs):
        for budget in budgets:
            chosen = top_share(docs[ranker].to_numpy(dtype=float), budget)
            caught = int((chosen & y).sum())
            rows.append(
                {
                    "ranker": ranker,
                    "budget": budget,
                    "selected": int(chosen.sum()),
                    "caught": caught,
                    "precision": caught / max(int(chosen.sum()), 1),
                    "precision_ci95": wilson(caught, int(chosen.sum())),
                    "recall": caught / max(int(y.sum()), 1),
                    "recall_ci95": wilson(caught, int(y.sum())),
                }
            )
    return rows


def wilson(successes: int, trials: int) -> list[float] | None:
    """95 % Wilson score interval of a proportion (None without trials): honest where counts
    are small, unlike the normal approximation.

    >>> [round(x, 3) for x in wilson(8, 10)]
    [0.49, 0.943]
    """
    if trials <= 0:
        return None
    interval = binomtest(successes, trials).proportion_ci(0.95, method="wilson")
    return [float(interval.low), float(interval.high)]


def _curves(docs: pd.DataFrame, label: str) -> dict[str, dict[str, float]]:
    y = docs[label].to_numpy(dtype=bool)
    if y.all() or not y.any():
        return {}
    return {
        "pr_auc": {r: float(average_precision_score(y, docs[r])) for r in RANKERS if r in docs},
        "roc_auc": {r: float(roc_auc_score(y, docs[r])) for r in RANKERS if r in docs},
    }


def _label_view(docs: pd.DataFrame, label: str, budgets: tuple[float, ...]) -> dict[str, Any]:
    return {
        "documents": len(docs),
        "positives": int(docs[label].sum()),
        **_curves(docs, label),
        "budgets": budget_rows(docs, label, budgets),
    }


def typology_recall(
    lines: pd.DataFrame, docs: pd.DataFrame, budgets: tuple[float, ...]
) -> list[dict[str, Any]]:
    """Share of each typology's evasion documents that each ranker's budget selects."""
    evasion = lines[lines["is_evasion"]].drop_duplicates(["document_id", "typology"])
    rows = []
    for ranker in (r for r in RANKERS if r in docs):
        for budget in budgets:
            chosen = pd.Series(top_share(docs[ranker].to_numpy(dtype=float), budget), docs.index)
            hit = evasion["document_id"].map(chosen)
            for typology, found in hit.groupby(evasion["typology"].to_numpy()):
                rows.append(
                    {"ranker": ranker, "budget": budget, "typology": typology,
                     "documents": len(found), "recall": float(found.mean())}
                )  # fmt: skip
    return rows


def monthly(docs: pd.DataFrame, budget: float) -> list[dict[str, Any]]:
    """Precision at the budget for each month of the window: does the ranking hold over time?"""
    rows = []
    for month, group in docs.groupby("month"):
        for ranker in (r for r in RANKERS if r in group):
            chosen = top_share(group[ranker].to_numpy(dtype=float), budget)
            row: dict[str, Any] = {"month": month, "ranker": ranker, "documents": len(group)}
            if "is_evasion" in group:
                row["precision_truth"] = float(group["is_evasion"].to_numpy()[chosen].mean())
            inspected = group["inspected"].to_numpy() & chosen
            found = group["violation_found"].to_numpy()[inspected]
            row["precision_labels"] = float(found.mean()) if inspected.any() else None
            rows.append(row)
    return rows


def calibration(label: np.ndarray, score: np.ndarray, bins: int = 10) -> dict[str, Any]:
    """Reliability curve (quantile bins) and Brier score of line scores on inspected lines."""
    observed, predicted = calibration_curve(label, score, n_bins=bins, strategy="quantile")
    return {
        "brier": float(brier_score_loss(label, score)),
        "brier_base_rate": float(brier_score_loss(label, np.full(len(label), label.mean()))),
        "bins": [
            {"predicted": float(p), "observed": float(o)}
            for p, o in zip(predicted, observed, strict=True)
        ],
        "lines": len(label),
    }


def evaluate(
    lines: pd.DataFrame, budgets: tuple[float, ...] = BUDGETS, red: float = 0.02
) -> dict[str, Any]:
    """Every figure of the test window, JSON-ready (see the module docstring)."""
    docs = documents_of(lines)
    inspected = docs[docs["inspected"]]
    result: dict[str, Any] = {
        "window": {"start": str(docs["issued_at"].min()), "end": str(docs["issued_at"].max())},
        "documents": len(docs),
        "lines": len(lines),
        "labels": _label_view(inspected, "violation_found", budgets),
        "monthly": monthly(docs, red),
    }
    labelled = lines[lines["inspected"]]
    result["calibration"] = calibration(
        labelled["violation_found"].to_numpy(dtype=int), labelled["model"].to_numpy(dtype=float)
    )
    if "is_evasion" in lines:
        result["truth"] = _label_view(docs, "is_evasion", budgets)
        result["truth"]["typology_recall"] = typology_recall(lines, docs, budgets)
    if "doc_type" in docs:
        result["by_doc_type"] = by_doc_type(docs, budgets)
    return result


def by_doc_type(docs: pd.DataFrame, budgets: tuple[float, ...]) -> dict[str, dict[str, Any]]:
    """The label (and truth) views of each document type on its own: a budget spent on DTs
    alone, on SNTs alone, ..."""
    out: dict[str, dict[str, Any]] = {}
    for doc_type, group in docs.groupby("doc_type"):
        inspected = group[group["inspected"]]
        views: dict[str, Any] = {"labels": _label_view(inspected, "violation_found", budgets)}
        if "is_evasion" in group:
            views["truth"] = _label_view(group, "is_evasion", budgets)
        out[str(doc_type)] = views
    return out
