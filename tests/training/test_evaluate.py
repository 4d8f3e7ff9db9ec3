"""Budget metrics against a naive re-implementation; calibration and curves from sklearn."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from riskscore.training.evaluate import budget_rows, documents_of, evaluate, top_share


def _naive_precision_recall(
    score: list[float], label: list[bool], share: float
) -> tuple[float, float]:
    ranked = sorted(zip(score, label, strict=True), key=lambda pair: -pair[0])
    top = ranked[: max(1, round(len(ranked) * share))]
    caught = sum(1 for _, y in top if y)
    return caught / len(top), caught / max(sum(label), 1)


@pytest.mark.parametrize("share", [0.01, 0.05, 0.2, 0.5])
def test_budget_precision_and_recall_match_a_naive_sort(share: float) -> None:
    rng = np.random.default_rng(2)
    score = rng.random(1_000)  # continuous: no ties, so the naive sort is exact
    label = rng.random(1_000) < score * 0.2
    docs = pd.DataFrame({"model": score, "truth": label})
    row = budget_rows(docs, "truth", (share,))[0]
    precision, recall = _naive_precision_recall(score.tolist(), label.tolist(), share)
    assert row["precision"] == pytest.approx(precision)
    assert row["recall"] == pytest.approx(recall)


def test_ties_are_broken_at_random_not_by_position() -> None:
    chosen = top_share(np.zeros(1_000), 0.1)
    assert chosen.sum() == 100
    assert not chosen[:100].all()  # not simply the first positions
    assert np.flatnonzero(chosen).max() > 500


def _lines() -> pd.DataFrame:
    rng = np.random.default_rng(5)
    n = 4_000
    evasion = rng.random(n) < 0.05
    inspected = rng.random(n) < 0.3
    return pd.DataFrame(
        {
            "document_id": [f"D{i // 2}" for i in range(n)],
            "issued_at": pd.Timestamp("2024-01-01", tz="UTC")
            + pd.to_timedelta(rng.integers(0, 300, n), unit="D"),
            "model": np.clip(evasion * 0.5 + rng.random(n) * 0.5, 0, 1),
            "legacy_rules": rng.random(n),
            "random": rng.random(n),
            "oracle": evasion * 0.9 + 0.05,
            "inspected": inspected,
            "violation_found": inspected & evasion,
            "is_evasion": evasion,
            "typology": np.where(evasion, "pass_through_shell", None),
        }
    )


def test_documents_take_the_highest_line() -> None:
    docs = documents_of(_lines())
    lines = _lines()
    assert len(docs) == lines["document_id"].nunique()
    assert docs.loc["D0", "model"] == lines.loc[:1, "model"].max()
    assert docs.loc["D0", "is_evasion"] == lines.loc[:1, "is_evasion"].any()


def test_evaluate_holds_every_view() -> None:
    result = evaluate(_lines())
    assert {"labels", "truth", "calibration", "monthly", "window"} <= set(result)
    truth = result["truth"]
    assert truth["pr_auc"]["oracle"] > truth["pr_auc"]["model"] > truth["pr_auc"]["random"]
    assert {r["ranker"] for r in truth["budgets"]} == {"model", "legacy_rules", "random", "oracle"}
    assert {r["typology"] for r in truth["typology_recall"]} == {"pass_through_shell"}
    assert 0 <= result["calibration"]["brier"] <= 1
