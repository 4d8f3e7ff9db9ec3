"""Counterparty history: who the firm and its partner are and what they did before t.

Activity counts use the documents a party took part in (as consignor or consignee); violations
use inspection outcomes *recorded* before t, whoever the party was on the inspected document.
Every question about the past goes through an aggregation declared here (`aggregates`), so
training and the service answer it the same way.
"""

from __future__ import annotations

import numpy as np

from riskscore.features.aggregates import (
    Aggregation,
    EventSet,
    First,
    Occurrences,
    Running,
    Steps,
)
from riskscore.features.catalogue import Spec
from riskscore.features.columns import SECONDS_PER_DAY, Columns, isin
from riskscore.features.firms import REGISTER_FEATURES
from riskscore.features.history import cumulative
from riskscore.features.inputs import Inputs
from riskscore.features.stats import FeatureStats
from riskscore.features.value import document_sums
from riskscore.reference import chpl_tiers

_ALL = "all history before t"
_REGISTER = "firms register at t"
SPECS: tuple[Spec, ...] = (
    Spec("firm_age_days", "party", "Days since the firm was registered", "days", _REGISTER),
    Spec("firm_registered_after_invasion", "party", "The firm was registered after 24 February 2022", "0/1", _REGISTER),
    Spec("firm_founder_russian", "party", "The firm's founder is Russian", "0/1", _REGISTER),
    Spec("firm_address_shared_count", "party", "Other firms registered at the same address", "firms", _REGISTER),
    Spec("firm_director_shared_count", "party", "Other firms with the same director", "firms", _REGISTER),
    *(Spec(f"firm_documents_{w}d", "party", f"Documents the firm took part in over the last {w} days", "documents", f"{w} days") for w in (30, 90, 365)),
    *(Spec(f"firm_value_usd_{w}d", "party", f"Value of the documents the firm took part in over the last {w} days", "USD", f"{w} days") for w in (30, 90, 365)),
    Spec("firm_activity_surge_ratio", "party", "Value of the last 90 days against the firm's usual 90 days in the year before", "ratio", "455 days"),
    Spec("firm_days_since_previous_activity", "party", "Days since the firm's previous document", "days", _ALL),
    Spec("firm_longest_gap_days", "party", "Longest silence between two documents of the firm (dormancy)", "days", _ALL),
    Spec("firm_first_time_in_hs_chapter", "party", "First time the firm deals in this HS chapter", "0/1", _ALL),
    Spec("firm_chpl_lines_before", "party", "CHPL lines the firm declared before", "lines", _ALL),
    Spec("firm_russian_buyers_before", "party", "Distinct Russian buyers the firm has exported to", "buyers", _ALL),
    Spec("firm_russian_buyer_concentration", "party", "How concentrated the firm's exports to Russia are on few buyers (Herfindahl index, 1 = one buyer)", "0-1", _ALL),
    Spec("firm_domestic_sales_share", "party", "Share of the firm's sales value sold inside Kazakhstan rather than exported", "share", _ALL),
    Spec("firm_inspections_before", "party", "Inspections of the firm's documents with a recorded result", "inspections", _ALL),
    Spec("firm_violations_before", "party", "Violations found on the firm's documents", "violations", _ALL),
    Spec("partner_documents_before", "party", "Documents the partner on the other side took part in", "documents", _ALL),
    Spec("partner_distinct_firms_before", "party", "Distinct Kazakh firms that dealt with this partner", "firms", _ALL),
    Spec("partner_violations_before", "party", "Violations found on the partner's documents", "violations", _ALL),
)  # fmt: skip


SUBJECT, PARTNER = ("subject_id",), ("partner_id",)
_DAY = SECONDS_PER_DAY
_WINDOWS = (30, 90, 365)


def _activity_events(inputs: Inputs) -> EventSet:
    """Both sides of every document (consignor and consignee), with the document's value."""
    lines, starts = inputs.lines, inputs.document_starts
    value = document_sums(lines["value_usd"], starts)
    sides = (inputs.key(("consignor_id",))[starts], inputs.key(("consignee_id",))[starts])
    t = lines["t"][starts]
    return EventSet(np.concatenate(sides), np.concatenate([t, t]),
                    np.concatenate([value, value]).reshape(-1, 1),
                    np.concatenate([starts, starts]))  # fmt: skip


ACTIVITY = Running(
    "activity", (SUBJECT, PARTNER), 1, _activity_events,
    windows=(30 * _DAY, 90 * _DAY, 365 * _DAY, 455 * _DAY),
)  # fmt: skip


