"""The value rules of each table, row by row and vectorised: what makes a line wrong.

The validator runs them over a whole dataset; `riskscore ingest` runs them over each chunk
it converts, so a row is judged by the same rules wherever it enters. Each rule yields
(column, failing rows, reason); reasons name the rule, never the value. Bounds come from
`schema.BOUNDS`, formats from the schema's patterns.

Codes that are well formed but unknown (a country outside ISO 3166 such as `ZZ`, the transport
mode `other`, a finding outside the typologies or none) are not wrong: `unknown_values` counts
them.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd

from riskscore.reference import countries
from riskscore.schema import (
    BOUNDS,
    COUNTRY_PATTERN,
    DOC_FLOWS,
    DT_PROCEDURES,
    FINDING_PATTERN,
    HS_CODE_PATTERN,
    DocType,
    SelectedBy,
    TransportMode,
    Typology,
)

Rule = tuple[str, np.ndarray, str]  # column, failing rows (mask), reason
COUNTRY_COLUMNS = (
    "consignor_country",
    "consignee_country",
    "dispatch_country",
    "destination_country",
    "origin_country",
)


def _fails(values: pd.Series, pattern: str) -> np.ndarray:
    """Rows whose text does not match `pattern` (a missing value fails)."""
    matched = values.astype("str").str.fullmatch(pattern[1:-1])
    return ~matched.fillna(False).to_numpy(dtype=bool) | values.isna().to_numpy()


def bounds(frame: pd.DataFrame) -> Iterator[Rule]:
    """Every bounded number is finite and within `schema.BOUNDS` (a missing optional one is
    fine: emptiness is checked apart)."""
    for column, (low, high) in BOUNDS.items():
        if column not in frame:
            continue
        values = frame[column].to_numpy(dtype=float, na_value=np.nan)
        present = ~np.isnan(values)
        yield column, present & ~np.isfinite(values), "is not a finite number"
        finite = present & np.isfinite(values)
        yield column, finite & ((values < low) | (values > high)), f"is outside {low:g}..{high:g}"


def document_rules(d: pd.DataFrame) -> Iterator[Rule]:
    """The rules of each document line on its own."""
    yield "hs_code", _fails(d["hs_code"], HS_CODE_PATTERN), "not an HS code of 6 to 10 digits"
    for column in COUNTRY_COLUMNS:
        yield column, _fails(d[column], COUNTRY_PATTERN), "not a two-letter country code"
    yield from bounds(d)
    below = (d["gross_mass_kg"] < d["net_mass_kg"]).fillna(False).to_numpy(dtype=bool)
    yield "gross_mass_kg", below, "is below net_mass_kg"
    doc_type = d["doc_type"].astype(object)
    yield "doc_type", ~doc_type.isin([t.value for t in DocType]).to_numpy(), "unknown document type"
    allowed_flow = {(t.value, fl.value) for t, flows in DOC_FLOWS.items() for fl in flows}
    pairs = pd.Series(list(zip(d["doc_type"], d["flow"], strict=True)), index=d.index, dtype=object)
    yield "flow", ~pairs.isin(allowed_flow).to_numpy(), "flow not allowed for this doc_type"
    dt_codes = {(fl.value, code) for fl, codes in DT_PROCEDURES.items() for code in codes}
    proc = pd.Series(list(zip(d["flow"], d["procedure_code"], strict=True)), index=d.index,
                     dtype=object)  # fmt: skip
    is_dt = (d["doc_type"] == "DT").to_numpy(dtype=bool)
    bad_proc = (is_dt & ~proc.isin(dt_codes).to_numpy()) | (
        ~is_dt & (d["procedure_code"] != "").to_numpy(dtype=bool)
    )
    yield "procedure_code", bad_proc, "procedure code does not fit doc_type and flow"
    modes = [m.value for m in TransportMode]
    transport = ~d["transport_mode"].astype(object).isin(modes).to_numpy()
    yield "transport_mode", transport, "not a transport mode (road, rail, air, sea, post, ...)"
    currency = _fails(d["invoice_currency"], r"^[A-Z]{3}$")
    yield "invoice_currency", currency, "not a 3-letter currency code"
    item_no = d["item_no"].to_numpy(dtype=float, na_value=np.nan)
    yield "item_no", ~((item_no >= 1) & (item_no <= 999)), "item numbers run from 1 to 999"


def outcome_rules(o: pd.DataFrame) -> Iterator[Rule]:
    """The rules of each inspection outcome on its own."""
    selected = ~o["selected_by"].astype(object).isin([s.value for s in SelectedBy]).to_numpy()
    yield "selected_by", selected, "unknown selection reason (rule, random or model)"
    late = (o["recorded_at"] < o["inspected_at"]).fillna(False).to_numpy(dtype=bool)
    yield "recorded_at", late, "is before inspected_at"
    found = o["violation_found"].fillna(False).to_numpy(dtype=bool)
    has_finding = o["finding"].notna().to_numpy()
    yield "finding", has_finding & ~found, "given without violation_found"
    yield "finding", has_finding & _fails(o["finding"], FINDING_PATTERN), "not a finding word"


def firm_rules(firms: pd.DataFrame) -> Iterator[Rule]:
    """The rules of each register row on its own."""
    yield "firm_id", _fails(firms["firm_id"], r"^\d{12}$"), "not a 12-digit BIN"
    yield "firm_id", firms["firm_id"].duplicated().to_numpy(), "repeats"
    yield (
        "founder_country",
        _fails(firms["founder_country"], COUNTRY_PATTERN),
        ("not a two-letter country code"),
    )
    yield (
        "activity_code",
        _fails(firms["activity_code"], r"^\d{2}\.\d{2}$"),
        ("not an activity code like 46.52"),
    )


def unknown_values(table: str, frame: pd.DataFrame) -> dict[str, int]:
    """Per column, how many well-formed values are unknown (kept, scored as unseen)."""
    counts: dict[str, int] = {}
    if table == "documents":
        known = countries()
        for column in COUNTRY_COLUMNS:
            counts[column] = int((~frame[column].isin(known) & frame[column].notna()).sum())
        counts["transport_mode"] = int((frame["transport_mode"] == TransportMode.OTHER).sum())
    elif table == "outcomes":
        typologies = [t.value for t in Typology]
        finding = frame["finding"]
        counts["finding"] = int((finding.notna() & ~finding.isin(typologies)).sum())
        found = frame["violation_found"].fillna(False).astype(bool)
        counts["finding (none given)"] = int((found & finding.isna()).sum())
    elif table == "firms":
        counts["founder_country"] = int((~frame["founder_country"].isin(countries())).sum())
    return {column: n for column, n in counts.items() if n}
