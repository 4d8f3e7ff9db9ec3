"""Counterparty history: who the firm and its partner are and what they did before t.

Activity counts use the documents a party took part in (as consignor or consignee); violations
use inspection outcomes *recorded* before t, whoever the party was on the inspected document.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from riskscore.data.world import INVASION
from riskscore.features.catalogue import Spec
from riskscore.features.history import Events, key_codes, seconds
from riskscore.features.inputs import Inputs
from riskscore.reference import chpl_tiers

_DAY = 86_400
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


def _party_events(lines: pd.DataFrame) -> pd.DataFrame:
    """One row per (document, party): both sides of every document, with its value."""
    docs = lines.groupby("document_id", sort=False).agg(
        t=("t", "first"),
        consignor_id=("consignor_id", "first"),
        consignee_id=("consignee_id", "first"),
        value=("value_usd", "sum"),
    )
    sides = [docs[["t", "value"]].assign(party=docs[c]) for c in ("consignor_id", "consignee_id")]
    return pd.concat(sides, ignore_index=True)


def _register(inputs: Inputs, out: pd.DataFrame) -> None:
    lines, firms = inputs.lines, inputs.firms
    if firms is None:
        for name in ("firm_age_days", "firm_registered_after_invasion", "firm_founder_russian",
                     "firm_address_shared_count", "firm_director_shared_count"):  # fmt: skip
            out[name] = np.nan
        return
    register = firms.set_index("firm_id")
    registered = pd.Series(seconds(firms["registered_at"]), index=firms["firm_id"].to_numpy())
    at = lines["subject_id"].map(registered)
    t = lines["t"]
    out["firm_age_days"] = ((t - at) / _DAY).where(at <= t)
    invasion = INVASION * _DAY  # seconds since 1970, as `seconds` gives
    out["firm_registered_after_invasion"] = (at >= invasion).astype(float).where(at.notna())
    founder = lines["subject_id"].map(register["founder_country"])
    out["firm_founder_russian"] = (founder == "RU").astype(float).where(founder.notna())
    for name, column in (("firm_address_shared_count", "address_id"),
                         ("firm_director_shared_count", "director_id")):  # fmt: skip
        key = key_codes(pd.concat([firms[column], lines["subject_id"].map(register[column])]))
        events = Events.build(key[: len(firms)], registered.to_numpy())
        count, _ = events.before(key[len(firms) :], t.to_numpy())
        # The firm itself is one of the firms registered at its address before t.
        out[name] = (count - (at <= t).to_numpy()).clip(min=0)
        out.loc[lines["subject_id"].map(register[column]).isna(), name] = np.nan


def _activity(lines: pd.DataFrame, out: pd.DataFrame) -> None:
    events = _party_events(lines)
    codes = key_codes(pd.concat([events["party"], lines["subject_id"], lines["partner_id"]]))
    n = len(events)
    event_key, subject, partner = codes[:n], codes[n : n + len(lines)], codes[n + len(lines) :]
    t = lines["t"].to_numpy()
    activity = Events.build(event_key, events["t"].to_numpy(), events["value"].to_numpy())
    for window in (30, 90, 365):
        count, value = activity.before(subject, t, window * _DAY)
        out[f"firm_documents_{window}d"] = count
        out[f"firm_value_usd_{window}d"] = value
    _, recent = activity.before(subject, t, 90 * _DAY)
    _, year = activity.before(subject, np.maximum(t - 90 * _DAY, 0), 365 * _DAY)
    usual = year * 90 / 365
    out["firm_activity_surge_ratio"] = np.where(
        usual > 0, recent / np.where(usual > 0, usual, 1), np.nan
    )
    last = activity.last_before(subject, t)
    out["firm_days_since_previous_activity"] = (t - last) / _DAY
    out["firm_longest_gap_days"] = _longest_gap(event_key, events["t"].to_numpy(), subject, t)
    out["partner_documents_before"], _ = activity.before(partner, t)
    pairs = pd.DataFrame({"partner": partner, "subject": subject, "t": t})
    first = pairs.groupby(["partner", "subject"], sort=False)["t"].min().reset_index()
    distinct = Events.build(first["partner"].to_numpy(), first["t"].to_numpy())
    out["partner_distinct_firms_before"], _ = distinct.before(partner, t)


def _longest_gap(key: np.ndarray, time: np.ndarray, query: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Largest gap between consecutive events of the key before t, the open gap to t included."""
    order = np.lexsort((time, key))
    k, s = key[order], time[order].astype(float)
    gap = np.where(np.r_[False, k[1:] == k[:-1]], np.r_[0.0, np.diff(s)], 0.0)
    running = pd.Series(gap).groupby(k).cummax().to_numpy()
    packed = (k.astype(np.int64) << 32) | s.astype(np.int64)
    high = np.searchsorted(packed, (query << 32) | t, side="left") - 1
    safe = np.clip(high, 0, max(len(k) - 1, 0))
    found = (high >= 0) & (k[safe] == query) if len(k) else np.zeros(len(query), bool)
    open_gap = t - s[safe]
    return np.where(found, np.maximum(running[safe], open_gap) / _DAY, np.nan)


