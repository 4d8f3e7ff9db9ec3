"""The proportions of a world that docs/world.md documents and the tests hold it to."""

from __future__ import annotations

import pandas as pd

from riskscore.data.io import World
from riskscore.reference import chpl_tiers
from riskscore.synthetic.world import INVASION, MICROSECONDS_PER_DAY, day

_DAYS_PER_MONTH = 30.44


def profile(world: World) -> dict[str, float]:
    """Counts and shares of a world, in the order `riskscore describe` prints them."""
    d = world.documents
    days = d["issued_at"].astype("int64") / MICROSECONDS_PER_DAY  # microseconds since the epoch
    chpl = d["hs_code"].str[:6].isin(list(chpl_tiers()))
    to_russia = chpl & (d["flow"] == "export") & (d["destination_country"] == "RU")
    start, end = float(days.min()), float(days.max())
    before = max(INVASION - start, 1.0) / _DAYS_PER_MONTH
    after = max(end - INVASION, 1.0) / _DAYS_PER_MONTH
    dt_import = (d["doc_type"] == "DT") & (d["flow"] == "import")
    downstream = (d["doc_type"] == "ESF") | ((d["doc_type"] == "SNT") & (d["flow"] == "export"))
    documents = d["document_id"].nunique()
    figures = {
        "item lines": float(len(d)),
        "documents": float(documents),
        "CHPL share of lines": float(chpl.mean()),
        "CHPL lines to Russia per month, before invasion": float(to_russia[days < INVASION].sum())
        / before,
        "CHPL lines to Russia per month, after invasion": float(to_russia[days >= INVASION].sum())
        / after,
        "DT import lines with origin != dispatch": float(
            (d.loc[dt_import, "origin_country"] != d.loc[dt_import, "dispatch_country"]).mean()
        ),
        "ESF and SNT-export lines linked upstream": float(
            d.loc[downstream, "linked_document_id"].notna().mean()
        ),
    }
    figures["CHPL to Russia jump (after / before)"] = figures[
        "CHPL lines to Russia per month, after invasion"
    ] / max(figures["CHPL lines to Russia per month, before invasion"], 1e-9)
    if world.firms is not None:
        registered = world.firms["registered_at"].astype("int64") / MICROSECONDS_PER_DAY
        figures["firms"] = float(len(world.firms))
        figures["firms registered after 2022-02-24"] = float((registered >= INVASION).mean())
    if world.outcomes is not None:
        o = world.outcomes
        inspected_documents = o["document_id"].nunique()
        figures["documents inspected"] = inspected_documents / max(documents, 1)
        selected = o.drop_duplicates("document_id")["selected_by"]
        figures["documents inspected at random"] = float(selected.eq("random").sum()) / documents
        figures["inspections selected at random"] = float(selected.eq("random").mean())
        figures["inspected lines with a violation"] = float(o["violation_found"].mean())
    if world.truth is not None:
        figures |= _truth_figures(d, world, days)
    return figures


def _truth_figures(d: pd.DataFrame, world: World, days: pd.Series) -> dict[str, float]:
    truth = world.truth
    assert truth is not None
    evasion = truth["is_evasion"].to_numpy(dtype=bool)
    figures = {
        "evasion share of lines": float(evasion.mean()),
        "evasion share of lines before invasion": float(
            evasion[(days < INVASION).to_numpy()].mean()
        ),
        "evasion share of lines from 2023-04-01": float(
            evasion[(days >= day(pd.Timestamp("2023-04-01").date())).to_numpy()].mean()
        ),
    }
    if world.outcomes is not None:
        keys = ["document_id", "item_no"]
        inspected = world.outcomes.merge(truth[[*keys, "is_evasion"]], on=keys)
        caught = inspected.loc[inspected["is_evasion"], "violation_found"]
        figures["inspected evasion lines found"] = float(caught.mean()) if len(caught) else 0.0
    shares = truth.loc[evasion, "typology"].value_counts(normalize=True)
    for typology, share in shares.sort_index().items():
        figures[f"typology share: {typology}"] = float(share)
    return figures
