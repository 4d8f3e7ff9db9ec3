"""Counterparty history: who the firm and its partner are and what they did before t.

Activity counts use the documents a party took part in (as consignor or consignee); violations
use inspection outcomes *recorded* before t, whoever the party was on the inspected document.
"""

from __future__ import annotations

import numpy as np

from riskscore.features.catalogue import Spec
from riskscore.features.columns import SECONDS_PER_DAY, Columns, isin
from riskscore.features.firms import REGISTER_FEATURES
from riskscore.features.history import Events, cumulative, key_codes, segments
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


def _register(inputs: Inputs, out: Columns) -> None:
    lines, register = inputs.rows, inputs.register
    if register is None:
        out.update({name: np.full(len(lines["t"]), np.nan) for name in REGISTER_FEATURES})
    else:
        out.update(register.features(lines["subject_id"], lines["t"]))


def _party_events(inputs: Inputs) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(party code, t, value) for both sides of every document."""
    lines, starts = inputs.lines, inputs.document_starts
    value = document_sums(lines["value_usd"], starts)
    sides = (inputs.codes("consignor_id")[starts], inputs.codes("consignee_id")[starts])
    t = lines["t"][starts]
    return np.concatenate(sides), np.concatenate([t, t]), np.concatenate([value, value])


def _activity(inputs: Inputs, out: Columns) -> None:
    lines = inputs.lines
    event_key, when, amount = _party_events(inputs)
    every_subject, every_partner = inputs.codes("subject_id"), inputs.codes("partner_id")
    subject, partner, t = inputs.at(every_subject), inputs.at(every_partner), inputs.at(lines["t"])
    activity = Events.build(event_key, when, amount)
    for window in (30, 90, 365):
        count, value = activity.before(subject, t, window * SECONDS_PER_DAY)
        out[f"firm_documents_{window}d"] = count
        out[f"firm_value_usd_{window}d"] = value
    recent = out["firm_value_usd_90d"]
    _, year = activity.before(
        subject, np.maximum(t - 90 * SECONDS_PER_DAY, 0), 365 * SECONDS_PER_DAY
    )
    usual = year * 90 / 365
    out["firm_activity_surge_ratio"] = np.where(
        usual > 0, recent / np.where(usual > 0, usual, 1), np.nan
    )
    last = activity.last_before(subject, t)
    out["firm_days_since_previous_activity"] = (t - last) / SECONDS_PER_DAY
    out["firm_longest_gap_days"] = activity.longest_gap_before(subject, t) / SECONDS_PER_DAY
    out["partner_documents_before"], _ = activity.before(partner, t)
    first = _first_times(every_partner, every_subject, lines["t"])
    distinct = Events.build(every_partner[first], lines["t"][first])
    out["partner_distinct_firms_before"], _ = distinct.before(partner, t)


def _first_times(key: np.ndarray, other: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Rows holding the earliest t of each distinct (key, other) pair (one row per pair)."""
    pair = key_codes(key, other)
    order = np.lexsort((t, pair))
    first: np.ndarray = order[segments(pair[order])[:-1]]
    return first


def _trade(inputs: Inputs, out: Columns) -> None:
    """What the firm traded before t: chapters, CHPL lines, sales at home and abroad, and its
    Russian buyers. The firm's sums share one set of events (one sort, one query)."""
    lines = inputs.lines
    t = lines["t"]
    subject = inputs.codes("subject_id")
    query, at = inputs.at(subject), inputs.at(t)
    chapter = key_codes(subject, inputs.codes("chapter"))
    first_in_chapter, _ = Events.build(chapter, t).before(inputs.at(chapter), at)
    out["firm_first_time_in_hs_chapter"] = (first_in_chapter == 0).astype(float)
    flow, value = lines["flow"], np.nan_to_num(lines["value_usd"])
    domestic = flow == "domestic"
    sums = np.zeros((len(t), len(_TRADE_SUMS)))
    sums[:, 0] = isin(lines["hs6"], chpl_tiers())
    sums[:, 1] = np.where(domestic | (flow == "export"), value, 0.0)
    sums[:, 2] = np.where(domestic, value, 0.0)
    _russian_buyers(lines, (subject, inputs.codes("partner_id")), sums[:, 3:])
    _, before = Events.build(subject, t, sums).before(query, at)
    chpl, sold, home, buyers, total, squares = before.T
    out["firm_chpl_lines_before"] = chpl
    out["firm_domestic_sales_share"] = np.where(
        sold > 0, home / np.where(sold > 0, sold, 1), np.nan
    )
    out["firm_russian_buyers_before"] = buyers
    out["firm_russian_buyer_concentration"] = np.where(
        total > 0, squares / np.where(total > 0, total, 1) ** 2, np.nan
    )


