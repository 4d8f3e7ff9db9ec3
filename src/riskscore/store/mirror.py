"""An in-process mirror of a SQLite state's lines and outcomes, indexed by party.

A served document needs its parties' whole history. Reading it from SQLite and turning rows
into arrays cost ~12 ms a request; here it is a dict lookup and one `take` per column. The
SQLite file stays the one truth: inside each scoring transaction `sync` appends what any
process committed since (rows after the last rowid seen). That cursor is sound only because
SQLite has one writer at a time and rowids grow in commit order; it is not a cursor for a
store with concurrent writers (docs/decisions.md).
"""

from __future__ import annotations

import sqlite3
import sys
from typing import Any

import numpy as np

from riskscore.features.columns import (
    CODED,
    LOT_NUMBERS,
    LOT_TEXT,
    MICROS_PER_SECOND,
    NUMBERS,
    TEXT,
    Codebook,
    Columns,
    canonical_order,
    coded,
)
from riskscore.features.lines import DERIVED, prepare

_LINE_SOURCES = (*TEXT, *NUMBERS, *LOT_NUMBERS, *LOT_TEXT, "item_no", "issued_at")
_OUTCOME_SOURCES = ("document_id", "recorded_at", "violation_found")


class _Table:
    """Columns appended a few rows at a time, with row numbers indexed by some keys.

    Columns of one dtype share a 2-D block (rows x columns) that grows by doubling, so taking
    a party's rows is one fancy index per dtype rather than one per column (~60).
    """

    def __init__(self, kinds: dict[str, type]) -> None:
        self.where: dict[str, tuple[str, int]] = {}
        widths: dict[str, int] = {}
        for name, kind in kinds.items():
            dtype = np.dtype(kind).str
            self.where[name] = (dtype, widths.get(dtype, 0))
            widths[dtype] = widths.get(dtype, 0) + 1
        self.blocks = {
            dtype: np.empty((1024, width), dtype=dtype) for dtype, width in widths.items()
        }
        self.index: dict[object, list[int]] = {}
        self.rows = 0

    def extend(self, columns: dict[str, Any], keys: list[tuple[Any, ...]]) -> None:
        end = self.rows + len(keys)
        for dtype, block in self.blocks.items():
            if end > len(block):
                # Room for as many rows again: growing copies every row (~20 ms at 80k lines,
                # a stall for the request that pays it), so it must stay rare.
                grown = np.empty((2 * max(end, len(block)), block.shape[1]), dtype=dtype)
                grown[: self.rows] = block[: self.rows]
                self.blocks[dtype] = grown
        for name, values in columns.items():
            dtype, j = self.where[name]
            self.blocks[dtype][self.rows : end, j] = values
        for offset, row_keys in enumerate(keys):
            for key in set(row_keys):
                self.index.setdefault(key, []).append(self.rows + offset)
        self.rows = end

    def rows_of(self, keys: set[str]) -> np.ndarray:
        found = [self.index[k] for k in keys if k in self.index]
        return np.unique(np.concatenate(found)) if found else np.zeros(0, dtype=np.int64)

    def column(self, name: str) -> np.ndarray:
        dtype, j = self.where[name]
        return self.blocks[dtype][: self.rows, j]

    def take(self, rows: np.ndarray, extra: Columns | None = None) -> dict[str, np.ndarray]:
        """The blocks of `rows`, followed by the `extra` rows (same columns) if given."""
        taken = {dtype: block[rows] for dtype, block in self.blocks.items()}
        if extra is not None:
            count = len(next(iter(extra.values())))
            more = {dtype: np.empty((count, b.shape[1]), dtype) for dtype, b in taken.items()}
            for name, values in extra.items():
                dtype, j = self.where[name]
                more[dtype][:, j] = values
            taken = {dtype: np.concatenate([taken[dtype], more[dtype]]) for dtype in taken}
        return taken

    def columns(self, blocks: dict[str, np.ndarray]) -> Columns:
        """Blocks as columns (views, no copies)."""
        return {name: blocks[dtype][:, j] for name, (dtype, j) in self.where.items()}


