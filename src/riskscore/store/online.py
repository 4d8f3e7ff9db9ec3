"""The online state over one connection: records as received, and the scoring transaction.

Every backend runs these inside its own transactions (`store/sqlite.py`); what is kept per
key, and how a document changes it, is `store/state.py`'s.
"""

from __future__ import annotations

import json
import time
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from riskscore.errors import (
    ApiKeyError,
    InvalidOutcomeError,
    OutcomeConflictError,
    UnknownDocumentError,
)
from riskscore.features import AGGREGATIONS, STORED, outcome_columns, prepare_inputs
from riskscore.features.aggregates import First
from riskscore.features.columns import Columns, columns_of, columns_of_rows, micros_of
from riskscore.features.inputs import Inputs
from riskscore.reference import HOME_COUNTRY
from riskscore.schema import DOCUMENT_COLUMNS, FIRM_COLUMNS, NULLABLE, OUTCOME_COLUMNS
from riskscore.store.audit import Audited
from riskscore.store.base import Answer, Answered, ApiKey, Lookup, Progress
from riskscore.store.codec import (
    EXTRA,
    LINE_COLUMNS,
    STORED_LINE,
    TIMES,
    extras_frame,
    frame_rows,
    key_of,
    key_row,
    line_row,
)
from riskscore.store.sql import Sql
from riskscore.store.state import DERIVED_TABLES, Read, State

DEFAULT_HORIZON = 7 * 86_400  # seconds: how late a document may be and still correct the state
_WRITTEN_LINE = (*STORED_LINE, "received_at")
_KEY = "key_id, caller, roles, key_hash, created_at, expires_at, revoked_at"


def _now_us() -> int:
    return time.time_ns() // 1_000