_TRADE_SUMS = ("chpl", "sold", "home", "russian_buyers", "russian_value", "russian_squares")


def _russian_buyers(
    lines: Columns, codes: tuple[np.ndarray, np.ndarray], weights: np.ndarray
) -> None:
    """Per line, into `weights`' three columns: 1 where the firm exports to a Russian buyer for
    the first time; the export's value; its step in the sum of squared values per buyer.

    The concentration of exports over buyers (Herfindahl) is sum(v_b^2) / (sum v_b)^2; each
    export adds (v_b + x)^2 - v_b^2 to the numerator, so both are plain point-in-time sums.
    """
    to_russia = np.flatnonzero((lines["flow"] == "export") & (lines["partner_country"] == "RU"))
    firm, buyer = codes[0][to_russia], codes[1][to_russia]
    when, value = lines["t"][to_russia], np.nan_to_num(lines["value_usd"][to_russia])
    pair = key_codes(firm, buyer)
    order = np.lexsort((value, when, pair))  # each pair's exports in time order
    running = cumulative(pair[order], value[order])
    before = np.empty(len(order))
    before[order] = running - value[order]
    weights[to_russia[_first_times(firm, buyer, when)], 0] = 1.0
    weights[to_russia, 1] = value
    weights[to_russia, 2] = (before + value) ** 2 - before**2


def _violations(inputs: Inputs, out: Columns) -> None:
    lines, outcomes = inputs.lines, inputs.outcomes
    names = ("firm_inspections_before", "firm_violations_before", "partner_violations_before")
    if outcomes is None or not len(outcomes["document_id"]):
        out.update({name: np.zeros(len(inputs.rows["t"])) for name in names})
        return
    starts = inputs.document_starts
    doc_row = {d: i for i, d in enumerate(lines["document_id"][starts])}
    doc = np.fromiter((doc_row.get(d, -1) for d in outcomes["document_id"]), np.int64)
    known = doc >= 0
    # A document counts as inspected from its first recorded result, and as a violation only
    # from the first recorded result that found one (a later finding is not known earlier).
    inspected = _earliest(doc[known], outcomes["recorded"][known], len(starts))
    found = known & outcomes["violation_found"]
    violated = _earliest(doc[found], outcomes["recorded"][found], len(starts))
    parties = (inputs.codes("consignor_id")[starts], inputs.codes("consignee_id")[starts])
    subject, partner = inputs.at(inputs.codes("subject_id")), inputs.at(inputs.codes("partner_id"))
    t = inputs.rows["t"]
    out[names[0]] = _party_counts(parties, inspected, subject, t)
    out[names[1]] = _party_counts(parties, violated, subject, t)
    out[names[2]] = _party_counts(parties, violated, partner, t)


def _earliest(doc: np.ndarray, when: np.ndarray, documents: int) -> np.ndarray:
    """Earliest time per document (-1 for documents without one)."""
    earliest = np.full(documents, np.iinfo(np.int64).max)
    np.minimum.at(earliest, doc, when)
    return np.where(earliest == np.iinfo(np.int64).max, -1, earliest)


def _party_counts(
    parties: tuple[np.ndarray, np.ndarray], moments: np.ndarray, who: np.ndarray, t: np.ndarray
) -> np.ndarray:
    """Documents with a moment (>= 0) in which `who` of each line was a party, before t
    (parties and `who` as codes of one code space)."""
    has = moments >= 0
    sides = np.concatenate([parties[0][has], parties[1][has]])
    when = np.concatenate([moments[has], moments[has]])
    count, _ = Events.build(sides, when).before(who, t)
    return count


def compute(inputs: Inputs, stats: FeatureStats) -> Columns:
    """The counterparty-history features of every line."""
    out: Columns = {}
    _register(inputs, out)
    _activity(inputs, out)
    _trade(inputs, out)
    _violations(inputs, out)
    return out
