"""Dwell and chain features: how goods travelled through Kazakh firms before leaving.

One pass over the lines in time order keeps every firm's stock, as the ESF virtual warehouse
does. Domestic firms are those of the home country (`FeatureStats.home_country`, Kazakhstan by
default); "Kazakh" below means domestic. A line sold by a Kazakh firm (ESF, SNT or DT export) is matched to the lot it takes goods
from: by its declared link when the linked line is in the seller's stock, otherwise first in,
first out on the seller's stock of the same HS-10 code, then of the same HS heading. A line
bought by a Kazakh firm (import or ESF purchase) becomes a new lot that carries its chain:
when the chain started, how many firms it passed, the origin and HS code at import.

Lines at the same second are matched before any of them enters stock, so no line ever sees a
line of its own moment. The pass is plain Python: it is a sequential state machine (each match
changes what the next line can match) that no vectorised library call expresses.
"""

from __future__ import annotations

import itertools
from collections import defaultdict, deque
from dataclasses import dataclass
from typing import Any

import numpy as np

from riskscore.features.catalogue import Spec
from riskscore.features.columns import SECONDS_PER_DAY, Columns, isin
from riskscore.features.history import Events, key_codes, segments
from riskscore.features.inputs import Inputs
from riskscore.features.stats import FeatureStats
from riskscore.reference import HOME_COUNTRY, eaeu_partners

_FAST_DAYS = 7
_LINE = "this line's chain, before t"
SPECS: tuple[Spec, ...] = (
    Spec("dwell_days", "chain", "Days the selling firm held these goods before this sale or export", "days", _LINE),
    Spec("chain_dwell_days", "chain", "Days since the goods were first imported into Kazakhstan", "days", _LINE),
    Spec("chain_firm_count", "chain", "Kazakh firms the goods have passed through, this seller included", "firms", _LINE),
    Spec("chain_origin_changed", "chain", "The declared origin differs from the origin at import", "0/1", _LINE),
    Spec("chain_hs6_changed", "chain", "The declared HS subheading differs from the one at import", "0/1", _LINE),
    Spec("markup_ratio", "chain", "Unit value of this line over the unit value the seller paid", "ratio", _LINE),
    Spec("chain_matched_by_link", "chain", "The upstream line was named on the document (1) or matched from stock (0)", "0/1", _LINE),
    Spec("firm_reexports_to_eaeu_before", "chain", "Exports to Russia, Belarus, Kyrgyzstan or Armenia the firm made with a traced source", "exports", "all history before t"),
    Spec("firm_fast_reexport_share", "chain", f"Share of the firm's earlier traced exports to EAEU partners that left within {_FAST_DAYS} days of arriving", "share", "all history before t"),
)  # fmt: skip
_OUTPUT = [s.name for s in SPECS[:7]]
# The lot a bought line becomes: what the online state stores so that a firm's stock can be
# rebuilt from its own history alone (its suppliers' histories are not needed).
LOT_COLUMNS = ("lot_chain_start", "lot_firms", "lot_origin", "lot_hs6")
# What the online state stores per line from this pass: the lot a bought line became, and how
# long the seller held what a line sold (the line's dwell_days), which the firm's later
# re-export counts read.
STORED = (*LOT_COLUMNS, "sold_dwell_days")


@dataclass(slots=True)
class Lot:
    """Goods a firm holds, with the chain they came through."""

    t: int
    chain_start: int
    firms: int
    origin: str
    hs6: str
    unit_value: float
    remaining: float


