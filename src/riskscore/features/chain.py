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

Training runs the pass over every line. The service runs it over one document, starting from
the stock the online state holds for the document's sellers (`Past.stock`): the same pass
from a given starting point, so its matches are those of a pass over every earlier line.
"""

from __future__ import annotations

import itertools
from collections import defaultdict, deque
from collections.abc import Collection, Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np

from riskscore.features.aggregates import Aggregation, EventSet, Running, running_events
from riskscore.features.catalogue import Spec
from riskscore.features.columns import SECONDS_PER_DAY, Columns, isin
from riskscore.features.history import segments
from riskscore.features.inputs import Inputs
from riskscore.features.stats import FeatureStats
from riskscore.features.stock import Lot, LotId, Take
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
# The lot a bought line becomes: kept with the line in the online state.
LOT_COLUMNS = ("lot_chain_start", "lot_firms", "lot_origin", "lot_hs6")
# What the online state keeps per line from this pass: the lot a bought line became, and how
# long the seller held what a line sold (the line's dwell_days), which the firm's later
# re-export counts read.
STORED = (*LOT_COLUMNS, "sold_dwell_days")
# What the pass made and took per line (object arrays: a Lot or None, a Take or None), for the
# online state to write.
MOVES = ("lot_made", "lot_taken")
_SELLING = frozenset({"domestic", "export"})
_BUYING = frozenset({"import", "domestic"})
_COLUMNS = ("flow", "document_id", "item_no", "consignor_id", "consignor_country", "consignee_id",
            "consignee_country", "hs_code", "hs4", "hs6", "origin_country", "linked_document_id")  # fmt: skip
SUBJECT = ("subject_id",)


class Traced(NamedTuple):
    """What the pass found: chain features and STORED columns per line, and its moves."""

    columns: Columns
    made: list[Lot | None]  # the lot each bought line became (None: not bought, or unread)
    taken: list[Take | None]  # what each sale line took (None: nothing from Kazakh stock)


class _Pass:
    """One pass over lines in time order: every firm's stock and what each line matched."""

    def __init__(self, lines: Columns, stock: Sequence[Lot]) -> None:
        # Plain lists: the pass reads single values, which numpy arrays hand out slowly.
        self.cols = {c: lines[c].tolist() for c in _COLUMNS}
        self.t = lines["t"].tolist()
        self.amount, self.unit_value = lines["amount"].tolist(), lines["unit_value"].tolist()
        self.linked_no = lines["linked_item_no"].tolist()
        n = len(self.t)
        self.result: dict[int, tuple[float, ...]] = {}  # chain features of the lines that sold
        self.taken: list[Take | None] = [None] * n
        self.links: dict[LotId, Lot] = {}
        self.stock: defaultdict[tuple[str, str], deque[Lot]] = defaultdict(deque)
        # A starting stock, in first-in-first-out order. Lots bought at the first line's second
        # (by documents before it) enter after that second's sales, as in a pass over all.
        first = self.t[0] if n else 0
        self.pending = [lot for lot in stock if lot.t >= first]
        for lot in stock:
            self.links[lot.id] = lot
            if lot.t < first:
                self.stock[(lot.holder, lot.hs_code)].append(lot)
                self.stock[(lot.holder, lot.hs4)].append(lot)

    def release(self) -> None:
        """Put the starting lots of the first second into stock (after its sales)."""
        for lot in self.pending:
            self.stock[(lot.holder, lot.hs_code)].append(lot)
            self.stock[(lot.holder, lot.hs4)].append(lot)
        self.pending = []

    def sell(self, i: int) -> Lot | None:
        """What a Kazakh seller's line (ESF, SNT or DT export) sells from; its chain features
        go to `result[i]` and its take to `taken[i]`."""
        cols = self.cols
        seller = cols["consignor_id"][i]
        lot, by_link = None, False
        link = cols["linked_document_id"][i]
        if isinstance(link, str) and self.linked_no[i] == self.linked_no[i]:
            linked = self.links.get((link, int(self.linked_no[i])))
            if linked is not None and linked.holder == seller and linked.remaining > 0:
                lot, by_link = linked, True
        if lot is None:
            lot = _first_in(self.stock.get((seller, cols["hs_code"][i]))) or _first_in(
                self.stock.get((seller, cols["hs4"][i]))
            )
        if lot is None:
            return None
        t, amount = self.t[i], self.amount[i]
        taken = min(amount if amount == amount else lot.remaining, lot.remaining)
        lot.remaining -= taken
        self.taken[i] = Take(lot.id, taken, by_link)
        self.result[i] = (
            (t - lot.t) / SECONDS_PER_DAY,
            (t - lot.chain_start) / SECONDS_PER_DAY,
            lot.firms,
            float(cols["origin_country"][i] != lot.origin),
            float(cols["hs6"][i] != lot.hs6),
            self.unit_value[i] / lot.unit_value if lot.unit_value > 0 else np.nan,
            float(by_link),
        )
        return lot

    def buy(self, i: int, source: Lot | None, keys: list[tuple[str, str]], linked: bool) -> Lot:
        """The lot a Kazakh buyer's line (import or ESF purchase) becomes, put in its stock
        under `keys` and, when `linked`, where a later sale's link can find it."""
        cols = self.cols
        buyer, t = cols["consignee_id"][i], int(self.t[i])
        if source is None:  # an import, or a purchase whose source is unknown: a chain starts
            chain = (t, 1, cols["origin_country"][i], cols["hs6"][i])
        else:
            chain = (source.chain_start, source.firms + 1, source.origin, source.hs6)
        amount = self.amount[i]
        lot = Lot((cols["document_id"][i], int(cols["item_no"][i])), buyer, cols["hs_code"][i],
                  cols["hs4"][i], t, *chain, self.unit_value[i],
                  amount if amount == amount else 1.0,  # unknown quantity: serves one sale
                  None if source is None else source.id)  # fmt: skip
        if linked:
            self.links[lot.id] = lot
        for key in keys:
            self.stock[key].append(lot)
        return lot