def _trade(lines: pd.DataFrame, out: pd.DataFrame) -> None:
    t = lines["t"].to_numpy()
    subject = key_codes(lines["subject_id"])
    chapter = key_codes(lines["subject_id"], lines["chapter"])
    first_in_chapter, _ = Events.build(chapter, t).before(chapter, t)
    out["firm_first_time_in_hs_chapter"] = (first_in_chapter == 0).astype(float)
    chpl = lines["hs6"].isin(list(chpl_tiers())).to_numpy()
    out["firm_chpl_lines_before"], _ = Events.build(subject[chpl], t[chpl]).before(subject, t)
    selling = lines["flow"].isin(["domestic", "export"]).to_numpy()
    domestic = (lines["flow"] == "domestic").to_numpy()
    value = lines["value_usd"].to_numpy(dtype=float)
    _, sold = Events.build(subject[selling], t[selling], value[selling]).before(subject, t)
    _, home = Events.build(subject[domestic], t[domestic], value[domestic]).before(subject, t)
    out["firm_domestic_sales_share"] = np.where(
        sold > 0, home / np.where(sold > 0, sold, 1), np.nan
    )
    _russian_buyers(lines, subject, out)


def _russian_buyers(lines: pd.DataFrame, subject: np.ndarray, out: pd.DataFrame) -> None:
    """Distinct Russian buyers and the Herfindahl index of export value over them, before t.

    The index is sum(v_b^2) / (sum v_b)^2 over buyers b; each export adds
    (v_b + x)^2 - v_b^2 to the numerator, so both sums are plain point-in-time sums.
    """
    t = lines["t"].to_numpy()
    to_russia = ((lines["flow"] == "export") & (lines["partner_country"] == "RU")).to_numpy()
    exports = pd.DataFrame(
        {"firm": subject[to_russia], "buyer": lines["partner_id"].to_numpy()[to_russia],
         "t": t[to_russia], "value": lines["value_usd"].to_numpy(dtype=float)[to_russia]}
    ).sort_values(["t", "buyer", "value"], kind="stable")  # fmt: skip
    before = exports.groupby(["firm", "buyer"], sort=False)["value"].cumsum() - exports["value"]
    square_step = (before + exports["value"]) ** 2 - before**2
    first = exports.groupby(["firm", "buyer"], sort=False)["t"].min().reset_index()
    count, _ = Events.build(first["firm"].to_numpy(), first["t"].to_numpy()).before(subject, t)
    out["firm_russian_buyers_before"] = count
    firm, when = exports["firm"].to_numpy(), exports["t"].to_numpy()
    _, total = Events.build(firm, when, exports["value"].to_numpy()).before(subject, t)
    _, squares = Events.build(firm, when, square_step.to_numpy()).before(subject, t)
    out["firm_russian_buyer_concentration"] = np.where(
        total > 0, squares / np.where(total > 0, total, 1) ** 2, np.nan
    )


def _violations(inputs: Inputs, out: pd.DataFrame) -> None:
    lines, outcomes = inputs.lines, inputs.outcomes
    if outcomes is None or outcomes.empty:
        for name in (
            "firm_inspections_before",
            "firm_violations_before",
            "partner_violations_before",
        ):
            out[name] = 0.0
        return
    docs = lines.drop_duplicates("document_id").set_index("document_id")
    known = outcomes[outcomes["document_id"].isin(docs.index)]
    # A document counts as inspected from its first recorded result, and as a violation only
    # from the first recorded result that found one (a later finding is not known earlier).
    inspected = known.groupby("document_id", sort=False)["recorded_at"].min()
    violated = (
        known[known["violation_found"]].groupby("document_id", sort=False)["recorded_at"].min()
    )
    t = lines["t"].to_numpy()
    out["firm_inspections_before"], _ = _party_counts(docs, inspected, lines, "subject_id", t)
    out["firm_violations_before"], _ = _party_counts(docs, violated, lines, "subject_id", t)
    out["partner_violations_before"], _ = _party_counts(docs, violated, lines, "partner_id", t)


def _party_counts(
    docs: pd.DataFrame, moments: pd.Series, lines: pd.DataFrame, who: str, t: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Documents in `moments` (id -> time) in which `who` of each line was a party, before t."""
    parties = pd.concat([docs.loc[moments.index, c] for c in ("consignor_id", "consignee_id")])
    codes = key_codes(pd.concat([parties, lines[who]]))
    when = np.concatenate([seconds(moments), seconds(moments)])
    return Events.build(codes[: len(parties)], when).before(codes[len(parties) :], t)


def compute(inputs: Inputs) -> pd.DataFrame:
    """The counterparty-history features of every line."""
    out = pd.DataFrame(index=inputs.lines.index)
    _register(inputs, out)
    _activity(inputs.lines, out)
    _trade(inputs.lines, out)
    _violations(inputs, out)
    return out[[s.name for s in SPECS]]