def trace(lines: Columns, outputs: np.ndarray | None = None, home: str = HOME_COUNTRY) -> Columns:
    """The chain features of every line (NaN for lines that sell nothing from Kazakh stock),
    followed by the LOT_COLUMNS of the bought lines among `outputs` (row indices; None: all).
    `lines` must be in time order, the lines of a document together (as `build_features`
    orders them).

    Where `lines` already carries LOT_COLUMNS for a bought line (the online state stores them),
    that lot is taken as given instead of being traced through the seller's stock. A bought
    line's lot is only made when something reads it: a later sale from the same stock or by
    its link, or `outputs` (a served document's history is mostly purchases no sale reads).
    Firms of the `home` country keep stock; goods leave it when they cross its border.
    """
    # Plain lists: the pass reads single values, which numpy arrays hand out slowly.
    cols = {c: lines[c].tolist() for c in _COLUMNS}
    t = lines["t"].tolist()
    amount, unit_value = lines["amount"].tolist(), lines["unit_value"].tolist()
    linked_no = lines["linked_item_no"].tolist()
    n = len(t)
    result: dict[int, tuple[float, ...]] = {}  # chain features of the lines that sold
    given = _given_chains(lines)
    bought: list[Lot | None] = [None] * n
    lots: dict[tuple[str, int], tuple[str, Lot]] = {}
    stock: defaultdict[tuple[str, str], deque[Lot]] = defaultdict(deque)
    flow = lines["flow"]
    sells = (isin(flow, _SELLING) & (lines["consignor_country"] == home)).tolist()
    read = _read_by_sales(cols, linked_no, sells)
    wanted = np.ones(n, dtype=bool) if outputs is None else np.isin(np.arange(n), outputs)
    buying = isin(flow, _BUYING) & (lines["consignee_country"] == home)
    buys = (buying & (wanted | _read_by_purchases(cols, read))).tolist()
    for start, stop in itertools.pairwise(segments(lines["t"])):
        sources: list[Lot | None] = [None] * (stop - start)
        for i in range(start, stop):
            if sells[i]:
                sources[i - start] = _sell(
                    i, cols, t, amount, unit_value, linked_no, lots, stock, result
                )
        for i in range(start, stop):
            if buys[i]:
                source = sources[i - start]
                chain = given[i] or (
                    None if source is None else
                    (source.chain_start, source.firms + 1, source.origin, source.hs6)
                )  # fmt: skip
                bought[i] = _buy(i, cols, (t, amount, unit_value), chain, lots, stock,
                                 (read, bool(wanted[i])))  # fmt: skip
    table = np.full((n, len(_OUTPUT)), np.nan)
    if result:
        table[list(result)] = list(result.values())
    out = {name: table[:, j] for j, name in enumerate(_OUTPUT)}
    out["sold_dwell_days"] = out["dwell_days"]
    out["lot_chain_start"] = np.array(
        [np.nan if b is None else b.chain_start for b in bought], float
    )
    out["lot_firms"] = np.array([np.nan if b is None else b.firms for b in bought], float)
    out["lot_origin"] = _objects([None if b is None else b.origin for b in bought])
    out["lot_hs6"] = _objects([None if b is None else b.hs6 for b in bought])
    return out


def _objects(values: list[str | None]) -> np.ndarray:
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


def _given_chains(lines: Columns) -> list[tuple[int, int, str, str] | None]:
    """The stored lot of each bought line, as the chain its new lot carries: (chain start,
    firms with the buyer, origin, HS-6)."""
    if "lot_chain_start" not in lines:
        return [None] * len(lines["t"])
    stored = (lines[c].tolist() for c in LOT_COLUMNS)
    return [
        None if s != s else (int(s), int(f), str(o), str(h))
        for s, f, o, h in zip(*stored, strict=True)
    ]


def _read_by_sales(
    cols: dict[str, list[Any]], linked_no: list[float], sells: list[bool]
) -> set[tuple[str, object]]:
    """Every stock key (firm, HS-10 or HS-4) and link (document, item) some sale reads."""
    read: set[tuple[str, object]] = set()
    for i, selling in enumerate(sells):
        if selling:
            seller = cols["consignor_id"][i]
            read.add((seller, cols["hs_code"][i]))
            read.add((seller, cols["hs4"][i]))
            if isinstance(cols["linked_document_id"][i], str) and linked_no[i] == linked_no[i]:
                read.add((cols["linked_document_id"][i], int(linked_no[i])))
    return read


_SELLING = frozenset({"domestic", "export"})
_BUYING = frozenset({"import", "domestic"})
# What `trace` and `reexport_history` read.
_TRACED = ("t", "amount", "unit_value", "linked_item_no", "subject_id", "destination_country",
           *LOT_COLUMNS, "flow", "document_id", "item_no", "consignor_id", "consignor_country",
           "consignee_id", "consignee_country", "hs_code", "hs4", "hs6", "origin_country",
           "linked_document_id")  # fmt: skip
