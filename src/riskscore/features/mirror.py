"""An in-process mirror of the online state's lines and outcomes, indexed by party.

A served document needs its parties' whole history. Reading it from SQLite and turning rows
into arrays cost ~12 ms a request; here it is a dict lookup and one `take` per column. The
SQLite file stays the one truth: before each request `sync` appends what any process wrote
since (rows after the last rowid seen), so several workers still see each other's documents.
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
    NUMBERS,
    TEXT,
    Codebook,
    Columns,
    coded,
)
from riskscore.features.lines import DERIVED, prepare

_LINE_SOURCES = (*TEXT, *NUMBERS, *LOT_NUMBERS, *LOT_TEXT, "item_no", "issued_at")
_OUTCOME_SOURCES = ("document_id", "recorded_at", "violation_found")
_MICROS_PER_SECOND = 1_000_000


class _Column:
    """A numpy array that grows by doubling, for appends of a few rows at a time."""

    def __init__(self, dtype: type) -> None:
        self.data: np.ndarray = np.empty(1024, dtype=dtype)
        self.size = 0

    def extend(self, values: list[object]) -> None:
        end = self.size + len(values)
        if end > len(self.data):
            grown = np.empty(max(end, 2 * len(self.data)), dtype=self.data.dtype)
            grown[: self.size] = self.data[: self.size]
            self.data = grown
        self.data[self.size : end] = values
        self.size = end


class _Table:
    """Columns appended row-batch by row-batch, with row numbers indexed by some keys."""

    def __init__(self, kinds: dict[str, type]) -> None:
        self.columns = {name: _Column(kind) for name, kind in kinds.items()}
        self.index: dict[object, list[int]] = {}
        self.rows = 0

    def extend(self, columns: dict[str, Any], keys: list[tuple[Any, ...]]) -> None:
        for name, values in columns.items():
            self.columns[name].extend(values)
        for offset, row_keys in enumerate(keys):
            for key in set(row_keys):
                self.index.setdefault(key, []).append(self.rows + offset)
        self.rows += len(keys)

    def rows_of(self, keys: set[str]) -> np.ndarray:
        found = [self.index[k] for k in keys if k in self.index]
        return np.unique(np.concatenate(found)) if found else np.zeros(0, dtype=np.int64)

    def take(self, rows: np.ndarray) -> Columns:
        return {name: column.data[rows] for name, column in self.columns.items()}


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
            parties = zip(
                cols["declarant_id"], cols["consignor_id"], cols["consignee_id"], strict=True
            )
            keys = list(parties)
            kinds = {name: column.data.dtype for name, column in self.lines.columns.items()}
            arrays = {name: np.array(values, dtype=kinds[name]) for name, values in cols.items()}
            self.lines.extend(self.prepared(arrays), keys)
        outcomes = self._fetch(db, "outcomes", _OUTCOME_SOURCES)
        if outcomes:
            cols = _by_column(outcomes, _OUTCOME_SOURCES)
            cols["recorded"] = [int(us) // _MICROS_PER_SECOND for us in cols.pop("recorded_at")]
            cols["violation_found"] = [bool(v) for v in cols["violation_found"]]
            self.outcomes.extend(cols, [(str(r[0]),) for r in outcomes])
        return len(lines)

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

    def history(self, parties: set[str], without: str) -> tuple[Columns, Columns]:
        """Every line any of `parties` took part in, except document `without`, and the
        outcomes of those lines' documents."""
        lines = self.lines.take(self.lines.rows_of(parties))
        keep = lines["document_id"] != without
        if not keep.all():
            lines = {name: values[keep] for name, values in lines.items()}
        documents = set(lines["document_id"].tolist())
        return lines, self.outcomes.take(self.outcomes.rows_of(documents))


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
