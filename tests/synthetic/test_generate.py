"""The world holds the proportions docs/world.md documents, is deterministic and not trivial."""

from __future__ import annotations

from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from sklearn.metrics import average_precision_score

from riskscore.data import World, load_world, validate
from riskscore.reference import chpl_tiers
from riskscore.schema import TABLES, Typology
from riskscore.synthetic import WorldConfig, generate
from riskscore.synthetic.profile import profile
from riskscore.synthetic.world import INVASION

from ..conftest import TINY


@pytest.fixture(scope="module")
def world(small_world: Path) -> World:
    return load_world(small_world)


@pytest.fixture(scope="module")
def figures(world: World) -> dict[str, float]:
    return profile(world)


def test_same_seed_gives_identical_files_whatever_the_workers(
    tiny_world: Path, tmp_path: Path
) -> None:
    again = tmp_path / "again"
    generate(TINY, again, workers=2)
    for name in TABLES:
        first, second = tiny_world / f"{name}.parquet", again / f"{name}.parquet"
        assert pq.read_table(first).equals(pq.read_table(second)), name


def test_another_seed_gives_another_world(tiny_world: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    generate(TINY.model_copy(update={"seed": TINY.seed + 1}), other)
    first = pq.read_table(tiny_world / "documents.parquet")
    assert not first.equals(pq.read_table(other / "documents.parquet"))


def test_generated_world_is_valid(small_world: Path) -> None:
    report = validate(small_world)
    assert report.ok, [str(p) for p in report.problems[:5]]
    assert (small_world / "world.json").exists()


@pytest.mark.parametrize(
    ("figure", "low", "high"),
    [
        ("evasion share of lines", 0.005, 0.03),
        ("evasion share of lines before invasion", 0.0, 0.0),
        ("CHPL share of lines", 0.05, 0.25),
        ("CHPL to Russia jump (after / before)", 2.5, 20.0),
        ("DT import lines with origin != dispatch", 0.2, 0.45),
        ("ESF and SNT-export lines linked upstream", 0.55, 0.8),
        ("documents inspected", 0.015, 0.06),
        ("documents inspected at random", 0.007, 0.013),
        ("inspected evasion lines found", 0.78, 0.92),
        ("firms registered after 2022-02-24", 0.08, 0.2),
    ],
)
def test_documented_proportions(
    figures: dict[str, float], figure: str, low: float, high: float
) -> None:
    assert low <= figures[figure] <= high, f"{figure} = {figures[figure]:.4f}"


def test_every_typology_occurs(world: World) -> None:
    assert world.truth is not None
    seen = set(world.truth.loc[world.truth["is_evasion"], "typology"])
    assert seen == {t.value for t in Typology}


def test_outcomes_come_days_to_weeks_after_the_document(world: World) -> None:
    assert world.outcomes is not None
    issued = world.documents.drop_duplicates("document_id").set_index("document_id")["issued_at"]
    delay = world.outcomes["recorded_at"] - world.outcomes["document_id"].map(issued)
    days = delay.dt.total_seconds() / 86_400
    assert days.min() > 0
    assert 5 <= days.median() <= 30


def _with_truth(world: World) -> pd.DataFrame:
    assert world.truth is not None
    return pd.concat([world.documents, world.truth[["is_evasion", "typology"]]], axis=1)


def _linked_dwell(lines: pd.DataFrame, all_lines: pd.DataFrame) -> pd.Series:
    issued = all_lines.drop_duplicates("document_id").set_index("document_id")["issued_at"]
    upstream = lines["linked_document_id"].map(issued)
    return (lines["issued_at"] - upstream).dt.total_seconds() / 86_400


def test_evasion_leaves_for_russia_within_days_honest_stock_within_weeks(world: World) -> None:
    lines = _with_truth(world)
    exports = lines[(lines["doc_type"] == "SNT") & (lines["flow"] == "export")]
    exports = exports[exports["linked_document_id"].notna()]
    evasion = _linked_dwell(exports[exports["is_evasion"]], lines)
    honest = _linked_dwell(exports[~exports["is_evasion"]], lines)
    assert evasion.median() < 7
    assert honest.median() > 20


def test_pass_through_shells_are_young_firms(world: World) -> None:
    lines = _with_truth(world)
    assert world.firms is not None
    shells = lines.loc[lines["typology"] == "pass_through_shell", "consignor_id"]
    registered = world.firms.set_index("firm_id")["registered_at"]
    shell_dates = shells[shells.isin(registered.index)].drop_duplicates().map(registered)
    after = (shell_dates >= pd.Timestamp("2022-02-24", tz="UTC")).mean()
    assert after > 0.6


def test_misclassified_lines_hide_under_non_chpl_codes(world: World) -> None:
    lines = _with_truth(world)
    mis = lines[(lines["typology"] == "misclassification") & (lines["flow"] == "export")]
    declared_chpl = mis["hs_code"].str[:6].isin(list(chpl_tiers()))
    assert len(mis) > 0 and (~declared_chpl).mean() > 0.8


def test_laundered_origin_differs_from_the_import(world: World) -> None:
    lines = _with_truth(world)
    laundered = lines[(lines["typology"] == "origin_laundering") & (lines["flow"] == "export")]
    linked = laundered[laundered["linked_document_id"].notna()]
    source = lines.set_index(["document_id", "item_no"])["origin_country"]
    keys = pd.MultiIndex.from_arrays(
        [linked["linked_document_id"], linked["linked_item_no"].astype("int64")]
    )
    assert len(linked) > 0
    assert (source.reindex(keys).to_numpy() != linked["origin_country"].to_numpy()).mean() > 0.8


def _raw_columns(d: pd.DataFrame) -> pd.DataFrame:
    """What a model could use without any history: the document's own columns."""
    categorical = ["doc_type", "flow", "procedure_code", "office", "dispatch_country",
                   "destination_country", "origin_country", "transport_mode", "invoice_currency",
                   "consignor_country", "consignee_country"]  # fmt: skip
    x = pd.DataFrame({c: d[c].astype("category").cat.codes for c in categorical})
    x["hs6"] = d["hs_code"].str[:6].astype("category").cat.codes
    x["hs4"] = d["hs_code"].str[:4].astype("category").cat.codes
    for column in ("value_usd", "net_mass_kg", "gross_mass_kg", "supplementary_qty"):
        x[column] = d[column]
    x["unit_value"] = d["value_usd"] / d["supplementary_qty"]
    x["usd_per_kg"] = d["value_usd"] / d["net_mass_kg"].where(d["net_mass_kg"] > 0)
    x["linked"] = d["linked_document_id"].notna().astype("int64")
    return x


def _precision_at(score: np.ndarray, label: np.ndarray, share: float) -> float:
    top = np.argsort(-score, kind="stable")[: max(1, int(len(score) * share))]
    return float(label[top].mean())


def test_raw_columns_alone_do_not_separate_but_the_oracle_does(world: World) -> None:
    assert world.truth is not None
    d, label = world.documents, world.truth["is_evasion"].to_numpy(dtype=int)
    x = _raw_columns(d)
    train = (d["issued_at"] < pd.Timestamp("2023-07-01", tz="UTC")).to_numpy()
    params = {"objective": "binary", "verbose": -1, "seed": 1, "num_threads": 2}
    booster = lgb.train(
        params,
        lgb.Dataset(x[train], label[train], categorical_feature=[*x.columns[:11], "hs6", "hs4"]),
        num_boost_round=200,
    )
    test = ~train
    raw = average_precision_score(label[test], booster.predict(x[test]))
    oracle_p = world.truth["p_evasion"].to_numpy()[test]
    oracle = average_precision_score(label[test], oracle_p)
    assert raw < 0.6, f"raw-column PR-AUC {raw:.3f}"
    assert oracle > raw
    assert _precision_at(oracle_p, label[test], 0.01) > 0.6


def test_config_refuses_an_empty_window() -> None:
    with pytest.raises(ValueError, match="end must be after start"):
        WorldConfig(start="2024-01-01", end="2023-01-01")


def test_evasion_starts_after_the_invasion(world: World) -> None:
    lines = _with_truth(world)
    days = lines["issued_at"].astype("int64") / 86_400_000_000
    assert not lines.loc[days < INVASION, "is_evasion"].any()
