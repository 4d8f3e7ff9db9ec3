"""build_features: the point-in-time rule, the contract every feature keeps, the catalogue."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from riskscore.data import World, load_world
from riskscore.features import (
    FEATURE_NAMES,
    SPECS,
    STORED,
    Register,
    build_features,
    feature_columns,
    fit_feature_stats,
    outcome_columns,
    trace_lots,
)
from riskscore.features.catalogue import render_manifest, render_markdown
from riskscore.features.columns import columns_of
from riskscore.features.stats import FeatureStats

ROOT = Path(__file__).resolve().parents[2]
CUT = pd.Timestamp("2023-05-01", tz="UTC")


@pytest.fixture(scope="module")
def world(tiny_world: Path) -> World:
    return load_world(tiny_world, with_truth=False)


@pytest.fixture(scope="module")
def stats(world: World) -> FeatureStats:
    return fit_feature_stats(world.documents[world.documents["issued_at"] < CUT])


@pytest.fixture(scope="module")
def features(world: World, stats: FeatureStats) -> pd.DataFrame:
    return build_features(world.documents, stats, world.firms, world.outcomes)


def _perturb_future(world: World, rng: np.random.Generator) -> World:
    """Delete and change documents issued at or after CUT and outcomes recorded at or after it."""
    d = world.documents.copy()
    future = d["issued_at"] >= CUT
    ids = d.loc[future, "document_id"].unique()
    dropped = set(rng.choice(ids, size=len(ids) // 2, replace=False))
    d = d[~d["document_id"].isin(dropped)].copy()
    later = d["issued_at"] >= CUT
    d.loc[later, "value_usd"] *= 3.0
    d.loc[later, "consignee_id"] = d.loc[later, "consignor_id"]
    assert world.outcomes is not None
    o = world.outcomes.copy()
    recorded_later = o["recorded_at"] >= CUT
    o.loc[recorded_later, "violation_found"] = ~o.loc[recorded_later, "violation_found"]
    o = o[~(recorded_later & (rng.random(len(o)) < 0.5))]
    return World(documents=d, firms=world.firms, outcomes=o)


def test_nothing_at_or_after_t_changes_a_feature_before_t(
    world: World, stats: FeatureStats, features: pd.DataFrame
) -> None:
    changed = _perturb_future(world, np.random.default_rng(1))
    again = build_features(changed.documents, stats, changed.firms, changed.outcomes)
    before = world.documents["issued_at"] < CUT
    assert before.sum() > 1_000 and (~before).sum() > 1_000
    pd.testing.assert_frame_equal(features[before], again.loc[features.index[before]])


def test_the_future_does_matter_after_t(
    world: World, stats: FeatureStats, features: pd.DataFrame
) -> None:
    """The leakage test could pass vacuously if the perturbation changed nothing at all."""
    changed = _perturb_future(world, np.random.default_rng(1))
    again = build_features(changed.documents, stats, changed.firms, changed.outcomes)
    after = features.index[world.documents["issued_at"] >= CUT].intersection(again.index)
    assert not features.loc[after].equals(again.loc[after])


def test_contract_order_index_no_mutation_determinism(world: World, stats: FeatureStats) -> None:
    documents = world.documents.iloc[:4_000]
    before = documents.copy()
    first = build_features(documents, stats, world.firms, world.outcomes)
    pd.testing.assert_frame_equal(documents, before)  # input not mutated
    assert tuple(first.columns) == FEATURE_NAMES
    assert first.index.equals(documents.index)
    assert (first.dtypes == "float64").all()
    shuffled = documents.sample(frac=1.0, random_state=3)[documents.columns[::-1]]
    again = build_features(shuffled, stats, world.firms, world.outcomes)
    pd.testing.assert_frame_equal(first, again.loc[first.index])  # row and column order free


def test_register_and_outcomes_are_optional(world: World, stats: FeatureStats) -> None:
    documents = world.documents.iloc[:2_000]
    bare = build_features(documents, stats)
    assert bare["firm_age_days"].isna().all()
    assert (bare["firm_violations_before"] == 0).all()


def test_statistics_round_trip(world: World, stats: FeatureStats, features: pd.DataFrame) -> None:
    again = FeatureStats.from_dict(stats.to_dict())
    rebuilt = build_features(world.documents, again, world.firms, world.outcomes)
    pd.testing.assert_frame_equal(features, rebuilt)


def test_unseen_categories_become_nan(world: World, stats: FeatureStats) -> None:
    documents = world.documents.iloc[:50].copy()
    documents["office"] = "NOWHERE"
    documents["hs_code"] = "9999999999"
    out = build_features(documents, stats)
    assert out["office_code"].isna().all() and out["hs6_code"].isna().all()


def test_catalogue_is_generated_from_the_code() -> None:
    names = [s.name for s in SPECS]
    assert len(names) == len(set(names)) == len(FEATURE_NAMES)
    assert all(s.meaning and s.unit and s.lookback for s in SPECS)
    assert (ROOT / "features" / "catalogue.md").read_text() == render_markdown(SPECS)
    assert (ROOT / "features" / "sets" / "default.json").read_text() == render_manifest(SPECS)


@pytest.mark.parametrize("stored_lots", [False, True])
def test_features_of_wanted_rows_equal_those_of_the_whole_build(
    world: World, stats: FeatureStats, features: pd.DataFrame, stored_lots: bool
) -> None:
    """The service asks for one document's rows over a history; with or without the lots the
    state stores for history lines, those rows get exactly the batch features and lots."""
    d = world.documents
    batch_lots = trace_lots(d)
    frame = pd.concat([d, batch_lots], axis=1) if stored_lots else d
    cols = {name: values.copy() for name, values in columns_of(frame).items()}
    documents = d.loc[d["issued_at"] >= CUT, "document_id"].drop_duplicates()
    for document_id in documents.sample(25, random_state=3):
        rows = np.flatnonzero(d["document_id"].to_numpy() == document_id)
        if stored_lots:  # the new document's own lots are still to be traced
            for name in STORED:
                cols[name][rows] = None if cols[name].dtype == object else np.nan
        matrix, lots = feature_columns(cols, stats, Register(world.firms), outcomes(world), rows)
        expected = features.iloc[rows].to_numpy()
        np.testing.assert_array_equal(matrix, expected)
        assert_lots_equal(lots, batch_lots.iloc[rows])
        if stored_lots:
            for name in STORED:
                cols[name][rows] = batch_lots[name].to_numpy()[rows]


def outcomes(world: World) -> dict[str, np.ndarray]:
    assert world.outcomes is not None
    return outcome_columns(world.outcomes)


def assert_lots_equal(lots: dict[str, np.ndarray], expected: pd.DataFrame) -> None:
    for name in STORED:
        got = pd.Series(lots[name], dtype=object).where(pd.notna(lots[name]), None)
        want = expected[name].astype(object).where(expected[name].notna(), None)
        assert got.tolist() == want.tolist(), name