class Online:
    """The online state's records and scoring, over one connection."""

    def __init__(self, sql: Sql, horizon: int = DEFAULT_HORIZON, home: str = HOME_COUNTRY):
        self.sql, self.horizon = sql, horizon
        self.state = State(sql, home)

    def home(self) -> str:
        """The home country of the dataset the state was loaded from (its firms keep stock),
        as recorded; call only on a migrated store."""
        row = self.sql.one("SELECT value FROM state_settings WHERE key = 'home_country'")
        return HOME_COUNTRY if row is None else str(row[0])

    def at_home(self, country: str) -> None:
        """Work for a state of that home country from now on."""
        self.state = State(self.sql, country, self.state.codes)

    def scoring(self, document_id: str) -> Scoring:
        self.state.begin()
        return Scoring(self, document_id)

    def answer(self, document_id: str) -> Answered | None:
        row = self.sql.one("SELECT body, content_hash FROM answers WHERE document_id = ?",
                           (document_id,))  # fmt: skip
        return None if row is None else Answered(str(row[0]), str(row[1] or ""))

    def load(
        self,
        documents: pd.DataFrame,
        outcomes: pd.DataFrame | None,
        firms: pd.DataFrame | None,
        progress: Progress | None = None,
        home_country: str = HOME_COUNTRY,
    ) -> None:
        """Fill the store with a history: its records, and the derived tables computed over
        all of it at once (`State.fill`)."""
        tell = progress or (lambda _: None)
        self.sql.run("DELETE FROM state_settings WHERE key = 'home_country'")
        self.sql.run("INSERT INTO state_settings VALUES ('home_country', ?)", (home_country,))
        self.at_home(home_country)
        prepared = prepare_inputs(
            columns_of(documents), None, None if outcomes is None else outcome_columns(outcomes),
            text_keys=True, home=home_country,
        )  # fmt: skip
        derived = self.state.fill(prepared.inputs)
        written = 0
        for written in derived:
            tell(written)
        lines = documents.iloc[prepared.order].copy()
        for name in STORED:
            lines[name] = prepared.inputs.lines[name]
        received = _now_us()
        for start in range(0, len(lines), 50_000):
            rows = frame_rows(lines.iloc[start : start + 50_000], STORED_LINE)
            self.sql.append("lines", [(*row, received) for row in rows], _WRITTEN_LINE)
            tell(written + start + len(rows))
        if outcomes is not None:
            self._insert_outcomes(outcomes, received)
        if firms is not None:
            self.set_firms(firms)

    def rebuild(self) -> None:
        """Empty the derived tables and fill them again from the stored lines and outcomes
        (when the layout gains a derived table, or to fold in documents left to the batch)."""
        self.state.begin()
        for table in DERIVED_TABLES:
            self.sql.run(f"DELETE FROM {table}")
        lines = self.frame("lines")
        outcomes = self.frame("outcomes")
        prepared = prepare_inputs(columns_of(lines), None, outcome_columns(outcomes),
                                  text_keys=True, home=self.state.home)  # fmt: skip
        for _ in self.state.fill(prepared.inputs):
            pass

    def add_outcomes(self, outcomes: pd.DataFrame, audit: Audited | None = None) -> None:
        """Outcomes of stored lines: recorded, and counted from when they were recorded. An
        outcome sent again (same line and inspection time) changes nothing; one that says
        something else of the same inspection is an OutcomeConflictError."""
        rows = frame_rows(outcomes, OUTCOME_COLUMNS)
        missing, problems, conflicts = [], [], []
        for i, row in enumerate(rows):
            document_id, item_no, inspected = row[0], int(row[1]), int(row[3])  # type: ignore[call-overload]
            line = self.sql.one("SELECT issued_at FROM lines WHERE document_id = ? AND item_no = ?",
                                (document_id, item_no))  # fmt: skip
            if line is None:
                missing.append(i)
            elif inspected < int(line[0]):
                problems.append((i, "inspected_at", "is before the document was issued"))
            kept = self.sql.one(f"SELECT {', '.join(OUTCOME_COLUMNS)} FROM outcomes WHERE "
                                "document_id = ? AND item_no = ? AND inspected_at = ?",
                                (document_id, item_no, inspected))  # fmt: skip
            if kept is not None and _outcome(kept) != _outcome(row):
                conflicts.append(i)
        if missing:
            raise UnknownDocumentError(missing)
        if problems:
            raise InvalidOutcomeError(problems)
        if conflicts:
            raise OutcomeConflictError(f"{len(conflicts)} outcome(s) say something else of an "
                                       "inspection already recorded")  # fmt: skip
        self._insert_outcomes(outcomes, _now_us())
        self.state.begin()
        self.state.record(self._outcome_inputs(outcomes), _from_outcomes())
        if audit is not None:  # last: the chain's head is locked only until the commit
            audit.chain.append(self.sql, audit.entries)

    def _insert_outcomes(self, outcomes: pd.DataFrame, received: int) -> None:
        rows = frame_rows(outcomes, OUTCOME_COLUMNS)
        self.sql.many(f"INSERT INTO outcomes VALUES ({self.sql.marks(len(OUTCOME_COLUMNS) + 1)}) "
                      "ON CONFLICT DO NOTHING", [(*row, received) for row in rows])  # fmt: skip

    def _outcome_inputs(self, outcomes: pd.DataFrame) -> Inputs:
        """The outcomes with the first line of each of their documents (who its parties are)."""
        documents = sorted(set(outcomes["document_id"]))
        found = []
        for document_id in documents:
            found.append(self.sql.one(
                "SELECT document_id, consignor_id, consignee_id FROM lines "
                "WHERE document_id = ? ORDER BY item_no LIMIT 1", (document_id,),
            ))  # fmt: skip
        names = ("document_id", "consignor_id", "consignee_id")
        lines = {name: _objects([row[j] for row in found if row]) for j, name in enumerate(names)}
        lines["t"] = np.zeros(len(lines["document_id"]), dtype=np.int64)
        return Inputs(lines, outcomes=outcome_columns(outcomes), text_keys=True)

    def export_lines(self, since: datetime | None = None) -> pd.DataFrame:
        """Stored lines issued at or after `since` (all when None): DOCUMENT_COLUMNS and one
        `extra.<name>` column per extra found, in (issued_at, document_id, item_no) order."""
        columns = ", ".join(DOCUMENT_COLUMNS)
        rows = self.sql.all(
            f"SELECT {columns}, {EXTRA} FROM lines WHERE issued_at >= ? "
            "ORDER BY issued_at, document_id, item_no",
            (_micros(since),),
        )
        frame = _typed(pd.DataFrame(rows, columns=[*DOCUMENT_COLUMNS, EXTRA]))
        extras = extras_frame(frame.pop(EXTRA))
        return pd.concat([frame, extras.set_axis(frame.index)], axis=1)

    def export_outcomes(self, since: datetime | None = None) -> pd.DataFrame:
        """Stored outcomes of the documents `export_lines(since)` gives, as recorded."""
        columns = ", ".join(OUTCOME_COLUMNS)
        rows = self.sql.all(
            f"SELECT {columns} FROM outcomes WHERE document_id IN "
            "(SELECT document_id FROM lines WHERE issued_at >= ?) "
            "ORDER BY recorded_at, document_id, item_no",
            (_micros(since),),
        )
        return _typed(pd.DataFrame(rows, columns=list(OUTCOME_COLUMNS)))

    def export_answers(self, since: datetime | None = None) -> pd.DataFrame:
        """The answers given for documents issued at or after `since`, in the order they were
        committed: document_id, body and features (JSON, as stored)."""
        rows = self.sql.all("SELECT document_id, body, features FROM answers WHERE document_id "
                            "IN (SELECT document_id FROM lines WHERE issued_at >= ?) "
                            "ORDER BY served", (_micros(since),))  # fmt: skip
        return pd.DataFrame(rows, columns=["document_id", "body", "features"])

    # --- callers --------------------------------------------------------------------------

    def add_key(self, key: ApiKey, most_live: int) -> None:
        """Store a new API key (`Store.add_key`), inside the caller's transaction."""
        if self.key(key.key_id) is not None:
            raise ApiKeyError(f"a key with id {key.key_id} exists already")
        rows = self.sql.all(f"SELECT {_KEY} FROM api_keys WHERE caller = ?", (key.caller,))
        live = sum(key_of(row).live(key.created_at) for row in rows)
        if live >= most_live:
            raise ApiKeyError(f"{key.caller} has {live} live keys already (at most "
                              f"{most_live}): revoke one first")  # fmt: skip
        self.sql.run(f"INSERT INTO api_keys ({_KEY}) VALUES (?, ?, ?, ?, ?, ?, ?)", key_row(key))

    def revoke_key(self, key_id: str, at: datetime) -> bool:
        found = self.key(key_id)
        if found is None or not found.live(at):
            return False
        self.sql.run("UPDATE api_keys SET revoked_at = ? WHERE key_id = ?",
                     (micros_of(at), key_id))  # fmt: skip
        return True

    def key(self, key_id: str) -> ApiKey | None:
        row = self.sql.one(f"SELECT {_KEY} FROM api_keys WHERE key_id = ?", (key_id,))
        return None if row is None else key_of(row)

    def api_keys(self) -> list[ApiKey]:
        rows = self.sql.all(f"SELECT {_KEY} FROM api_keys ORDER BY created_at, key_id")
        return [key_of(row) for row in rows]

    def caller_of(self, document_id: str) -> str | None:
        row = self.sql.one("SELECT caller FROM answers WHERE document_id = ?", (document_id,))
        return None if row is None else str(row[0])

    def parties_of(self, documents: set[str]) -> set[str]:
        """The consignors and consignees of stored documents (whose state their outcomes
        change)."""
        parties: set[str] = set()
        for document_id in documents:
            for row in self.sql.all("SELECT DISTINCT consignor_id, consignee_id FROM lines "
                                    "WHERE document_id = ?", (document_id,)):  # fmt: skip
                parties.update(str(v) for v in row)
        return parties

    def set_firms(self, firms: pd.DataFrame) -> None:
        columns = list(FIRM_COLUMNS)
        updates = ", ".join(f"{c} = excluded.{c}" for c in columns[1:])
        self.sql.many(f"INSERT INTO firms VALUES ({self.sql.marks(len(columns))}) "
                      f"ON CONFLICT (firm_id) DO UPDATE SET {updates}",
                      frame_rows(firms, columns))  # fmt: skip

    def frame(self, table: str) -> pd.DataFrame:
        """A table as a dataset holds it (`Store.frame`)."""
        columns, order = _FRAMES[table]
        rows = self.sql.all(f"SELECT {', '.join(columns)} FROM {table} ORDER BY {order}")
        frame = pd.DataFrame(rows, columns=list(columns))
        return _typed(frame)


