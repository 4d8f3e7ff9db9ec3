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
from riskscore.features import (
    FeatureStats,
    Register,
    build_features,
    feature_columns,
    fit_feature_stats,
    outcome_columns,
)
from riskscore.features.columns import columns_of, columns_of_rows
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


def _jittered(world: World, start: pd.Timestamp, end: pd.Timestamp) -> list[tuple[str, object]]:
    """The events of [start, end) in the order they arrive when each is received up to two days
    after it happened (an outcome never before the document it names)."""
    rng = np.random.default_rng(11)
    arrivals: dict[str, pd.Timestamp] = {}
    timed = []
    for kind, payload in _events(world, start, end):
        assert isinstance(payload, pd.DataFrame)
        happened = payload["issued_at" if kind == "document" else "recorded_at"].iloc[0]
        arrival = happened + pd.Timedelta(seconds=float(rng.uniform(0, 2 * 86_400)))
        if kind == "document":
            arrivals[str(payload["document_id"].iloc[0])] = arrival
        else:
            named = [arrivals.get(d, arrival) for d in payload["document_id"]]
            arrival = max([arrival, *named]) + pd.Timedelta(seconds=1)
        timed.append((arrival, kind, payload))
    return [(kind, payload) for _, kind, payload in sorted(timed, key=lambda e: e[0])]


def test_documents_arriving_late_are_scored_as_of_their_issue_and_correct_the_state(
    open_backend: Opener, tiny: World, stats: FeatureStats
) -> None:
    """Arrivals jittered by up to two days (within the lateness horizon): each served vector is
    the batch's over what the state held when it was served, and afterwards the state answers
    as one loaded in bulk with everything."""
    replayed = open_backend()
    loaded = history(tiny)
    replayed.load(loaded.documents, loaded.outcomes, loaded.firms)
    end = CUT + 7 * DAY
    documents, outcomes = [loaded.documents], [loaded.outcomes]
    late = 0
    for kind, payload in _jittered(tiny, CUT, end):
        assert isinstance(payload, pd.DataFrame)
        if kind == "outcome":
            replayed.add_outcomes(payload)
            outcomes.append(payload)
            continue
        held = pd.concat([*documents, payload], ignore_index=True)
        late += int((held["issued_at"] > payload["issued_at"].iloc[0]).any())
        served = score(replayed, payload, stats)
        rows = np.flatnonzero(held["document_id"].to_numpy() == payload["document_id"].iloc[0])
        expected, _ = feature_columns(
            columns_of(held), stats, Register(tiny.firms), outcome_columns(pd.concat(outcomes)),
            rows,
        )  # fmt: skip
        np.testing.assert_array_equal(served, expected, err_msg=str(payload["document_id"].iloc[0]))
        documents.append(payload)
    assert late > 10  # the replay did deliver documents after later ones
    whole = open_backend("whole")
    everything = pd.concat(documents, ignore_index=True)
    whole.load(everything, pd.concat(outcomes, ignore_index=True), tiny.firms)
    for kind, lines in _events(tiny, end, end + 3 * DAY):
        if kind == "document":
            assert isinstance(lines, pd.DataFrame)
            np.testing.assert_array_equal(score(replayed, lines, stats), score(whole, lines, stats))


def _line(
    doc: str, day: float, flow: str, seller: str, buyer: str, **extra: object
) -> dict[str, object]:
    """One line of a hand-made document: 10 chips worth 1,000 USD."""
    countries = {"import": ("HK", "KZ"), "domestic": ("KZ", "KZ"), "export": ("KZ", "RU")}[flow]
    row = {
        "document_id": doc, "doc_type": {"import": "DT", "domestic": "ESF", "export": "SNT"}[flow],
        "flow": flow, "procedure_code": "40" if flow == "import" else "", "office": "",
        "issued_at": pd.Timestamp("2023-05-01", tz="UTC") + pd.Timedelta(days=day),
        "declarant_id": seller if flow != "import" else buyer, "consignor_id": seller,
        "consignor_country": countries[0], "consignee_id": buyer,
        "consignee_country": countries[1], "dispatch_country": countries[0],
        "destination_country": countries[1], "transport_mode": "road",
        "invoice_currency": "USD", "previous_document_ids": [], "item_no": 1,
        "hs_code": "8542310000", "description": "chips", "origin_country": "US",
        "net_mass_kg": 1.0, "gross_mass_kg": 1.5, "supplementary_qty": 10.0,
        "supplementary_unit": "pcs", "value_usd": 1_000.0, "linked_document_id": None,
        "linked_item_no": np.nan,
    }  # fmt: skip
    return row | extra