def _partner_firms(inputs: Inputs) -> Occurrences:
    """Every line pairs its partner with its Kazakh subject; counted by partner."""
    every = np.arange(len(inputs.lines["t"]))
    return Occurrences(inputs.key(("partner_id", "subject_id")), inputs.lines["t"],
                       (inputs.key(PARTNER),), every)  # fmt: skip


PARTNER_FIRMS = First("partner_firms", ("partner_id", "subject_id"), (PARTNER,), _partner_firms)


def _chapters(inputs: Inputs) -> Occurrences:
    every = np.arange(len(inputs.lines["t"]))
    return Occurrences(inputs.key(("subject_id", "chapter")), inputs.lines["t"], (), every)


CHAPTERS = First("chapters", ("subject_id", "chapter"), (), _chapters)


def _trade_events(inputs: Inputs) -> EventSet:
    """Every line of the subject: CHPL, sold value (at home or abroad), sold at home, exported
    to a Russian buyer."""
    lines = inputs.lines
    flow, value = lines["flow"], np.nan_to_num(lines["value_usd"])
    domestic = flow == "domestic"
    sums = np.zeros((len(value), 4))
    sums[:, 0] = isin(lines["hs6"], chpl_tiers())
    sums[:, 1] = np.where(domestic | (flow == "export"), value, 0.0)
    sums[:, 2] = np.where(domestic, value, 0.0)
    sums[:, 3] = np.where(_to_russia(lines), value, 0.0)
    return EventSet(inputs.key(SUBJECT), lines["t"], sums, np.arange(len(value)))


TRADE = Running("trade", (SUBJECT,), 4, _trade_events)


def _to_russia(lines: Columns) -> np.ndarray:
    return np.asarray((lines["flow"] == "export") & (lines["partner_country"] == "RU"))


def _russian_buyers(inputs: Inputs) -> Occurrences:
    """Exports to a Russian buyer: the (firm, buyer) pairs, counted by firm."""
    rows = np.flatnonzero(_to_russia(inputs.lines))
    pair = inputs.key(("subject_id", "partner_id"))[rows]
    return Occurrences(pair, inputs.lines["t"][rows], (inputs.key(SUBJECT)[rows],), rows)


RUSSIAN_BUYERS = First("russian_buyers", ("subject_id", "partner_id"), (SUBJECT,), _russian_buyers)


def _russian_pair_events(inputs: Inputs) -> EventSet:
    """Exports to a Russian buyer, summed per (firm, buyer) pair."""
    rows = np.flatnonzero(_to_russia(inputs.lines))
    value = np.nan_to_num(inputs.lines["value_usd"][rows]).reshape(-1, 1)
    pair = inputs.key(("subject_id", "partner_id"))[rows]
    return EventSet(pair, inputs.lines["t"][rows], value, rows)


RUSSIAN_PAIRS = Running("russian_pairs", (), 1, _russian_pair_events)


def square_step(running: np.ndarray, value: np.ndarray) -> np.ndarray:
    """What an export adds to the sum over buyers of their squared totals: (b + x)^2 - b^2,
    b being the pair's total before it (its running sum less the export).

    The concentration of exports over buyers (Herfindahl) is sum(v_b^2) / (sum v_b)^2, so
    with these steps both are plain point-in-time sums.

    >>> square_step(np.array([3.0, 5.0]), np.array([3.0, 2.0])).tolist()
    [9.0, 16.0]
    """
    before = running - value
    return np.asarray((before + value) ** 2 - before**2, dtype=float)


def _russian_square_events(inputs: Inputs) -> EventSet:
    """Each export's `square_step`, from its pair's running total in the pairs' order (time,
    value): the order `RUSSIAN_PAIRS` sums in."""
    pairs = _russian_pair_events(inputs)
    value = pairs.values[:, 0] if pairs.values is not None else np.zeros(0)
    order = np.lexsort((value, pairs.t, pairs.key))
    running = np.empty(len(order))
    running[order] = cumulative(pairs.key[order], value[order])
    steps = square_step(running, value).reshape(-1, 1)
    return EventSet(inputs.key(SUBJECT)[pairs.line], pairs.t, steps, pairs.line)


RUSSIAN_SQUARES = Running("russian_squares", (SUBJECT,), 1, _russian_square_events,
                          steps=Steps(RUSSIAN_PAIRS, square_step, 0))  # fmt: skip


def _outcome_occurrences(inputs: Inputs, violations: bool) -> Occurrences:
    """Recorded outcomes of the lines' documents, by document, counted by both its parties."""
    lines, outcomes, starts = inputs.lines, inputs.outcomes, inputs.document_starts
    none = np.zeros(0, dtype=np.int64)
    if outcomes is None or not len(outcomes["document_id"]):
        return Occurrences(none, none, (none, none), none)
    doc_row = {d: i for i, d in enumerate(lines["document_id"][starts])}
    doc = np.fromiter((doc_row.get(d, -1) for d in outcomes["document_id"]), np.int64)
    kept = (doc >= 0) & (outcomes["violation_found"] if violations else True)
    line = starts[doc[kept]]
    sides = (inputs.key(("consignor_id",))[line], inputs.key(("consignee_id",))[line])
    return Occurrences(inputs.key(("document_id",))[line], outcomes["recorded"][kept], sides, line)


