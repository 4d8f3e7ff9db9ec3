"""The contract every online-state backend keeps (`riskscore.store.base.Store`).

Each test runs once per backend in `conftest.BACKENDS`, on the tiny generated world: a
history loaded in bulk, then documents and outcomes replayed one by one as the service
receives them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from riskscore.data import World
from riskscore.errors import UnknownDocumentError
from riskscore.features import FeatureStats, build_features
from riskscore.features.columns import columns_of_rows
from riskscore.features.lines import prepare
from riskscore.schema import document_from_rows, document_rows
from riskscore.store import Store

from .conftest import CUT, Opener, history, score

DAY = pd.Timedelta(days=1)


def _events(world: World, start: pd.Timestamp, end: pd.Timestamp) -> list[tuple[str, object]]:
    """Documents issued and outcomes recorded in [start, end), as the service receives them:
    in time order, an outcome before a document of the same moment."""
    d, o = world.documents, world.outcomes
    assert o is not None
    window = d[(d["issued_at"] >= start) & (d["issued_at"] < end)]
    events: list[tuple[pd.Timestamp, int, str, object]] = [
        (lines["issued_at"].iloc[0], 1, "document", lines)
        for _, lines in window.groupby("document_id", sort=False)
    ]
    recorded = o[(o["recorded_at"] >= start) & (o["recorded_at"] < end)]
    events += [(at, 0, "outcome", group) for at, group in recorded.groupby("recorded_at")]
    return [(kind, payload) for _, _, kind, payload in sorted(events, key=lambda e: e[:2])]


def _replay(
    store: Store, events: list[tuple[str, object]], stats: FeatureStats
) -> dict[str, np.ndarray]:
    served = {}
    for kind, payload in events:
        assert isinstance(payload, pd.DataFrame)
        if kind == "outcome":
            store.add_outcomes(payload)
            continue
        matrix = score(store, payload, stats)
        assert matrix is not None
        served[str(payload["document_id"].iloc[0])] = matrix
    return served


def _batch(world: World, until: pd.Timestamp, stats: FeatureStats) -> pd.DataFrame:
    held = history(world, until)
    features = build_features(held.documents, stats, held.firms, held.outcomes)
    return features.set_index(held.documents["document_id"].to_numpy(), append=True)


def test_an_empty_store_answers_and_counts_nothing(store: Store) -> None:
    assert store.ping()
    assert all(store.count(t) == 0 for t in ("lines", "outcomes", "firms", "answers", "marks"))
    assert store.answer("NOPE") is None and store.features_of("NOPE") is None
    assert store.firms().empty


def test_served_features_equal_the_batch_over_what_the_state_held(
    store: Store, tiny: World, stats: FeatureStats
) -> None:
    """Documents arriving in time order: each one's served vector is, digit for digit, the
    batch pipeline's over every document up to it (it cannot see the ones after it)."""
    loaded = history(tiny)
    store.load(loaded.documents, loaded.outcomes, loaded.firms)
    end = CUT + 14 * DAY
    served = _replay(store, _events(tiny, CUT, end), stats)
    assert len(served) > 60
    batch = _batch(tiny, end, stats)
    for document_id, matrix in served.items():
        expected = batch.xs(document_id, level=1).sort_index().to_numpy()
        np.testing.assert_array_equal(matrix, expected, err_msg=document_id)


def test_a_state_filled_one_document_at_a_time_equals_one_filled_at_once(
    open_backend: Opener, tiny: World, stats: FeatureStats
) -> None:
    """After a replay, the state answers new documents exactly as a state loaded in bulk with
    the same history does."""
    replayed = open_backend()
    loaded = history(tiny)
    replayed.load(loaded.documents, loaded.outcomes, loaded.firms)
    end = CUT + 8 * DAY
    _replay(replayed, _events(tiny, CUT, end), stats)
    bulk = history(tiny, end)
    whole = open_backend("whole")
    whole.load(bulk.documents, bulk.outcomes, bulk.firms)
    probes = _events(tiny, end, end + 4 * DAY)
    documents = [p for kind, p in probes if kind == "document"]
    assert len(documents) > 10
    for lines in documents:
        assert isinstance(lines, pd.DataFrame)
        np.testing.assert_array_equal(score(replayed, lines, stats), score(whole, lines, stats))