_COLUMNS = ("flow", "document_id", "item_no", "consignor_id", "consignor_country", "consignee_id",
            "consignee_country", "hs_code", "hs4", "hs6", "origin_country", "linked_document_id")  # fmt: skip


def _sell(
    i: int, cols: dict[str, list[Any]], t: list[int], amount: list[float],
    unit_value: list[float], linked_no: list[float], lots: dict[tuple[str, int], tuple[str, Lot]],
    stock: defaultdict[tuple[str, str], deque[Lot]], result: dict[int, tuple[float, ...]],
) -> Lot | None:  # fmt: skip
    """What a Kazakh seller's line (ESF, SNT or DT export) sells from, recorded in result[i]."""
    seller = cols["consignor_id"][i]
    lot, by_link = None, 0.0
    link = cols["linked_document_id"][i]
    if isinstance(link, str) and linked_no[i] == linked_no[i]:
        holder_lot = lots.get((link, int(linked_no[i])))
        if holder_lot is not None and holder_lot[0] == seller and holder_lot[1].remaining > 0:
            lot, by_link = holder_lot[1], 1.0
    if lot is None:
        lot = _first_in(stock.get((seller, cols["hs_code"][i]))) or _first_in(
            stock.get((seller, cols["hs4"][i]))
        )
    if lot is None:
        return None
    taken = amount[i] if amount[i] == amount[i] else lot.remaining
    lot.remaining -= min(taken, lot.remaining)
    result[i] = (
        (t[i] - lot.t) / SECONDS_PER_DAY,
        (t[i] - lot.chain_start) / SECONDS_PER_DAY,
        lot.firms,
        float(cols["origin_country"][i] != lot.origin),
        float(cols["hs6"][i] != lot.hs6),
        unit_value[i] / lot.unit_value if lot.unit_value > 0 else np.nan,
        by_link,
    )
    return lot


def _first_in(queue: deque[Lot] | None) -> Lot | None:
    while queue:
        if queue[0].remaining > 0:
            return queue[0]
        queue.popleft()
    return None


def _read_by_purchases(cols: dict[str, list[Any]], read: set[tuple[str, object]]) -> np.ndarray:
    """Whether some sale reads each line's lot, were it bought: by its stock keys or link."""
    keys = zip(cols["consignee_id"], cols["hs_code"], cols["hs4"], cols["document_id"],
               cols["item_no"], strict=True)  # fmt: skip
    return np.fromiter(
        ((b, h) in read or (b, h4) in read or (d, n) in read for b, h, h4, d, n in keys),
        dtype=bool,
        count=len(cols["document_id"]),
    )


def _buy(
    i: int, cols: dict[str, list[Any]], numbers: tuple[list[int], list[float], list[float]],
    chain: tuple[int, int, str, str] | None, lots: dict[tuple[str, int], tuple[str, Lot]],
    stock: defaultdict[tuple[str, str], deque[Lot]], needs: tuple[set[tuple[str, object]], bool],
) -> Lot | None:  # fmt: skip
    """The lot a Kazakh buyer's line (import or ESF purchase) becomes, put in its stock; None
    when nothing reads it (`needs`: what sales read, and whether the lot is an output)."""
    read, output = needs
    buyer: str = cols["consignee_id"][i]
    hs_code: str = cols["hs_code"][i]
    hs4: str = cols["hs4"][i]
    link = (cols["document_id"][i], int(cols["item_no"][i]))
    keys = [k for k in ((buyer, hs_code), (buyer, hs4)) if k in read]
    if not (keys or output or link in read):
        return None
    t, amount, unit_value = numbers
    ti = int(t[i])
    if chain is None:  # an import, or a purchase whose source is unknown: the chain starts here
        chain = (ti, 1, cols["origin_country"][i], cols["hs6"][i])
    lot = Lot(ti, *chain, unit_value[i], amount[i])
    if lot.remaining != lot.remaining:  # unknown quantity: the lot serves one sale
        lot.remaining = 1.0
    if link in read:
        lots[link] = (buyer, lot)
    for key in keys:
        stock[key].append(lot)
    return lot