class Mirror:
    """Lines by party (consignor, consignee or declarant) and outcomes by document."""

    def __init__(self) -> None:
        kinds: dict[str, type] = dict.fromkeys((*TEXT, *LOT_TEXT), object)
        kinds |= dict.fromkeys((*NUMBERS, *LOT_NUMBERS), float)
        kinds |= {"item_no": np.int64, "issued_us": np.int64}
        # Also what `prepare` derives and the codes of the keyed columns, computed once per
        # line rather than once per request that reads it.
        kinds |= dict.fromkeys(DERIVED, object) | {"t": np.int64, "amount": float}
        kinds |= {"unit_value": float} | dict.fromkeys(map(coded, CODED), np.int64)
        self.lines = _Table(kinds)
        self.codebook = Codebook()
        outcome_kinds: dict[str, type] = {
            "document_id": object,
            "recorded": np.int64,
            "violation_found": bool,
        }
        self.outcomes = _Table(outcome_kinds)
        self._last = {"lines": 0, "outcomes": 0}

    def sync(self, db: sqlite3.Connection) -> int:
        """Append the rows stored since the last sync; the number of new line rows."""
        lines = self._fetch(db, "lines", _LINE_SOURCES)
        if lines:
            cols = _by_column(lines, _LINE_SOURCES)
            cols["issued_us"] = cols.pop("issued_at")
            keys = _parties(cols)
            kinds = {name: np.dtype(dtype) for name, (dtype, _) in self.lines.where.items()}
            arrays = {name: np.array(values, dtype=kinds[name]) for name, values in cols.items()}
            self.lines.extend(self.prepared(arrays), keys)
        outcomes = self._fetch(db, "outcomes", _OUTCOME_SOURCES)
        if outcomes:
            cols = _by_column(outcomes, _OUTCOME_SOURCES)
            cols["recorded"] = [int(us) // MICROS_PER_SECOND for us in cols.pop("recorded_at")]
            cols["violation_found"] = [bool(v) for v in cols["violation_found"]]
            self.outcomes.extend(cols, [(str(r[0]),) for r in outcomes])
        return len(lines)

    def append_stored(self, cols: Columns, db: sqlite3.Connection) -> None:
        """Take in lines this process has just stored (prepared, with their lots), unless
        another process stored lines since the last sync: then the next sync reads them all."""
        count = len(cols["document_id"])
        last = db.execute("SELECT max(rowid) FROM lines").fetchone()[0]
        if last is None or int(last) - count != self._last["lines"]:
            return
        self.lines.extend({name: cols[name] for name in self.lines.where}, _parties(cols))
        self._last["lines"] = int(last)

    def prepared(self, cols: Columns) -> Columns:
        """Document columns with `prepare`'s derived columns and the codebook's codes, the
        form the mirror keeps its lines in (a new document gets the same)."""
        cols = cols | prepare(cols)
        return cols | self.codebook.encode(cols)

    def _fetch(
        self, db: sqlite3.Connection, table: str, names: tuple[str, ...]
    ) -> list[tuple[Any, ...]]:
        query = f"SELECT rowid, {', '.join(names)} FROM {table} WHERE rowid > ? ORDER BY rowid"
        rows = db.execute(query, (self._last[table],)).fetchall()
        if rows:
            self._last[table] = int(rows[-1][0])
        return [row[1:] for row in rows]

    def history(self, parties: set[str], new: Columns) -> tuple[Columns, Columns, np.ndarray]:
        """Every line any of `parties` took part in (except a stored copy of the new
        document: it is not its own past) together with the new document's `prepared`
        lines, in canonical order; the outcomes of the history's documents; and where the
        new lines ended up."""
        rows = self.lines.rows_of(parties)
        document_id = new["document_id"][0]
        rows = rows[self.lines.column("document_id")[rows] != document_id]
        blocks = self.lines.take(rows, extra=new)
        order = canonical_order(self.lines.columns(blocks))
        lines = self.lines.columns({dtype: block[order] for dtype, block in blocks.items()})
        position = np.empty(len(order), dtype=np.int64)
        position[order] = np.arange(len(order))
        documents = set(self.lines.column("document_id")[rows].tolist())
        outcomes = self.outcomes.columns(self.outcomes.take(self.outcomes.rows_of(documents)))
        return lines, outcomes, position[len(rows) :]


def _parties(cols: dict[str, Any]) -> list[tuple[Any, ...]]:
    """Each line's parties, the keys it is indexed by: declarant, consignor, consignee."""
    return list(zip(cols["declarant_id"], cols["consignor_id"], cols["consignee_id"], strict=True))


def _by_column(rows: list[tuple[Any, ...]], names: tuple[str, ...]) -> dict[str, list[Any]]:
    """Rows as lists per column: text interned (few distinct values repeat), NULL numbers NaN."""
    columns = dict(zip(names, map(list, zip(*rows, strict=True)), strict=True))
    for name, values in columns.items():
        if name in _TEXT:
            columns[name] = [None if v is None else sys.intern(str(v)) for v in values]
        elif name in _NUMBERS:
            columns[name] = [np.nan if v is None else float(v) for v in values]
    return columns


_TEXT = frozenset((*TEXT, *LOT_TEXT))
_NUMBERS = frozenset((*NUMBERS, *LOT_NUMBERS))
