"""The online state: every scored document, its lots, outcomes and the register, in SQLite.

The service reads a document's parties' history from here and runs `build_features` on it,
the same code as training; then it writes the document (with the lots it became) back, so the
next document sees it. SQLite in WAL mode lets readers go on while one writer appends.
Scoring answers are kept by document id, so the same document scored twice answers the same
and is counted once.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from riskscore.errors import StateError
from riskscore.features.chain import STORED
from riskscore.features.columns import Columns
from riskscore.features.mirror import Mirror
from riskscore.schema import DOCUMENT_COLUMNS, FIRM_COLUMNS, OUTCOME_COLUMNS

_TIMES = {"issued_at", "registered_at", "inspected_at", "recorded_at"}
_LINE_COLUMNS = (*DOCUMENT_COLUMNS, *STORED)
_log = logging.getLogger(__name__)
_LINE_MARKS = ", ".join("?" * len(_LINE_COLUMNS))
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS lines ({", ".join(_LINE_COLUMNS)},
    PRIMARY KEY (document_id, item_no));
CREATE INDEX IF NOT EXISTS lines_consignor ON lines (consignor_id);
CREATE INDEX IF NOT EXISTS lines_consignee ON lines (consignee_id);
CREATE INDEX IF NOT EXISTS lines_declarant ON lines (declarant_id);
CREATE TABLE IF NOT EXISTS outcomes ({", ".join(OUTCOME_COLUMNS)});
CREATE INDEX IF NOT EXISTS outcomes_document ON outcomes (document_id);
CREATE TABLE IF NOT EXISTS firms ({", ".join(FIRM_COLUMNS)}, PRIMARY KEY (firm_id));
CREATE TABLE IF NOT EXISTS answers (document_id PRIMARY KEY, body, features);
"""


def _to_sql(frame: pd.DataFrame, columns: Iterable[str]) -> list[tuple[object, ...]]:
    """Rows for SQLite: times as integer microseconds, lists as JSON, NaN as NULL."""
    out: dict[str, np.ndarray] = {}
    for column in columns:
        values = frame[column]
        if column in _TIMES:
            micros = values.dt.tz_convert("UTC").dt.tz_localize(None).astype("datetime64[us]")
            out[column] = micros.astype("int64").to_numpy(dtype=object)
        elif column == "previous_document_ids":
            out[column] = np.array(
                [json.dumps(list(v) if v is not None else []) for v in values], dtype=object
            )
        else:
            out[column] = values.astype(object).where(values.notna(), None).to_numpy(dtype=object)
    return list(zip(*out.values(), strict=True))


def micros(moment: datetime) -> int:
    """Microseconds since 1970-01-01 UTC of an aware datetime, exactly."""
    return (moment - _EPOCH) // timedelta(microseconds=1)


def _row_to_sql(row: dict[str, Any], lots: Columns, i: int) -> tuple[object, ...]:
    """One `document_rows` row plus line i of `lots`, as SQLite values in _LINE_COLUMNS order."""
    values: list[object] = []
    for name in DOCUMENT_COLUMNS:
        value = row[name]
        if name == "issued_at":
            value = micros(value)
        elif name == "previous_document_ids":
            value = json.dumps(list(value or []))
        elif isinstance(value, str):
            value = str(value)  # plain str, not the schema's StrEnum
        values.append(value)
    for name in STORED:
        lot = lots[name][i]
        values.append(None if lot is None or lot != lot else lot)
    return tuple(values)


def _from_sql(frame: pd.DataFrame) -> pd.DataFrame:
    """The firms register with the dtypes `load_world` gives (times as aware datetimes)."""
    for column in frame.columns:
        if column in _TIMES:
            frame[column] = pd.to_datetime(frame[column].astype("int64"), unit="us", utc=True)
    return frame