def test_a_late_purchase_re_traces_the_sales_made_after_it(store: Store) -> None:
    """A's import from Japan, issued before the import from the US that A's sale to B took,
    arrives after that sale: first in, first out, the sale took the Japanese goods, so B's
    goods came from Japan and B's export declaring US origin changed the origin."""
    documents = [
        _line("DT-US", 1, "import", "HK1", "A"),
        _line("ESF-AB", 3, "domestic", "A", "B"),
        _line("DT-JP", 0, "import", "HK1", "A", origin_country="JP"),  # arrives late
        _line("SNT-B", 5, "export", "B", "RU1"),
    ]
    frame = pd.DataFrame(documents)
    frame["issued_at"] = frame["issued_at"].astype("datetime64[us, UTC]")
    stats = fit_feature_stats(frame)
    served = {}
    for i in range(len(frame)):
        served[frame["document_id"].iloc[i]] = score(store, frame.iloc[[i]], stats)
    batch = build_features(frame, stats).set_index(frame["document_id"])
    changed = list(batch.columns).index("chain_origin_changed")
    assert batch.loc["SNT-B", "chain_origin_changed"] == 1.0  # the test means something
    for document_id in ("ESF-AB", "SNT-B"):
        matrix = served[document_id]
        assert matrix is not None
        if document_id == "SNT-B":  # served after the late import: sees its effect
            np.testing.assert_array_equal(matrix[0], batch.loc[document_id].to_numpy())
        else:  # served before it arrived: the batch over what was held then
            held = frame[frame["document_id"].isin(["DT-US", "ESF-AB"])]
            expected = build_features(held, stats).set_index(held["document_id"])
            assert matrix[0][changed] == expected.loc[document_id, "chain_origin_changed"]


def _busy_chains(seed: int) -> pd.DataFrame:
    """Three weeks of six Kazakh firms importing, reselling to each other (sometimes naming
    the purchase they sell from) and exporting to Russia: documents dense enough that
    arriving out of order changes which lot a sale takes."""
    rng = np.random.default_rng(seed)
    firms, rows, bought = ["A", "B", "C", "D", "E", "F"], [], []
    codes = ["8542310000", "8542390000", "8517620000"]
    for n in range(160):
        day = n * 21 / 160 + rng.uniform(0, 0.05)
        kind = rng.choice(["import", "domestic", "export"], p=[0.4, 0.4, 0.2])
        seller, buyer = rng.choice(firms, 2, replace=False)
        extra = {
            "hs_code": str(rng.choice(codes)),
            "origin_country": str(rng.choice(["US", "JP", "DE"])),
            "supplementary_qty": float(rng.integers(1, 12)),
            "value_usd": float(rng.integers(500, 5_000)),
        }
        if kind == "import":
            rows.append(_line(f"DT{n:03d}", day, "import", "HK1", str(buyer), **extra))
            bought.append((f"DT{n:03d}", str(buyer)))
            continue
        mine = [doc for doc, holder in bought if holder == seller]
        if mine and rng.random() < 0.4:
            extra |= {"linked_document_id": str(rng.choice(mine)), "linked_item_no": 1.0}
        if kind == "domestic":
            rows.append(_line(f"ESF{n:03d}", day, "domestic", str(seller), str(buyer), **extra))
            bought.append((f"ESF{n:03d}", str(buyer)))
        else:
            rows.append(_line(f"SNT{n:03d}", day, "export", str(seller), "RU1", **extra))
    frame = pd.DataFrame(rows)
    frame["issued_at"] = frame["issued_at"].astype("datetime64[us, UTC]")
    return frame


@pytest.mark.parametrize("seed", [1, 2])
def test_busy_chains_arriving_out_of_order_end_as_the_batch_traces_them(
    open_backend: Opener, seed: int
) -> None:
    """Every served vector is the batch's over what was held when it was served, and the
    state after the replay answers as one loaded with everything at once."""
    frame = _busy_chains(seed)
    stats = fit_feature_stats(frame)
    rng = np.random.default_rng(seed)
    arrival = frame["issued_at"] + pd.to_timedelta(rng.uniform(0, 2 * 86_400, len(frame)), unit="s")
    replayed, late = open_backend(), 0
    held: list[pd.DataFrame] = []
    for i in np.argsort(arrival.to_numpy(), kind="stable"):
        lines = frame.iloc[[i]]
        late += int(any((h["issued_at"] > lines["issued_at"].iloc[0]).any() for h in held))
        served = score(replayed, lines, stats)
        held.append(lines)
        everything = pd.concat(held, ignore_index=True)
        expected, _ = feature_columns(columns_of(everything), stats, None, None,
                                      np.array([len(everything) - 1]))  # fmt: skip
        np.testing.assert_array_equal(served, expected, err_msg=str(lines["document_id"].iloc[0]))
    assert late > 20
    whole = open_backend("whole")
    whole.load(frame, None, None)
    for day in range(22, 25):
        probe = _line(f"PROBE{day}", day, "export", "ABCDEF"[day % 6], "RU1")
        for seller in "ABCDEF":
            lines = pd.DataFrame([probe | {"document_id": f"P{day}{seller}", "consignor_id": seller,
                                           "declarant_id": seller}])  # fmt: skip
            lines["issued_at"] = lines["issued_at"].astype("datetime64[us, UTC]")
            np.testing.assert_array_equal(score(replayed, lines, stats), score(whole, lines, stats))