def trace(
    lines: Columns,
    outputs: np.ndarray | None = None,
    stock: Sequence[Lot] = (),
    sellers: Collection[str] | None = None,
    sources: Mapping[int, Lot] | None = None,
    home: str = HOME_COUNTRY,
) -> Traced:
    """The chain features of every line (NaN for lines that sell nothing from Kazakh stock),
    the STORED columns of `outputs` (row indices; None: every line), and the moves.

    `lines` must be in time order, the lines of a document together (as `build_features`
    orders them). `stock` is the stock the firms hold before the first line (lots in
    first-in-first-out order, none bought after the first line's second). A bought line's lot
    is only made when something reads it: a later sale from the same stock or by its link, or
    `outputs` (most purchases are never sold again within the lines given).

    To trace again part of what happened (`sellers`): only those firms' sales are matched, and
    a purchase from another firm takes its source from `sources` (row -> the lot it came from,
    as that firm's own pass found it). Firms of the `home` country keep stock; goods leave it
    when they cross its border.
    """
    run = _Pass(lines, stock)
    cols, n = run.cols, len(run.t)
    flow = lines["flow"]
    sells = isin(flow, _SELLING) & (lines["consignor_country"] == home)
    if sellers is not None:
        sells &= isin(lines["consignor_id"], set(sellers))
    sells = sells.tolist()
    given = sources or {}
    read = _read_by_sales(cols, run.linked_no, sells)
    wanted = np.ones(n, dtype=bool) if outputs is None else np.isin(np.arange(n), outputs)
    buying = isin(flow, _BUYING) & (lines["consignee_country"] == home)
    buys = (buying & (wanted | _read_by_purchases(cols, read))).tolist()
    made: list[Lot | None] = [None] * n
    for start, stop in itertools.pairwise(segments(lines["t"])):
        found = [run.sell(i) if sells[i] else given.get(i) for i in range(start, stop)]
        run.release()
        for i in range(start, stop):
            if buys[i]:
                buyer: str = cols["consignee_id"][i]
                stock_keys = ((buyer, str(cols["hs_code"][i])), (buyer, str(cols["hs4"][i])))
                keys = [k for k in stock_keys if k in read]
                link = (cols["document_id"][i], int(cols["item_no"][i]))
                made[i] = run.buy(i, found[i - start], keys, link in read)
    return Traced(_columns(run.result, made, n), made, run.taken)


def _columns(result: dict[int, tuple[float, ...]], made: list[Lot | None], n: int) -> Columns:
    table = np.full((n, len(_OUTPUT)), np.nan)
    if result:
        table[list(result)] = list(result.values())
    out = {name: table[:, j] for j, name in enumerate(_OUTPUT)}
    out["sold_dwell_days"] = out["dwell_days"]
    out["lot_chain_start"] = np.array([np.nan if b is None else b.chain_start for b in made], float)
    out["lot_firms"] = np.array([np.nan if b is None else b.firms for b in made], float)
    out["lot_origin"] = _objects([None if b is None else b.origin for b in made])
    out["lot_hs6"] = _objects([None if b is None else b.hs6 for b in made])
    return out


def _objects(values: Sequence[object]) -> np.ndarray:
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


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


def reexport_events(inputs: Inputs, dwell: np.ndarray) -> EventSet:
    """The subject's exports to an EAEU partner whose source was traced, valued 1 when they
    left within _FAST_DAYS of arriving, from each line's dwell_days."""
    lines = inputs.lines
    partners = eaeu_partners(inputs.home)
    eaeu = isin(lines["destination_country"], partners) & (lines["flow"] == "export")
    rows = np.flatnonzero(eaeu & ~np.isnan(dwell))
    fast = (dwell[rows] <= _FAST_DAYS).astype(float).reshape(-1, 1)
    return EventSet(inputs.key(SUBJECT)[rows], lines["t"][rows], fast, rows)


REEXPORTS = Running(
    "reexports",
    (SUBJECT,),
    1,
    lambda inputs: reexport_events(inputs, inputs.lines["sold_dwell_days"]),
)
AGGREGATIONS: tuple[Aggregation, ...] = (REEXPORTS,)


def compute(inputs: Inputs, stats: FeatureStats) -> Columns:
    """The chain features of the wanted lines, their STORED columns and, online, their MOVES.

    Online (`inputs.past`) the lines are one document's: the pass starts from the stock the
    state holds for its sellers, and earlier re-exports come from the state.
    """
    if inputs.past is not None:
        traced = trace(inputs.lines, stock=inputs.past.stock(), home=inputs.home)
        reexports = inputs.past.running(REEXPORTS.name)
    else:
        traced = trace(inputs.lines, inputs.wanted, home=inputs.home)
        reexports = running_events(reexport_events(inputs, traced.columns["dwell_days"]))
    subject, t = inputs.at(inputs.key(SUBJECT)), inputs.at(inputs.lines["t"])
    count, fast = reexports.before(subject, t)
    out = {name: inputs.at(v) for name, v in traced.columns.items()}
    out["firm_reexports_to_eaeu_before"] = count
    out["firm_fast_reexport_share"] = np.where(
        count > 0, fast[:, 0] / np.where(count > 0, count, 1), np.nan
    )
    if inputs.past is not None:
        out["lot_made"], out["lot_taken"] = _objects(traced.made), _objects(traced.taken)
    return out