def reexport_history(
    lines: Columns, dwell: np.ndarray, rows: np.ndarray | None, home: str = HOME_COUNTRY
) -> Columns:
    """How often the subject firm re-exported traced goods to an EAEU partner of `home`, and
    how fast (for the given rows of `lines`; every row when None), from each line's dwell."""
    t = lines["t"]
    subject = key_codes(lines["subject_id"])
    eaeu = isin(lines["destination_country"], eaeu_partners(home)) & (lines["flow"] == "export")
    traced_export = eaeu & ~np.isnan(dwell)
    fast = (dwell <= _FAST_DAYS).astype(float)
    events = Events.build(subject[traced_export], t[traced_export], fast[traced_export])
    if rows is not None:
        subject, t = subject[rows], t[rows]
    count, fast_count = events.before(subject, t)
    share = np.where(count > 0, fast_count / np.where(count > 0, count, 1), np.nan)
    return {"firm_reexports_to_eaeu_before": count, "firm_fast_reexport_share": share}


def compute(inputs: Inputs, stats: FeatureStats) -> Columns:
    """The chain features of the wanted lines, then the STORED columns of those lines.

    When the lines carry what the state stores (the service's history), only the stock the
    wanted lines sell from is rebuilt (`_stock_lines`), and earlier re-exports are counted
    from their stored dwell: any other firm's goods reach that stock through a stored lot, so
    tracing anything else would change nothing here.
    """
    lines, wanted, home = inputs.lines, inputs.wanted, stats.home_country
    if wanted is None or not set(STORED) <= lines.keys():
        traced = trace(lines, wanted, home)
        return {name: inputs.at(v) for name, v in traced.items()} | reexport_history(
            lines, traced["dwell_days"], wanted, home
        )
    kept = _stock_lines(lines, wanted, home)
    rows = np.searchsorted(kept, wanted)
    traced = trace({name: lines[name][kept] for name in _TRACED}, rows, home)
    return {name: v[rows] for name, v in traced.items()} | reexport_history(
        lines, lines["sold_dwell_days"], wanted, home
    )


def _stock_lines(lines: Columns, wanted: np.ndarray, home: str) -> np.ndarray:
    """The lines (ascending) that make the stock the wanted lines sell from: the wanted lines
    and every line of their Kazakh sellers in the HS headings they sell. A sale by link takes
    its lot whatever the heading, so the headings grow, until none is new, by those of the
    purchases a kept sale names and of the sales that name a kept purchase."""
    selling = isin(lines["flow"][wanted], _SELLING) & (lines["consignor_country"][wanted] == home)
    sellers = set(lines["consignor_id"][wanted][selling].tolist())
    mine = np.flatnonzero(
        isin(lines["consignor_id"], sellers) | isin(lines["consignee_id"], sellers)
    )
    headings = set(lines["hs4"][wanted][selling].tolist())
    linking = mine[~np.isnan(lines["linked_item_no"][mine])]
    links = list(zip(lines["linked_document_id"][linking].tolist(),
                     lines["linked_item_no"][linking].astype(np.int64).tolist(), strict=True))  # fmt: skip
    targets = set(links)
    line_of = {
        (d, n): h
        for d, n, h in zip(lines["document_id"][mine].tolist(), lines["item_no"][mine].tolist(),
                           lines["hs4"][mine].tolist(), strict=True)
        if (d, n) in targets
    }  # fmt: skip
    # (heading of a line that names a purchase, heading of that purchase)
    pairs = [(h, line_of[link]) for h, link in zip(lines["hs4"][linking].tolist(), links,
                                                    strict=True) if link in line_of]  # fmt: skip
    while True:
        more = {b for a, b in pairs if a in headings} | {a for a, b in pairs if b in headings}
        if more <= headings:
            break
        headings |= more
    kept = np.zeros(len(lines["t"]), dtype=bool)
    kept[mine[isin(lines["hs4"][mine], headings)]] = True
    kept[wanted] = True
    return np.flatnonzero(kept)