def test_an_error_inside_scoring_writes_nothing(
    store: Store, tiny: World, stats: FeatureStats
) -> None:
    loaded = history(tiny)
    store.load(loaded.documents, loaded.outcomes, loaded.firms)
    counts = {t: store.count(t) for t in ("lines", "marks", "lots", "answers")}
    lines = next(p for kind, p in _events(tiny, CUT, CUT + DAY) if kind == "document")
    assert isinstance(lines, pd.DataFrame)

    class Failure(Exception):
        pass

    def failing_write(*args: object) -> None:
        raise Failure

    with pytest.raises(Failure), store.scoring(str(lines["document_id"].iloc[0]), set()) as scoring:
        scoring.answer()
        failing_write()
    assert {t: store.count(t) for t in counts} == counts
    assert score(store, lines, stats) is not None  # and the store still works


def test_outcomes_must_name_stored_lines_all_or_nothing(store: Store, tiny: World) -> None:
    loaded = history(tiny)
    store.load(loaded.documents, None, loaded.firms)
    assert tiny.outcomes is not None
    known = tiny.outcomes[tiny.outcomes["recorded_at"] < CUT].iloc[:3].copy()
    unknown = known.iloc[:1].assign(document_id="NEVER-SCORED")
    with pytest.raises(UnknownDocumentError) as refused:
        store.add_outcomes(pd.concat([known, unknown], ignore_index=True))
    assert refused.value.rows == [3]
    assert store.count("outcomes") == 0
    store.add_outcomes(known)
    store.add_outcomes(known)  # the same outcomes again change nothing
    assert store.count("outcomes") == 3


def test_the_register_is_upserted_by_firm(store: Store, tiny: World) -> None:
    assert tiny.firms is not None
    firms = tiny.firms.iloc[:3].copy()
    store.set_firms(firms)
    moved = firms.iloc[:1].assign(address_id="elsewhere")
    store.set_firms(moved)
    found = store.firms().set_index("firm_id")
    assert len(found) == 3 and found.loc[moved["firm_id"].iloc[0], "address_id"] == "elsewhere"
    assert str(found["registered_at"].dtype) == "datetime64[us, UTC]"


def test_another_connection_sees_what_was_committed(
    open_backend: Opener, tiny: World, stats: FeatureStats
) -> None:
    """Several service processes share one state: each sees the others' documents."""
    first, second = open_backend(), open_backend()
    loaded = history(tiny)
    first.load(loaded.documents, loaded.outcomes, loaded.firms)
    documents = [p for kind, p in _events(tiny, CUT, CUT + 8 * DAY) if kind == "document"]
    for i, lines in enumerate(documents[:20]):
        assert isinstance(lines, pd.DataFrame)
        assert score((first, second)[i % 2], lines, stats) is not None
    assert second.count("answers") == 20 and first.count("answers") == 20
    document_id = str(documents[0]["document_id"].iloc[0])  # type: ignore[index]
    assert second.answer(document_id) is not None


def test_a_document_issued_before_stored_ones_is_late(
    store: Store, tiny: World, stats: FeatureStats
) -> None:
    loaded = history(tiny, CUT + 3 * DAY)
    store.load(loaded.documents, loaded.outcomes, loaded.firms)
    stored = loaded.documents[loaded.documents["issued_at"] >= CUT]
    lines = stored[stored["document_id"] == stored["document_id"].iloc[0]].copy()
    lines["document_id"] = "LATE-" + lines["document_id"]
    rows = document_rows(document_from_rows(lines))
    cols = columns_of_rows(rows)
    with store.scoring("LATE", set()) as scoring:
        late = scoring.past(cols | prepare(cols)).late
    assert late is not None and 0 < late <= 3 * 86_400
