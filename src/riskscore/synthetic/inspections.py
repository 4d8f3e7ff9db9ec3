"""Inspections as they really happen: legacy rules, a small random share, imperfect officers.

The legacy selectivity looks only at what a document declares (codes, countries, flow), so a
misclassified chip escapes the CHPL rule exactly as it would in real life. An inspection finds a
true violation with `detection_probability`; outcomes are recorded days to weeks later.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from riskscore.reference import chpl_tiers, country_group
from riskscore.schema import arrow_schema
from riskscore.synthetic.world import MICROSECONDS_PER_DAY, SNT_MANDATORY, days_of


@dataclass(frozen=True)
class RuleRates:
    """Probability that the legacy rules select a document, by what it declares."""

    dt_import_chpl_from_hub: float = 0.12
    dt_import_chpl: float = 0.06
    dt_import: float = 0.02
    snt_export_chpl_to_eaeu_before_tracking: float = 0.03
    snt_export_chpl_to_eaeu: float = 0.15
    snt_export: float = 0.01
    snt_import: float = 0.01
    dt_export: float = 0.01
    dt_transit_chpl: float = 0.08
    dt_transit: float = 0.03
    esf: float = 0.002


def legacy_rules(documents: pd.DataFrame) -> np.ndarray:
    """The legacy rules as a ranker over a documents frame (one score per line): what
    evaluation compares a model with on generated data."""
    return rule_probability(_rule_columns(documents))


def _rule_columns(documents: pd.DataFrame) -> pa.Table:
    """The columns the legacy rules read, as Arrow (built column by column: pyarrow's
    from_pandas reads tz-aware columns through an API pandas 3.1 deprecates)."""
    names = ("document_id", "doc_type", "flow", "hs_code", "dispatch_country",
             "destination_country")  # fmt: skip
    columns = {
        name: pa.array(documents[name].to_numpy(dtype=object), pa.string()) for name in names
    }
    micros = documents["issued_at"].dt.tz_convert(None).to_numpy().astype("datetime64[us]")
    columns["issued_at"] = pa.array(micros.astype("int64"), pa.int64()).cast(
        pa.timestamp("us", "UTC")
    )
    return pa.table(columns)


def rule_probability(documents: pa.Table, rates: RuleRates | None = None) -> np.ndarray:
    """Per line, the probability that the legacy rules select its document.

    The rules are document-level: a line inherits the highest rate of any line in its document.
    """
    r = rates or RuleRates()
    doc_type = documents["doc_type"].to_numpy(zero_copy_only=False)
    flow = documents["flow"].to_numpy(zero_copy_only=False)
    hs6 = pc.utf8_slice_codeunits(documents["hs_code"], 0, 6).to_numpy(zero_copy_only=False)
    chpl = np.isin(hs6, list(chpl_tiers()))
    hub = np.isin(
        documents["dispatch_country"].to_numpy(zero_copy_only=False),
        sorted(country_group("transshipment_hub")),
    )
    eaeu = np.isin(
        documents["destination_country"].to_numpy(zero_copy_only=False), ["RU", "BY", "KG", "AM"]
    )
    t = days_of(documents["issued_at"])
    dt, snt = doc_type == "DT", doc_type == "SNT"
    conditions = [
        dt & (flow == "import") & chpl & hub,
        dt & (flow == "import") & chpl,
        dt & (flow == "import"),
        snt & (flow == "export") & chpl & eaeu & (t < SNT_MANDATORY),
        snt & (flow == "export") & chpl & eaeu,
        snt & (flow == "export"),
        snt & (flow == "import"),
        dt & (flow == "export"),
        dt & (flow == "transit") & chpl,
        dt & (flow == "transit"),
        doc_type == "ESF",
    ]
    choices = [
        r.dt_import_chpl_from_hub, r.dt_import_chpl, r.dt_import,
        r.snt_export_chpl_to_eaeu_before_tracking, r.snt_export_chpl_to_eaeu, r.snt_export,
        r.snt_import, r.dt_export, r.dt_transit_chpl, r.dt_transit, r.esf,
    ]  # fmt: skip
    per_line = np.select(conditions, choices, default=0.0)
    document = documents["document_id"].to_numpy(zero_copy_only=False)
    _, first, inverse = np.unique(document, return_index=True, return_inverse=True)
    per_document = np.zeros(len(first))
    np.maximum.at(per_document, inverse, per_line)
    return per_document[inverse]


def inspect(
    rng: np.random.Generator,
    documents: pa.Table,
    truth: pa.Table,
    random_share: float,
    detection: float,
) -> pa.Table:
    """Outcomes of the inspected lines (documents are selected whole)."""
    ids = documents["document_id"].to_numpy(zero_copy_only=False)
    unique, inverse = np.unique(ids, return_inverse=True)
    by_rule = rng.random(len(unique)) < _first_per_document(rule_probability(documents), inverse)
    at_random = ~by_rule & (rng.random(len(unique)) < random_share)
    selected = (by_rule | at_random)[inverse]
    issued = documents["issued_at"].cast(pa.int64()).to_numpy()
    delay_days = rng.uniform(0.05, 3.0, len(unique))[inverse]
    inspected = issued + (delay_days * MICROSECONDS_PER_DAY).astype(np.int64)
    record_days = rng.lognormal(np.log(12.0), 0.6, len(unique))[inverse]
    recorded = inspected + (record_days * MICROSECONDS_PER_DAY).astype(np.int64)
    evasion = truth["is_evasion"].to_numpy(zero_copy_only=False)
    found = evasion & (rng.random(len(ids)) < detection)
    typology = truth["typology"].to_numpy(zero_copy_only=False)
    by = np.where(by_rule[inverse], "rule", "random")
    keep = np.flatnonzero(selected)
    schema = arrow_schema("outcomes")
    columns = {
        "document_id": ids[keep],
        "item_no": documents["item_no"].to_numpy()[keep],
        "selected_by": by[keep],
        "inspected_at": inspected[keep],
        "recorded_at": recorded[keep],
        "violation_found": found[keep],
        "finding": np.where(found, typology, None)[keep],
    }
    return pa.table({f.name: pa.array(columns[f.name], type=f.type) for f in schema}, schema=schema)


def _first_per_document(per_line: np.ndarray, inverse: np.ndarray) -> np.ndarray:
    out = np.zeros(inverse.max() + 1 if len(inverse) else 0)
    out[inverse] = per_line
    return out