def test_a_document_already_in_the_history_is_served_as_the_batch_sees_it(
    store: Store, tiny: World, stats: FeatureStats
) -> None:
    """Sent again after a history that holds it (and later documents), a document's sales take
    from the stock as it stood before them: not its own past, nor anything after it."""
    loaded = history(tiny)
    store.load(loaded.documents, loaded.outcomes, loaded.firms)
    d = loaded.documents
    batch = _batch(tiny, CUT, stats)
    sales = d[(d["flow"] == "domestic") & (d["issued_at"] >= CUT - 20 * DAY)]
    chosen = sales["document_id"].drop_duplicates().iloc[:12]
    marks = store.count("marks")
    for document_id in chosen:
        served = score(store, d[d["document_id"] == document_id], stats)
        expected = batch.xs(document_id, level=1).sort_index().to_numpy()
        np.testing.assert_array_equal(served, expected, err_msg=document_id)
    assert store.count("marks") == marks  # what the history holds already is not counted again


def test_a_document_later_than_the_horizon_is_answered_and_left_for_the_batch(
    open_backend: Opener, tiny: World, stats: FeatureStats
) -> None:
    """It is answered with what is known, the state is left alone, and a rebuild folds it in."""
    store = open_backend()
    loaded = history(tiny, CUT + 30 * DAY)
    store.load(loaded.documents, loaded.outcomes, loaded.firms)
    d = tiny.documents
    early = d[(d["issued_at"] >= CUT) & (d["issued_at"] < CUT + DAY)]
    for _, lines in early.groupby("document_id"):  # one whose parties did more 7 days later
        lines = lines.assign(document_id="VERY-LATE-" + lines["document_id"])
        rows = document_rows(document_from_rows(lines))
        cols = columns_of_rows(rows)
        with store.scoring(rows[0]["document_id"], set()) as scoring:
            lookup = scoring.past(cols | prepare(cols))
        if lookup.beyond_horizon:
            break
    assert lookup.late is not None and lookup.late > 7 * 86_400 and lookup.beyond_horizon
    marks, lots = store.count("marks"), store.count("lots")
    assert score(store, lines, stats) is not None
    assert (store.count("marks"), store.count("lots")) == (marks, lots)
    assert store.count("lines") == len(loaded.documents) + len(lines)  # the lines are kept
    store.rebuild()
    whole = open_backend("whole")
    whole.load(pd.concat([loaded.documents, lines]), loaded.outcomes, loaded.firms)
    for kind, probe in _events(tiny, CUT + 30 * DAY, CUT + 32 * DAY):
        if kind == "document":
            assert isinstance(probe, pd.DataFrame)
            np.testing.assert_array_equal(score(store, probe, stats), score(whole, probe, stats))


def test_export_gives_back_lines_with_extras_outcomes_and_answers(
    store: Store, tiny: World, stats: FeatureStats
) -> None:
    loaded = history(tiny)
    d = loaded.documents.assign(**{"extra.tax_rate": 12.5})
    store.load(d, loaded.outcomes, loaded.firms)
    documents = [p for kind, p in _events(tiny, CUT, CUT + 3 * DAY) if kind == "document"]
    for lines in documents:
        assert isinstance(lines, pd.DataFrame)
        score(store, lines, stats)
    exported = store.export_lines()
    assert len(exported) == len(d) + sum(len(x) for x in documents)  # type: ignore[arg-type]
    assert exported["extra.tax_rate"].iloc[: len(d)].eq(12.5).all()
    assert str(exported["issued_at"].dtype) == "datetime64[us, UTC]"
    since = CUT.to_pydatetime()
    assert set(store.export_lines(since)["document_id"]) == {
        str(x["document_id"].iloc[0])
        for x in documents  # type: ignore[index]
    }
    answers = store.export_answers(since)
    assert len(answers) == len(documents) and answers["features"].str.startswith("[[").all()
    assert store.export_outcomes(since).empty  # none recorded for them yet
    assert len(store.export_outcomes()) == len(loaded.outcomes)  # type: ignore[arg-type]