# The next number in the order answers are committed in (SQLite has one writer at a time).
_NEXT_SERVED = {
    "sqlite": "(SELECT COALESCE(MAX(served), 0) + 1 FROM answers)",
    "postgres": "nextval('answers_served')",
}
# What `frame` reads of each table, in which order (lines in canonical order).
_FRAMES = {
    "lines": (LINE_COLUMNS, "issued_at / 1000000, document_id, item_no"),
    "outcomes": (tuple(OUTCOME_COLUMNS), "recorded_at, document_id, item_no"),
    "firms": (tuple(FIRM_COLUMNS), "firm_id"),
    "answers": (("document_id", "served", "late", "content_hash", "features", "body"), "served"),
}


class Scoring:
    """One document's read-score-write (`store.base.Scoring`), inside the caller's
    transaction."""

    def __init__(self, online: Online, document_id: str) -> None:
        self.online, self.document_id = online, document_id
        self._read: Read | None = None
        self._beyond = False
        self._kept: bool | None = None  # whether its lines are kept already (asked once)

    def answer(self) -> Answered | None:
        return self.online.answer(self.document_id)

    def past(self, new: Columns) -> Lookup:
        state = self.online.state
        inputs = prepare_inputs(new, text_keys=True, home=state.home).inputs
        lines = inputs.lines
        second = int(lines["t"][0])
        parties = {*lines["consignor_id"], *lines["consignee_id"], *lines["subject_id"]}
        late = state.lateness(parties, second, self.document_id)
        within = late is not None and late <= self.online.horizon
        position = (second, self.document_id)
        self._beyond = late is not None and not within
        if self._stored():  # in the history already: read the stock as it stood before it
            self._read = state.past(inputs, position, own=True)
        else:
            self._read = state.past(inputs, position if within else None)
        register = state.register(lines["subject_id"], second)
        return Lookup(self._read.past, register, late, late is not None and not within)

    def _stored(self) -> bool:
        """Whether the document's lines are kept already (loaded with a history)."""
        if self._kept is None:
            found = self.online.sql.one("SELECT 1 FROM lines WHERE document_id = ? LIMIT 1",
                                        (self.document_id,))  # fmt: skip
            self._kept = found is not None
        return self._kept

    def write(
        self,
        rows: list[dict[str, Any]],
        stored: Columns,
        answer: Answer,
        audit: Audited | None = None,
    ) -> None:
        sql, received = self.online.sql, _now_us()
        if not self._stored():
            values = [(*line_row(row, stored, i), received) for i, row in enumerate(rows)]
            sql.append("lines", values, _WRITTEN_LINE)
            if not self._beyond and self._read is not None:
                written = _written(rows, stored, self.online.state.home)
                self.online.state.write(written, self._read)
        sql.run("INSERT INTO answers (document_id, body, features, content_hash, late, served, "
                f"caller) VALUES (?, ?, ?, ?, ?, {_NEXT_SERVED[sql.dialect]}, ?)",
                (*answer[:4], int(answer.late), answer.caller))  # fmt: skip
        if audit is not None:
            audit.chain.append(sql, audit.entries)