class OnlineState:
    """History the service reads and writes. One instance per process; not thread-safe."""

    def __init__(self, path: Path) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA busy_timeout=10000")  # several workers share the file
        self._db.executescript(_SCHEMA)
        found = tuple(row[1] for row in self._db.execute("PRAGMA table_info(lines)"))
        if found != _LINE_COLUMNS:
            self._db.close()
            raise StateError(
                f"{path} holds lines in another layout (written by another version of "
                "riskscore); remove it and run `riskscore state load` again"
            )
        self._firms: pd.DataFrame | None = None
        self._mirror = Mirror()
        self._checkpointer: tuple[threading.Event, threading.Thread] | None = None

    def close(self) -> None:
        if self._checkpointer is not None:
            stop, thread = self._checkpointer
            stop.set()
            thread.join()
        self._db.close()

    def checkpoint_in_background(self, every: float = 1.0) -> None:
        """Copy the write-ahead log into the database from a thread of its own, every `every`
        seconds, instead of inside whichever commit fills the log (a checkpoint syncs the
        file to disk, which stalled a scoring request for ~20 ms). SQLite releases the GIL."""
        self._db.execute("PRAGMA wal_autocheckpoint=0")
        stop = threading.Event()

        def run() -> None:
            db = sqlite3.connect(self.path, isolation_level=None)
            try:
                db.execute("PRAGMA busy_timeout=10000")
                while not stop.wait(every):
                    try:
                        db.execute("PRAGMA wal_checkpoint(PASSIVE)")
                    except sqlite3.Error as error:  # keep trying: the log must not grow forever
                        _log.warning("WAL checkpoint failed: %s", error)
            finally:
                db.close()

        thread = threading.Thread(target=run, name="wal-checkpoint", daemon=True)
        thread.start()
        self._checkpointer = (stop, thread)

    def ping(self) -> bool:
        """True when the store answers a query."""
        try:
            self._db.execute("SELECT 1").fetchone()
        except sqlite3.Error:
            return False
        return True

    # --- writes ----------------------------------------------------------------------------

    def add_lines(self, lines: pd.DataFrame) -> None:
        """Append document lines (DOCUMENT_COLUMNS and STORED) in one transaction."""
        with self._transaction():
            self._insert("INSERT OR IGNORE INTO lines", lines, _LINE_COLUMNS)

    def add_outcomes(self, outcomes: pd.DataFrame) -> None:
        with self._transaction():
            self._insert("INSERT INTO outcomes", outcomes, OUTCOME_COLUMNS)

    def set_firms(self, firms: pd.DataFrame) -> None:
        with self._transaction():
            self._insert("INSERT OR REPLACE INTO firms", firms, FIRM_COLUMNS)
        self._firms = None

    def score_document(
        self,
        rows: list[dict[str, Any]],
        lots: Columns,
        answer: tuple[str, str, str],
        prepared: Columns | None = None,
    ) -> None:
        """Store a scored document (its `document_rows` and the lots its lines became) and its
        answer (document id, body, feature vectors) atomically: all of it or nothing.

        Given the document's `prepared` columns, the mirror takes the lines in directly
        instead of reading them back on the next request."""
        values = [_row_to_sql(row, lots, i) for i, row in enumerate(rows)]
        with self._transaction():
            cursor = self._db.executemany(
                f"INSERT OR IGNORE INTO lines VALUES ({_LINE_MARKS})", values
            )
            self._db.execute("INSERT OR IGNORE INTO answers VALUES (?, ?, ?)", answer)
        if prepared is not None and cursor.rowcount == len(rows):
            self._mirror.append_stored(prepared | lots, self._db)

    def _insert(self, statement: str, frame: pd.DataFrame, columns: Iterable[str]) -> None:
        """`statement VALUES (?, ...)` for every row of `frame`, inside the caller's transaction."""
        names = list(columns)
        marks = ", ".join("?" * len(names))
        self._db.executemany(f"{statement} VALUES ({marks})", _to_sql(frame, names))

    def _transaction(self) -> sqlite3.Connection:
        """BEGIN now; the connection's context manager commits, or rolls back on error."""
        self._db.execute("BEGIN")
        return self._db

    # --- reads -----------------------------------------------------------------------------

    def answer(self, document_id: str) -> str | None:
        """The stored answer of a document scored before, if any."""
        row = self._db.execute(
            "SELECT body FROM answers WHERE document_id = ?", (document_id,)
        ).fetchone()
        return None if row is None else str(row[0])

    def features_of(self, document_id: str) -> list[list[float | None]] | None:
        """The feature vectors served for a document (for audits and the parity test)."""
        row = self._db.execute(
            "SELECT features FROM answers WHERE document_id = ?", (document_id,)
        ).fetchone()
        return None if row is None else json.loads(row[0])

    def lines_exist(self, keys: list[tuple[str, int]]) -> list[bool]:
        """Whether each (document_id, item_no) was stored."""
        query = "SELECT 1 FROM lines WHERE document_id = ? AND item_no = ?"
        return [self._db.execute(query, (d, int(n))).fetchone() is not None for d, n in keys]

    def warm(self) -> int:
        """Read every stored line into the in-process mirror (the service does this at
        start-up, not on its first request); the number of lines read."""
        return self._mirror.sync(self._db)

    def prepared(self, cols: Columns) -> Columns:
        """A new document's columns in the form its history comes in (`Mirror.prepared`)."""
        return self._mirror.prepared(cols)

    def history(self, parties: set[str], new: Columns) -> tuple[Columns, Columns, np.ndarray]:
        """Every stored line in which any of `parties` is consignor, consignee or declarant,
        with the new document's `prepared` lines, in canonical order; the outcomes of the
        stored lines' documents; the positions of the new lines (`Mirror.history`).

        Served from an in-process mirror that first takes in what any process stored since.
        """
        self._mirror.sync(self._db)
        return self._mirror.history(parties, new)

    def firms(self) -> pd.DataFrame:
        """The firms register (cached: it changes only when the state is loaded)."""
        if self._firms is None:
            self._firms = _from_sql(pd.read_sql_query("SELECT * FROM firms", self._db))
        return self._firms

    def count(self, table: str) -> int:
        if table not in ("lines", "outcomes", "firms", "answers"):
            raise ValueError(f"unknown table {table!r}")
        return int(self._db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])


def load_history(
    state: OnlineState,
    documents: pd.DataFrame,
    outcomes: pd.DataFrame | None,
    firms: pd.DataFrame | None,
    until: pd.Timestamp | None = None,
) -> dict[str, int]:
    """Warm the state with a history: documents issued and outcomes recorded before `until`.

    The lots of bought lines are traced over the whole history first, exactly as the batch
    pipeline traces them, and stored with the lines.
    """
    from riskscore.features import trace_lots

    if until is not None:
        documents = documents[documents["issued_at"] < until]
        if outcomes is not None:
            outcomes = outcomes[outcomes["recorded_at"] < until]
    lots = trace_lots(documents)
    state.add_lines(pd.concat([documents, lots], axis=1))
    if outcomes is not None:
        state.add_outcomes(outcomes)
    if firms is not None:
        state.set_firms(firms)
    return {"lines": len(documents), "outcomes": 0 if outcomes is None else len(outcomes)}
