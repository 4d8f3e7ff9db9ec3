"""Several processes on one state: documents that share a firm are scored one after another.

Two connections (as two service processes have) score a firm's purchase and its sale sent at
the same instant; afterwards a single connection replays the same documents in the order the
state committed them, and every feature vector must come out the same. Run on every backend.
"""

from __future__ import annotations

import threading

import numpy as np
import pandas as pd
import pytest

from riskscore.features import FeatureStats, fit_feature_stats
from riskscore.store import Store

from .conftest import Opener, score
from .test_contract import _line

FIRMS = ("A", "B", "C", "D", "E", "F")


def _history() -> pd.DataFrame:
    """Each firm imports a few lots of two kinds of goods over a week."""
    rows = [_line(f"DT-{firm}-{n}", n + i / 10, "import", "HK1", firm,
                  hs_code=("8542310000", "8517620000")[n % 2], origin_country=("US", "JP")[n % 2])
            for i, firm in enumerate(FIRMS) for n in range(6)]  # fmt: skip
    return _frame(rows)


def _pairs(count: int) -> list[tuple[pd.DataFrame, pd.DataFrame]]:
    """A firm's purchase from another and its sale to a third, issued at the same second."""
    rng = np.random.default_rng(4)
    out = []
    for n in range(count):
        day = 8 + n * 0.05
        firm, supplier, customer = rng.choice(FIRMS, 3, replace=False)
        code = ("8542310000", "8517620000")[n % 2]
        qty = {"supplementary_qty": float(rng.integers(1, 8)), "hs_code": code}
        bought = _line(f"P{n:04d}", day, "domestic", str(supplier), str(firm), **qty)
        sold = _line(f"S{n:04d}", day, "domestic", str(firm), str(customer), **qty)
        out.append((_frame([bought]), _frame([sold])))
    return out


def _frame(rows: list[dict[str, object]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows)
    frame["issued_at"] = frame["issued_at"].astype("datetime64[us, UTC]")
    return frame


def _at_once(stores: tuple[Store, Store], work: list[tuple[pd.DataFrame, pd.DataFrame]],
             stats: FeatureStats) -> None:  # fmt: skip
    """Each pair's two documents sent at the same instant, one through each connection."""
    barrier, failures = threading.Barrier(2), []

    def run(side: int) -> None:
        try:
            for pair in work:
                barrier.wait()
                score(stores[side], pair[side], stats)
        except Exception as error:
            failures.append(error)
            barrier.abort()

    threads = [threading.Thread(target=run, args=(side,)) for side in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures, failures


def test_a_purchase_and_a_sale_sent_at_once_are_scored_as_one_after_the_other(
    open_backend: Opener,
) -> None:
    history, pairs = _history(), _pairs(60)
    stats = fit_feature_stats(pd.concat([history, *[p for pair in pairs for p in pair]]))
    first, second = open_backend(), open_backend()
    first.load(history, None, None)
    _at_once((first, second), pairs, stats)
    answers = first.frame("answers")
    assert len(answers) == 120
    replayed = open_backend("replayed")
    replayed.load(history, None, None)
    documents = {str(d["document_id"].iloc[0]): d for pair in pairs for d in pair}
    for document_id in answers["document_id"]:
        score(replayed, documents[document_id], stats)
    again = replayed.frame("answers").set_index("document_id")["features"]
    differing = [d for d, features in zip(answers["document_id"], answers["features"],
                                          strict=True) if again[d] != features]  # fmt: skip
    assert differing == []


@pytest.mark.parametrize("rounds", [5])
def test_the_same_document_sent_through_two_connections_at_once_gets_one_answer(
    open_backend: Opener, rounds: int
) -> None:
    history, pairs = _history(), _pairs(rounds)
    stats = fit_feature_stats(pd.concat([history, *[p for pair in pairs for p in pair]]))
    first, second = open_backend(), open_backend()
    first.load(history, None, None)
    same = [(pair[1], pair[1]) for pair in pairs]  # each sale through both at once
    _at_once((first, second), same, stats)
    answers = first.frame("answers")
    assert len(answers) == rounds and answers["document_id"].is_unique
    for pair in pairs:
        document_id = str(pair[1]["document_id"].iloc[0])
        assert first.answer(document_id) == second.answer(document_id)