def _written(rows: list[dict[str, Any]], stored: Columns, home: str) -> Inputs:
    """The document's lines as the state's writes read them: text keys, STORED and MOVES."""
    cols = columns_of_rows(rows) | stored
    return prepare_inputs(cols, text_keys=True, home=home).inputs


def _from_outcomes() -> tuple[First, ...]:
    return tuple(a for a in AGGREGATIONS if isinstance(a, First) and a.from_outcomes)


def _micros(since: datetime | None) -> int:
    return 0 if since is None else micros_of(since)


def _outcome(row: tuple[Any, ...]) -> tuple[Any, ...]:
    """What an outcome says, comparable whichever backend stored it."""
    return (str(row[2]), int(row[4]), bool(row[5]), None if row[6] is None else str(row[6]))


def _objects(values: list[Any]) -> np.ndarray:
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    """Stored values back in the dtypes `data.load_world` gives."""
    for column in frame.columns:
        if column in TIMES:
            frame[column] = pd.to_datetime(frame[column].astype("int64"), unit="us", utc=True)
        elif column == "previous_document_ids":
            frame[column] = [json.loads(v) if v else [] for v in frame[column]]
        elif column in ("item_no", "linked_item_no"):
            frame[column] = frame[column].astype("float64" if column in NULLABLE else "int64")
        elif column in ("violation_found",):
            frame[column] = frame[column].astype(bool)
    return frame
