"""Every Kazakh firm's stock in the online state: lots, what remains of them, and the takes.

A document's sales take from the lots its sellers hold (`for_document`). One that arrives
after documents issued later than it (within the lateness horizon) is scored on the stock as
it stood at its place in time (`rewound`), and everything its firms did after it is traced
again from there with the chain pass itself (`retrace`): the takes, what remains of each lot,
the dwell of the sales, and the chain (start, firms, origin) passed on to the lots their
buyers made, down every chain that goes on from them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from riskscore.features import STORED
from riskscore.features.chain import LOT_COLUMNS, trace
from riskscore.features.columns import MICROS_PER_SECOND, Columns, columns_of
from riskscore.features.lines import prepare
from riskscore.features.stock import Lot, LotId, Take
from riskscore.store.sql import Sql

COLUMNS = ("document_id", "item_no", "holder", "hs_code", "hs4", "t", "chain_start",
           "firms", "origin", "hs6", "unit_value", "remaining", "source_document",
           "source_item")  # fmt: skip
_LIST = ", ".join(COLUMNS)
TAKES = ("document_id", "item_no", "seller", "t", "lot_document", "lot_item", "amount", "by_link")
_SELLING, _BUYING = ("domestic", "export"), ("import", "domestic")
Position = tuple[int, str]  # (second, document id): where a document stands in time


class Retraced(NamedTuple):
    """What tracing again changed of the lines after a late document."""

    lines: Columns  # the later lines (prepared), with their STORED columns as traced again
    dwell_changed: np.ndarray  # which of them sold with another dwell than before


class Stock:
    """The lots and takes tables, inside the caller's transaction."""

    def __init__(self, sql: Sql, home: str) -> None:
        self.sql, self.home = sql, home

    def for_document(self, lines: Columns, t: int) -> list[Lot]:
        """The lots a document's sales may take, bought before its second, in first-in-
        first-out order: per stock key as many as it has sales on it, plus one (each sale
        takes from one lot), and the lots its sales name by link."""
        wanted: defaultdict[tuple[str, str, str], int] = defaultdict(lambda: 1)
        found: dict[LotId, Lot] = {}
        for i in _selling(lines, self.home):
            seller = str(lines["consignor_id"][i])
            wanted[(seller, "hs_code", str(lines["hs_code"][i]))] += 1
            wanted[(seller, "hs4", str(lines["hs4"][i]))] += 1
            link, number = lines["linked_document_id"][i], lines["linked_item_no"][i]
            if isinstance(link, str) and number == number:
                lot = self.lot((link, int(number)))
                if lot is not None and lot.t < t:
                    found.setdefault(lot.id, lot)
        for (holder, column, code), count in wanted.items():
            rows = self.sql.all(
                f"SELECT {_LIST} FROM lots WHERE holder = ? AND {column} = ? AND remaining > 0 "
                "AND t < ? ORDER BY t, document_id, item_no LIMIT ?",
                (holder, code, t, count),
            )
            for row in rows:
                found.setdefault((row[0], int(row[1])), lot_of(row))
        return sorted(found.values(), key=lambda lot: lot.order)

    def lot(self, lot_id: LotId) -> Lot | None:
        row = self.sql.one(f"SELECT {_LIST} FROM lots WHERE document_id = ? AND item_no = ?",
                           lot_id)  # fmt: skip
        return None if row is None else lot_of(row)

    def rewound(self, firms: Iterable[str], position: Position, own: bool = False) -> list[Lot]:
        """The lots `firms` bought before `position` that were open there: what remains of them
        now, plus what their sales after it took (`own`: and the document at it)."""
        found: dict[LotId, Lot] = {}
        for firm in set(firms):
            rows = self.sql.all(f"SELECT {_LIST} FROM lots WHERE holder = ? AND remaining > 0 "
                                "AND t <= ?", (firm, position[0]))  # fmt: skip
            for row in rows:
                lot = lot_of(row)
                if (lot.t, lot.id[0]) < position:
                    found[lot.id] = lot
            for lot_id, amount in self._taken_after(firm, position, own):
                taken = found.get(lot_id) or self.lot(lot_id)
                if taken is not None and (taken.t, taken.id[0]) < position:
                    taken.remaining += amount
                    found[taken.id] = taken
        return sorted((lot for lot in found.values() if lot.remaining > 0),
                      key=lambda lot: lot.order)  # fmt: skip

    def _taken_after(self, seller: str, position: Position, own: bool) -> list[tuple[LotId, float]]:
        rows = self.sql.all("SELECT t, document_id, lot_document, lot_item, amount FROM takes "
                            "WHERE seller = ? AND t >= ?", (seller, position[0]))  # fmt: skip
        after = [(int(r[0]), str(r[1])) > position or (own and (int(r[0]), str(r[1])) == position)
                 for r in rows]  # fmt: skip
        return [
            ((str(r[2]), int(r[3])), float(r[4])) for r, a in zip(rows, after, strict=True) if a
        ]

    def apply(self, lines: Columns, read: Sequence[Lot], remaining: dict[LotId, float]) -> None:
        """Write what a document's pass did from the stock read for it: lots it made, takes,
        and what remains of the lots it took from."""
        for lot in read:
            if lot.remaining != remaining[lot.id]:
                self.sql.run("UPDATE lots SET remaining = ? WHERE document_id = ? AND item_no = ?",
                             (lot.remaining, *lot.id))  # fmt: skip
        self._insert(lines)

    def _insert(self, lines: Columns) -> None:
        made = [lot_row(lot) for lot in lines["lot_made"] if lot is not None]
        self.sql.append("lots", made, COLUMNS)
        self.sql.append("takes", take_rows(lines, list(lines["lot_taken"])), TAKES)

    def retrace(self, lines: Columns, stock: list[Lot], position: Position) -> Retraced:
        """Trace again, from the `stock` rewound to `position`, the late document's `lines`
        (prepared, with the moves its own pass made) and every later line of the firms whose
        stock it changes; write what changed. Firms outside these keep their own matches: a
        purchase from one of them keeps the source its seller's take named."""
        firms = firms_of(lines, self.home)
        later = self._later(firms, position)
        count = len(lines["t"])
        both = {name: np.concatenate([lines[name], later[name]]) for name in later}
        sources = self._sources(both, firms, count)
        traced = trace(both, stock=stock, sellers=firms, sources=sources, home=self.home)
        self._forget(later, firms)
        for lot in stock:
            self.sql.run("UPDATE lots SET remaining = ? WHERE document_id = ? AND item_no = ?",
                         (lot.remaining, *lot.id))  # fmt: skip
        held = [lot if lot is not None and lot.holder in firms else None for lot in traced.made]
        self._insert(both | {"lot_made": _objects(held), "lot_taken": _objects(traced.taken)})
        after = {name: values[count:] for name, values in both.items()}
        before = later["sold_dwell_days"]
        for name in STORED:
            after[name] = traced.columns[name][count:]
        sold_by_others = ~np.isin(after["consignor_id"], list(firms))
        after["sold_dwell_days"] = np.where(sold_by_others, before, after["sold_dwell_days"])
        self._update_lines(after)
        self._pass_on(after, traced.taken[count:], firms)
        dwell = after["sold_dwell_days"]
        same = (before == dwell) | (np.isnan(before) & np.isnan(dwell))
        return Retraced(after, ~same)

    def _later(self, firms: set[str], position: Position) -> Columns:
        """Every stored line after `position` in which one of `firms` sells or buys, prepared,
        in canonical order."""
        found: dict[tuple[str, int], tuple[Any, ...]] = {}
        start = position[0] * MICROS_PER_SECOND
        columns = _LINE_READ
        listed = ", ".join(columns)
        for firm in firms:
            for column in ("consignor_id", "consignee_id"):
                rows = self.sql.all(
                    f"SELECT {listed} FROM lines WHERE {column} = ? AND issued_at >= ?",
                    (firm, start),
                )
                for row in rows:
                    if (int(row[4]) // MICROS_PER_SECOND, str(row[0])) > position:
                        found[(str(row[0]), int(row[16]))] = row
        frame = pd.DataFrame(list(found.values()), columns=list(columns))
        frame["issued_at"] = pd.to_datetime(frame["issued_at"].astype("int64"), unit="us", utc=True)
        cols = columns_of(frame)
        order = np.lexsort((cols["item_no"], pd.factorize(cols["document_id"], sort=True)[0],
                            cols["issued_us"] // MICROS_PER_SECOND))  # fmt: skip
        cols = {name: values[order] for name, values in cols.items()}
        return cols | prepare(cols)

    def _sources(self, lines: Columns, firms: set[str], skip: int) -> dict[int, Lot]:
        """For later purchases by `firms` from another Kazakh firm: the lot its seller's
        stored take named (what the purchase's chain comes from)."""
        out = {}
        for i in range(skip, len(lines["t"])):
            buyer, seller = lines["consignee_id"][i], lines["consignor_id"][i]
            if buyer in firms and seller not in firms and lines["flow"][i] in _BUYING:
                row = self.sql.one("SELECT lot_document, lot_item FROM takes "
                                   "WHERE document_id = ? AND item_no = ?",
                                   (lines["document_id"][i], int(lines["item_no"][i])))  # fmt: skip
                lot = None if row is None else self.lot((str(row[0]), int(row[1])))
                if lot is not None:
                    out[i] = lot
        return out

    def _forget(self, later: Columns, firms: set[str]) -> None:
        """Remove the takes of the later sales by `firms` and the lots of their later
        purchases: tracing again makes them anew."""
        for i in range(len(later["t"])):
            key = (later["document_id"][i], int(later["item_no"][i]))
            if later["consignor_id"][i] in firms:
                self.sql.run("DELETE FROM takes WHERE document_id = ? AND item_no = ?", key)
            if later["consignee_id"][i] in firms:
                self.sql.run("DELETE FROM lots WHERE document_id = ? AND item_no = ?", key)

    def _update_lines(self, lines: Columns) -> None:
        sets = ", ".join(f"{name} = ?" for name in STORED)
        rows = []
        for i in range(len(lines["t"])):
            values = [_stored(lines[name][i]) for name in STORED]
            rows.append((*values, lines["document_id"][i], int(lines["item_no"][i])))
        self.sql.many(f"UPDATE lines SET {sets} WHERE document_id = ? AND item_no = ?", rows)

    def _pass_on(self, lines: Columns, taken: Sequence[Take | None], firms: set[str]) -> None:
        """The chain of what a re-traced sale took goes on to the lot its buyer made, when the
        buyer's own stock was not traced again, and from there down every sale that took from
        that lot, until nothing changes."""
        queue: list[tuple[LotId, tuple[int, int, str, str], LotId | None]] = []
        for i, take in enumerate(taken):
            buyer, country = lines["consignee_id"][i], lines["consignee_country"][i]
            if buyer in firms or country != self.home or lines["flow"][i] not in _BUYING:
                continue
            line = (str(lines["document_id"][i]), int(lines["item_no"][i]))
            lot = None if take is None else self.lot(take.lot)
            if lot is None:  # the sale now takes from nothing: the chain starts at the buyer
                own = (int(lines["t"][i]), 1, str(lines["origin_country"][i]), str(lines["hs6"][i]))
                queue.append((line, own, None))
            else:
                queue.append((line, (lot.chain_start, lot.firms + 1, lot.origin, lot.hs6), lot.id))
        seen: set[LotId] = set()
        while queue:
            lot_id, chain, source = queue.pop()
            current = self.lot(lot_id)
            if current is None or lot_id in seen:
                continue
            seen.add(lot_id)
            if (current.chain_start, current.firms, current.origin, current.hs6) == chain:
                continue
            origin = source or (None, None)
            self.sql.run("UPDATE lots SET chain_start = ?, firms = ?, origin = ?, hs6 = ?, "
                         "source_document = ?, source_item = ? WHERE document_id = ? "
                         "AND item_no = ?", (*chain, *origin, *lot_id))  # fmt: skip
            self.sql.run(f"UPDATE lines SET {', '.join(f'{c} = ?' for c in LOT_COLUMNS)} "
                         "WHERE document_id = ? AND item_no = ?", (*chain, *lot_id))  # fmt: skip
            for row in self.sql.all("SELECT document_id, item_no FROM takes "
                                    "WHERE lot_document = ? AND lot_item = ?", lot_id):  # fmt: skip
                downstream = (str(row[0]), int(row[1]))
                queue.append((downstream, (chain[0], chain[1] + 1, chain[2], chain[3]), lot_id))


_LINE_READ = ("document_id", "doc_type", "flow", "procedure_code", "issued_at", "office",
              "declarant_id", "consignor_id", "consignor_country", "consignee_id",
              "consignee_country", "dispatch_country", "destination_country", "transport_mode",
              "invoice_currency", "previous_document_ids", "item_no", "hs_code", "description",
              "origin_country", "net_mass_kg", "gross_mass_kg", "supplementary_qty",
              "supplementary_unit", "value_usd", "linked_document_id", "linked_item_no",
              *STORED)  # fmt: skip


def _selling(lines: Columns, home: str) -> list[int]:
    sides = zip(lines["flow"].tolist(), lines["consignor_country"].tolist(), strict=True)
    return [i for i, (flow, country) in enumerate(sides) if flow in _SELLING and country == home]


def firms_of(lines: Columns, home: str) -> set[str]:
    """The home firms whose stock a document's lines change: its sellers and buyers."""
    firms = {str(lines["consignor_id"][i]) for i in _selling(lines, home)}
    sides = zip(lines["flow"].tolist(), lines["consignee_country"].tolist(), strict=True)
    firms |= {str(lines["consignee_id"][i]) for i, (flow, country) in enumerate(sides)
              if flow in _BUYING and country == home}  # fmt: skip
    return firms


def lot_of(row: Sequence[Any]) -> Lot:
    source = None if row[12] is None else (str(row[12]), int(row[13]))
    return Lot((str(row[0]), int(row[1])), str(row[2]), str(row[3]), str(row[4]), int(row[5]),
               int(row[6]), int(row[7]), str(row[8]), str(row[9]), float(row[10]),
               float(row[11]), source)  # fmt: skip


def lot_row(lot: Lot) -> tuple[object, ...]:
    source = (None, None) if lot.source is None else lot.source
    return (*lot.id, lot.holder, lot.hs_code, lot.hs4, lot.t, lot.chain_start, lot.firms,
            lot.origin, lot.hs6, lot.unit_value, lot.remaining, *source)  # fmt: skip


def take_rows(lines: Columns, taken: Sequence[Take | None]) -> list[tuple[object, ...]]:
    return [(lines["document_id"][i], int(lines["item_no"][i]), lines["consignor_id"][i],
             int(lines["t"][i]), take.lot[0], take.lot[1], take.amount, int(take.by_link))
            for i, take in enumerate(taken) if take is not None]  # fmt: skip


def _objects(values: Sequence[object]) -> np.ndarray:
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


def _stored(value: object) -> object:
    return None if value is None or (isinstance(value, float) and value != value) else value