# A document counts as inspected from its first recorded result, and as a violation only from
# the first recorded result that found one (a later finding is not known earlier).
INSPECTED = First("inspected", ("document_id",), (SUBJECT,),
                  lambda inputs: _outcome_occurrences(inputs, False), True)  # fmt: skip
VIOLATED = First("violated", ("document_id",), (SUBJECT, PARTNER),
                 lambda inputs: _outcome_occurrences(inputs, True), True)  # fmt: skip
AGGREGATIONS: tuple[Aggregation, ...] = (ACTIVITY, PARTNER_FIRMS, CHAPTERS, TRADE, RUSSIAN_BUYERS, RUSSIAN_PAIRS,
                RUSSIAN_SQUARES, INSPECTED, VIOLATED)  # fmt: skip


def _register(inputs: Inputs, out: Columns) -> None:
    lines, register = inputs.rows, inputs.register
    if register is None:
        out.update({name: np.full(len(lines["t"]), np.nan) for name in REGISTER_FEATURES})
    else:
        out.update(register.features(lines["subject_id"], lines["t"]))


def _activity(inputs: Inputs, out: Columns) -> None:
    subject, partner = inputs.at(inputs.key(SUBJECT)), inputs.at(inputs.key(PARTNER))
    t = inputs.at(inputs.lines["t"])
    activity = inputs.running(ACTIVITY)
    for window in _WINDOWS:
        count, value = activity.before(subject, t, window * _DAY)
        out[f"firm_documents_{window}d"] = count
        out[f"firm_value_usd_{window}d"] = value[:, 0]
    recent = out["firm_value_usd_90d"]
    _, year = activity.before(subject, np.maximum(t - 90 * _DAY, 0), 365 * _DAY)
    usual = year[:, 0] * 90 / 365
    out["firm_activity_surge_ratio"] = np.where(
        usual > 0, recent / np.where(usual > 0, usual, 1), np.nan
    )
    last = activity.last_before(subject, t)
    out["firm_days_since_previous_activity"] = (t - last) / _DAY
    out["firm_longest_gap_days"] = activity.longest_gap_before(subject, t) / _DAY
    out["partner_documents_before"], _ = activity.before(partner, t)
    out["partner_distinct_firms_before"] = inputs.first(PARTNER_FIRMS).count_before(partner, t)


def _trade(inputs: Inputs, out: Columns) -> None:
    """What the firm traded before t: chapters, CHPL lines, sales at home and abroad, and its
    Russian buyers."""
    subject, t = inputs.at(inputs.key(SUBJECT)), inputs.at(inputs.lines["t"])
    chapter = inputs.at(inputs.key(CHAPTERS.item))
    seen = inputs.first(CHAPTERS).seen_before(chapter, t)
    out["firm_first_time_in_hs_chapter"] = (~seen).astype(float)
    _, before = inputs.running(TRADE).before(subject, t)
    chpl, sold, home, total = before.T
    _, squares = inputs.running(RUSSIAN_SQUARES).before(subject, t)
    out["firm_chpl_lines_before"] = chpl
    out["firm_domestic_sales_share"] = np.where(
        sold > 0, home / np.where(sold > 0, sold, 1), np.nan
    )
    out["firm_russian_buyers_before"] = inputs.first(RUSSIAN_BUYERS).count_before(subject, t)
    out["firm_russian_buyer_concentration"] = np.where(
        total > 0, squares[:, 0] / np.where(total > 0, total, 1) ** 2, np.nan
    )


def _violations(inputs: Inputs, out: Columns) -> None:
    subject, partner = inputs.at(inputs.key(SUBJECT)), inputs.at(inputs.key(PARTNER))
    t = inputs.at(inputs.lines["t"])
    out["firm_inspections_before"] = inputs.first(INSPECTED).count_before(subject, t)
    violated = inputs.first(VIOLATED)
    out["firm_violations_before"] = violated.count_before(subject, t)
    out["partner_violations_before"] = violated.count_before(partner, t)


def compute(inputs: Inputs, stats: FeatureStats) -> Columns:
    """The counterparty-history features of the wanted lines."""
    out: Columns = {}
    _register(inputs, out)
    _activity(inputs, out)
    _trade(inputs, out)
    _violations(inputs, out)
    return out
