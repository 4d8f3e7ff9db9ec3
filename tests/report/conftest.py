"""A realistic report context: a twelve-month test window of generated data, with the truth.

Hand-made figures shaped exactly like `riskscore.training.evaluate.evaluate` returns them, a
20-feature importance frame and twelve months of feature weights.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

from riskscore.report import ReportContext, render_report

BUDGETS = (0.01, 0.02, 0.05, 0.10)
MONTHS = [f"2024-{m:02d}" for m in range(1, 13)]
TYPOLOGIES = {  # typology: (documents, model recall at 2 %, rules recall at 2 %)
    "pass_through_shell": (262, 0.71, 0.22),
    "layered_resale": (198, 0.48, 0.09),
    "price_games": (171, 0.62, 0.31),
    "dormant_reactivation": (128, 0.58, 0.05),
    "ghost_transit": (117, 0.40, 0.27),
    "misclassification": (112, 0.35, 0.12),
    "origin_laundering": (110, 0.52, 0.08),
    "regime_adaptation": (66, 0.44, 0.03),
}
FEATURES = [  # feature, family, meaning, direction
    (
        "firm_fast_reexport_share",
        "chain",
        "Share of those exports that left within 7 days of arriving",
        "raises risk when high",
    ),
    (
        "dwell_days",
        "chain",
        "Days the selling firm held these goods before this sale or export",
        "lowers risk when high",
    ),
    (
        "chpl_flag",
        "product",
        "The goods are on the Common High Priority List of items Russia seeks for weapons",
        "raises risk when high",
    ),
    ("firm_age_days", "party", "Days since the firm was registered", "lowers risk when high"),
    (
        "destination_country_code",
        "route",
        "Country the goods are going to",
        "depends on the category",
    ),
    (
        "markup_ratio",
        "chain",
        "Unit value of this line over the unit value the seller paid",
        "raises risk when high",
    ),
    (
        "firm_russian_buyer_concentration",
        "party",
        "How concentrated the firm's exports to Russia are on few buyers"
        " (Herfindahl index, 1 = one buyer)",
        "raises risk when high",
    ),
    (
        "chain_origin_changed",
        "chain",
        "The declared origin differs from the origin at import",
        "raises risk when high",
    ),
    (
        "unit_value_robust_z",
        "value",
        "How far the unit value sits from the usual price of these goods from this origin"
        " (robust z-score; negative = cheap)",
        "mixed",
    ),
    (
        "firm_longest_gap_days",
        "party",
        "Longest silence between two documents of the firm (dormancy)",
        "raises risk when high",
    ),
    (
        "hs6_code",
        "product",
        "HS subheading of the goods (first six digits)",
        "depends on the category",
    ),
    (
        "firm_address_shared_count",
        "party",
        "Other firms registered at the same address",
        "raises risk when high",
    ),
    (
        "dispatch_hub_flag",
        "route",
        "Dispatched from a known transshipment hub (Hong Kong, UAE, Turkey, ...)",
        "raises risk when high",
    ),
    (
        "chain_firm_count",
        "chain",
        "Kazakh firms the goods have passed through, this seller included",
        "raises risk when high",
    ),
    (
        "firm_domestic_sales_share",
        "party",
        "Share of the firm's sales value sold inside Kazakhstan rather than exported",
        "lowers risk when high",
    ),
    (
        "firm_activity_surge_ratio",
        "party",
        "Value of the last 90 days against the firm's usual 90 days in the year before",
        "raises risk when high",
    ),
    ("firm_founder_russian", "party", "The firm's founder is Russian", "raises risk when high"),
    ("usd_per_kg", "value", "Value density: value per kilogram of net mass", "mixed"),
    ("transport_mode_code", "route", "Mode of transport at the border", "depends on the category"),
    (
        "document_item_count",
        "value",
        "Number of item lines in the document",
        "lowers risk when high",
    ),
]


def _budget_rows(
    documents: int, positives: int, recalls: dict[str, list[float]]
) -> list[dict[str, Any]]:
    rows = []
    for ranker, values in recalls.items():
        for budget, recall in zip(BUDGETS, values, strict=True):
            selected = round(documents * budget)
            caught = min(round(recall * positives), selected)
            rows.append({"ranker": ranker, "budget": budget, "selected": selected, "caught": caught,
                         "precision": caught / selected, "recall": caught / positives})  # fmt: skip
    return rows


def _view(documents: int, positives: int, recalls: dict[str, list[float]]) -> dict[str, Any]:
    auc = {"model": 0.61, "legacy_rules": 0.22, "random": 0.05, "oracle": 1.0}
    return {
        "documents": documents,
        "positives": positives,
        "pr_auc": {r: auc[r] for r in recalls},
        "roc_auc": {r: 0.5 + auc[r] / 2 for r in recalls},
        "budgets": _budget_rows(documents, positives, recalls),
    }


def _monthly() -> list[dict[str, Any]]:
    precision = {"model": 0.48, "legacy_rules": 0.17, "random": 0.05, "oracle": 1.0}
    rows = []
    for i, month in enumerate(MONTHS):
        for ranker, base in precision.items():
            drift = 0.02 * ((i % 4) - 1.5) if ranker != "oracle" else 0.0
            labelled = None if (ranker == "model" and month == "2024-08") else base + 1.5 * drift
            documents = 2_000 + 37 * i
            rows.append({"month": month, "ranker": ranker, "documents": documents,
                         "precision_truth": base + drift,
                         "precision_labels": labelled})  # fmt: skip
    return rows


def _typology_recall() -> list[dict[str, Any]]:
    rows = []
    for ranker in ("model", "legacy_rules", "random", "oracle"):
        for budget in BUDGETS:
            for typology, (documents, model, rules) in TYPOLOGIES.items():
                at_red = {"model": model, "legacy_rules": rules, "random": 0.02, "oracle": 0.9}
                recall = min(1.0, at_red[ranker] * (budget / 0.02) ** 0.5)
                rows.append({"ranker": ranker, "budget": budget, "typology": typology,
                             "documents": documents, "recall": recall})  # fmt: skip
    return rows


def _evaluation() -> dict[str, Any]:
    predicted = [0.01, 0.03, 0.05, 0.08, 0.12, 0.17, 0.24, 0.33, 0.45, 0.63]
    observed = [0.004, 0.02, 0.06, 0.07, 0.14, 0.15, 0.27, 0.30, 0.49, 0.58]
    truth = _view(24_310, 1_164, {
        "model": [0.16, 0.274, 0.55, 0.78], "legacy_rules": [0.05, 0.093, 0.21, 0.36],
        "random": [0.01, 0.02, 0.05, 0.10], "oracle": [0.209, 0.418, 1.0, 1.0],
    })  # fmt: skip
    truth["typology_recall"] = _typology_recall()
    labels = _view(2_431, 388, {
        "model": [0.07, 0.13, 0.31, 0.52], "legacy_rules": [0.06, 0.11, 0.24, 0.41],
        "random": [0.01, 0.02, 0.05, 0.10],
    })  # fmt: skip
    return {
        "window": {"start": "2024-01-01 00:00:00", "end": "2024-12-31 00:00:00"},
        "documents": 24_310,
        "lines": 55_102,
        "labels": labels,
        "monthly": _monthly(),
        "calibration": {
            "brier": 0.0712,
            "brier_base_rate": 0.0934,
            "bins": [
                {"predicted": p, "observed": o} for p, o in zip(predicted, observed, strict=True)
            ],
            "lines": 5_630,
        },
        "truth": truth,
    }


def _importance() -> pd.DataFrame:
    contribution = [round(0.52 * 0.83**i, 4) for i in range(len(FEATURES))]
    frame = pd.DataFrame(FEATURES, columns=["feature", "family", "meaning", "direction"])
    frame["mean_abs_contribution"] = contribution
    frame["gain_share"] = frame["mean_abs_contribution"] / frame["mean_abs_contribution"].sum()
    return frame[
        ["feature", "family", "meaning", "gain_share", "mean_abs_contribution", "direction"]
    ]


def _monthly_importance(importance: pd.DataFrame) -> pd.DataFrame:
    top = importance.head(8)
    values = {
        feature: [base * (1 + 0.25 * ((i + j) % 5 - 2) / 2) for i in range(len(MONTHS))]
        for j, (feature, base) in enumerate(
            zip(top["feature"], top["mean_abs_contribution"], strict=True)
        )
    }
    return pd.DataFrame(values, index=pd.Index(MONTHS, name="month"))


def make_context() -> ReportContext:
    """A realistic context of a twelve-month test window on generated data (with truth)."""
    importance = _importance()
    return ReportContext(
        model_name="riskscore-reexport",
        model_version="7",
        model_alias="champion",
        run_id="3f9a1c2e8b7d4e6f9a0b1c2d3e4f5a6b",
        git_commit="d422198c0ffee5a1b2c3d4e5f60718293a4b5c6d",
        trained_at="2025-01-15T09:30:12+00:00",
        windows={
            "train": ("2021-01-01", "2023-06-30"),
            "validation": ("2023-07-01", "2023-12-31"),
            "test": ("2024-01-01", "2024-12-31"),
        },
        data_fingerprint={
            "sha256": "9b1f0c7e54a2d3886f1e0a7c2b5d4e3f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d",
            "lines": 305_525,
            "documents": 135_556,
            "first": "2021-01-01",
            "last": "2024-12-31",
        },
        thresholds={
            "red_share": 0.02,
            "yellow_share": 0.08,
            "red_score": 0.41,
            "yellow_score": 0.12,
        },
        evaluation=_evaluation(),
        importance=importance,
        monthly_importance=_monthly_importance(importance),
    )


@pytest.fixture(scope="session")
def context() -> ReportContext:
    return make_context()


@pytest.fixture(scope="session")
def html(context: ReportContext) -> str:
    return render_report(context)
