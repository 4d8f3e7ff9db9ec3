"""Hand-readable frames for the chain pass and the value statistics."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from riskscore.features import (
    STORED,
    build_features,
    feature_columns,
    fit_feature_stats,
    trace_lots,
)
from riskscore.features.columns import TEXT, columns_of
from riskscore.features.lines import prepare
from riskscore.features.value import fit_value_cells, log_unit_value

_BASE = {
    "procedure_code": "", "office": "", "declarant_id": "x", "dispatch_country": "KZ",
    "transport_mode": "road", "invoice_currency": "KZT", "description": "goods",
    "gross_mass_kg": 12.0, "net_mass_kg": 10.0, "supplementary_unit": "pcs",
    "previous_document_ids": None, "item_no": 1,
}  # fmt: skip


def _line(
    doc: str, day: int, flow: str, seller: str, buyer: str, **extra: object
) -> dict[str, object]:
    kazakh = {"import": ("HK", "KZ"), "domestic": ("KZ", "KZ"), "export": ("KZ", "RU")}[flow]
    row = _BASE | {
        "document_id": doc,
        "doc_type": {"import": "DT", "domestic": "ESF", "export": "SNT"}[flow],
        "flow": flow,
        "issued_at": pd.Timestamp("2023-01-01", tz="UTC") + pd.Timedelta(days=day, hours=6),
        "consignor_id": seller, "consignor_country": kazakh[0],
        "consignee_id": buyer, "consignee_country": kazakh[1],
        "destination_country": kazakh[1], "hs_code": "8542310000", "origin_country": "US",
        "supplementary_qty": 10.0, "value_usd": 1_000.0,
        "linked_document_id": None, "linked_item_no": np.nan,
    }  # fmt: skip
    return row | extra


@pytest.fixture
def chain() -> pd.DataFrame:
    """An import, an unlinked resale, a linked export with a new origin and a 3x price."""
    rows = [
        _line("DT1", 0, "import", "HK1", "A"),
        _line("ESF1", 3, "domestic", "A", "B", value_usd=1_100.0),
        _line("SNT1", 5, "export", "B", "RU1", value_usd=3_300.0, origin_country="CN",
              linked_document_id="ESF1", linked_item_no=1.0),
        _line("SNT2", 9, "export", "C", "RU1"),  # C never bought these goods
    ]  # fmt: skip
    frame = pd.DataFrame(rows)
    frame["issued_at"] = frame["issued_at"].astype("datetime64[us, UTC]")
    return frame


def test_chain_dwell_hops_origin_and_markup(chain: pd.DataFrame) -> None:
    out = build_features(chain, fit_feature_stats(chain)).set_index(chain["document_id"])
    assert np.isnan(out.loc["DT1", "dwell_days"])  # an import sells nothing from stock
    assert out.loc[
        "ESF1", ["dwell_days", "chain_firm_count", "chain_matched_by_link"]
    ].tolist() == [3.0, 1.0, 0.0]
    snt = out.loc["SNT1"]
    assert snt["dwell_days"] == 2.0 and snt["chain_dwell_days"] == 5.0
    assert snt["chain_firm_count"] == 2.0 and snt["chain_matched_by_link"] == 1.0
    assert snt["chain_origin_changed"] == 1.0
    assert snt["markup_ratio"] == pytest.approx(3.0)
    assert np.isnan(out.loc["SNT2", "dwell_days"])  # nothing to match: unknown, not zero
    assert out.loc["SNT2", "firm_reexports_to_eaeu_before"] == 0.0


def test_fast_reexport_history_counts_only_earlier_exports(chain: pd.DataFrame) -> None:
    later = _line("SNT3", 12, "export", "B", "RU2")
    frame = pd.concat(
        [chain, pd.DataFrame([later]).astype({"issued_at": "datetime64[us, UTC]"})],
        ignore_index=True,
    )
    out = build_features(frame, fit_feature_stats(frame)).set_index(frame["document_id"])
    assert out.loc["SNT1", "firm_reexports_to_eaeu_before"] == 0.0
    assert out.loc["SNT3", "firm_reexports_to_eaeu_before"] == 1.0
    assert out.loc["SNT3", "firm_fast_reexport_share"] == 1.0  # SNT1 left 2 days after arriving


def test_unit_value_z_matches_a_naive_median_and_mad() -> None:
    rng = np.random.default_rng(4)
    n = 60
    frame = pd.DataFrame(
        {"hs_code": ["8482100000"] * n, "origin_country": ["CN"] * 30 + ["DE"] * 30,
         "supplementary_qty": np.full(n, 10.0), "net_mass_kg": np.full(n, 5.0),
         "value_usd": np.exp(rng.normal(3, 0.5, n)) * 10, "flow": ["import"] * n,
         "consignee_id": ["A"] * n, "consignor_id": ["B"] * n, "declarant_id": ["A"] * n,
         "consignor_country": ["CN"] * n, "consignee_country": ["KZ"] * n,
         "issued_at": pd.date_range("2023-01-01", periods=n, freq="D", tz="UTC")}
    )  # fmt: skip
    frame["item_no"], frame["document_id"] = 1, [f"D{i}" for i in range(n)]
    for column in set(TEXT) - set(frame.columns):
        frame[column] = None
    frame["gross_mass_kg"] = frame["linked_item_no"] = np.nan
    cols = columns_of(frame)
    lines = cols | prepare(cols)
    cells, _ = fit_value_cells(lines)
    z = pd.Series(cells.z(lines, log_unit_value(lines)))
    logs = np.log(frame["value_usd"] / 10.0)
    for origin in ("CN", "DE"):
        part = logs[frame["origin_country"] == origin]
        median = part.median()
        mad = (part - median).abs().median()
        expected = (part - median) / (1.4826 * mad)
        np.testing.assert_allclose(z[part.index], expected, rtol=1e-12)


def _at(day: int) -> pd.Timestamp:
    return pd.Timestamp("2023-01-01", tz="UTC") + pd.Timedelta(days=day, hours=6)


def test_firms_registered_before_2000_share_their_address(chain: pd.DataFrame) -> None:
    registered = pd.to_datetime(["1997-05-01", "2015-05-01"], utc=True)
    firms = pd.DataFrame(
        {"firm_id": ["A", "B"], "registered_at": registered,
         "activity_code": ["46.90"] * 2, "region": ["almaty_city"] * 2, "address_id": ["X", "X"],
         "director_id": ["P1", "P2"], "founder_country": ["KZ", "KZ"]}
    )  # fmt: skip
    firms["registered_at"] = firms["registered_at"].astype("datetime64[us, UTC]")
    out = build_features(chain, fit_feature_stats(chain), firms).set_index(chain["document_id"])
    assert out.loc["DT1", "firm_address_shared_count"] == 1.0  # A sees B
    assert out.loc["SNT1", "firm_address_shared_count"] == 1.0  # B sees A, registered in 1997


def test_a_violation_counts_only_from_when_it_was_recorded(chain: pd.DataFrame) -> None:
    later = [_line("DT2", 30, "import", "HK1", "A"), _line("DT3", 70, "import", "HK1", "A")]
    frame = pd.concat([chain, pd.DataFrame(later)], ignore_index=True)
    frame["issued_at"] = frame["issued_at"].astype("datetime64[us, UTC]")
    outcomes = pd.DataFrame(
        {"document_id": ["DT1", "DT1"], "item_no": [1, 1], "selected_by": ["rule", "rule"],
         "inspected_at": [_at(1), _at(50)], "recorded_at": [_at(10), _at(60)],
         "violation_found": [False, True], "finding": [None, "pass_through_shell"]}
    )  # fmt: skip
    out = build_features(frame, fit_feature_stats(frame), outcomes=outcomes).set_index(
        frame["document_id"]
    )
    assert out.loc["DT2", ["firm_inspections_before", "firm_violations_before"]].tolist() == [
        1.0,
        0.0,
    ]
    assert out.loc["DT3", ["firm_inspections_before", "firm_violations_before"]].tolist() == [
        1.0,
        1.0,
    ]


def test_a_served_sale_sees_a_lot_taken_by_link_from_another_heading() -> None:
    """The service traces only the headings a document sells; a sale in another heading that
    names a purchase of those headings by link still takes that lot first (review finding)."""
    rows = [
        _line("P1", 0, "import", "HK1", "S"),
        _line("P2", 10, "import", "HK1", "S"),
        _line("X", 20, "export", "S", "RU1", hs_code="8471300000",
              linked_document_id="P1", linked_item_no=1.0),
        _line("W", 30, "export", "S", "RU2", supplementary_qty=5.0),
    ]  # fmt: skip
    frame = pd.DataFrame(rows)
    frame["issued_at"] = frame["issued_at"].astype("datetime64[us, UTC]")
    stats = fit_feature_stats(frame)
    batch = build_features(frame, stats)
    assert batch.loc[3, "dwell_days"] == 20.0  # W sells from P2: P1 went with X
    stored = pd.concat([frame, trace_lots(frame)], axis=1)
    for name in STORED:  # W is the new document: nothing stored for it yet
        stored.loc[3, name] = np.nan if stored[name].dtype.kind == "f" else None
    served, _ = feature_columns(columns_of(stored), stats, None, None, np.array([3]))
    np.testing.assert_array_equal(served[0], batch.iloc[3].to_numpy())


def test_an_empty_register_gives_empty_register_features(chain: pd.DataFrame) -> None:
    firms = pd.DataFrame(
        {"firm_id": pd.Series([], dtype=object), "founder_country": pd.Series([], dtype=object),
         "registered_at": pd.Series([], dtype="datetime64[us, UTC]"),
         "address_id": pd.Series([], dtype=object), "director_id": pd.Series([], dtype=object)}
    )  # fmt: skip
    out = build_features(chain, fit_feature_stats(chain), firms)
    assert out["firm_age_days"].isna().all() and out["firm_address_shared_count"].isna().all()
