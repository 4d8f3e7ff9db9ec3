"""The online state in one SQLite file (WAL mode): the embedded default backend.

SQLite in WAL mode lets readers go on while one writer appends. A scoring transaction takes
the write lock first (`BEGIN IMMEDIATE`), so that documents are scored one after another,
each seeing every document committed before it, whichever process committed it. The parties'
history is read from an in-process mirror (`store/mirror.py`) kept in step with the file.
The file's layout carries a version (`schema_version`); `MIGRATIONS` bring an older file up
to date, and a file of an unknown layout is refused rather than misread.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from riskscore.errors import ApiKeyError, StateError, UnknownDocumentError
from riskscore.features.columns import Columns, micros_of
from riskscore.schema import FIRM_COLUMNS, OUTCOME_COLUMNS
from riskscore.store.base import TABLES, Answer, ApiKey, History
from riskscore.store.codec import LINE_COLUMNS, frame_rows, key_of, key_row, line_row, times_of
from riskscore.store.mirror import Mirror

_log = logging.getLogger(__name__)
_LINE_MARKS = ", ".join("?" * len(LINE_COLUMNS))

# Ordered migrations: version -> the statements that bring the previous version to it.
MIGRATIONS: dict[int, str] = {
    1: f"""
CREATE TABLE lines ({", ".join(LINE_COLUMNS)}, PRIMARY KEY (document_id, item_no));
CREATE INDEX lines_consignor ON lines (consignor_id);
CREATE INDEX lines_consignee ON lines (consignee_id);
CREATE INDEX lines_declarant ON lines (declarant_id);
CREATE TABLE outcomes ({", ".join(OUTCOME_COLUMNS)});
CREATE INDEX outcomes_document ON outcomes (document_id);
CREATE TABLE firms ({", ".join(FIRM_COLUMNS)}, PRIMARY KEY (firm_id));
CREATE TABLE answers (document_id PRIMARY KEY, body, features);
""",
    2: """
ALTER TABLE answers ADD COLUMN caller TEXT NOT NULL DEFAULT '';
CREATE TABLE api_keys (key_id TEXT PRIMARY KEY, caller TEXT NOT NULL, roles TEXT NOT NULL,
                       key_hash TEXT NOT NULL, created_at INTEGER NOT NULL, expires_at INTEGER,
                       revoked_at INTEGER);
CREATE INDEX api_keys_caller ON api_keys (caller);
""",
}
VERSION = max(MIGRATIONS)


class SqliteStore:
    """The online state in a SQLite file. One instance per process; not thread-safe."""

    def __init__(self, path: Path) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        try:
            self._db.execute("PRAGMA busy_timeout=10000")  # several workers share the file
            migrate(self._db, path)  # first: a refused file is left as it was
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
        except (sqlite3.Error, StateError) as error:
            self._db.close()
            if isinstance(error, StateError):
                raise
            raise StateError(f"{path} cannot be opened as an online state: {error}") from None
        self._firms: pd.DataFrame | None = None
        self._mirror = Mirror()
        self._checkpointer: tuple[threading.Event, threading.Thread] | None = None

    def close(self) -> None:
        if self._checkpointer is not None:
            stop, thread = self._checkpointer
            stop.set()
            thread.join()
            self._checkpointer = None
        self._db.close()

    def housekeeping(self, every: float = 1.0) -> None:
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
        try:
            self._db.execute("SELECT 1").fetchone()
        except sqlite3.Error:
            return False
        return True

    # --- writes ----------------------------------------------------------------------------

    def add_lines(self, lines: pd.DataFrame) -> None:
        with self._transaction():
            self._insert("INSERT OR IGNORE INTO lines", lines, LINE_COLUMNS)

    def add_outcomes(self, outcomes: pd.DataFrame) -> None:
        with self._transaction():
            query = "SELECT 1 FROM lines WHERE document_id = ? AND item_no = ?"
            keys = zip(outcomes["document_id"], outcomes["item_no"], strict=True)
            missing = [
                i
                for i, (document_id, item_no) in enumerate(keys)
                if self._db.execute(query, (document_id, int(item_no))).fetchone() is None
            ]
            if missing:
                raise UnknownDocumentError(missing)
            self._insert("INSERT INTO outcomes", outcomes, OUTCOME_COLUMNS)

    def set_firms(self, firms: pd.DataFrame) -> None:
        with self._transaction():
            self._insert("INSERT OR REPLACE INTO firms", firms, FIRM_COLUMNS)
        self._firms = None

    @contextmanager
    def scoring(self, document_id: str) -> Iterator[_Scoring]:
        with self._transaction():
            scoring = _Scoring(self._db, self._mirror, document_id)
            yield scoring
        if scoring.written is not None:  # committed: the mirror takes the lines in directly
            self._mirror.append_stored(scoring.written, self._db)

    def _insert(self, statement: str, frame: pd.DataFrame, columns: Iterable[str]) -> None:
        """`statement VALUES (?, ...)` for every row of `frame`, inside the caller's transaction."""
        names = list(columns)
        marks = ", ".join("?" * len(names))
        self._db.executemany(f"{statement} VALUES ({marks})", frame_rows(frame, names))

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        """One write transaction, taken at once (BEGIN IMMEDIATE): it commits when the block
        ends, rolls back on any error; SQLite's own errors become StateError."""
        try:
            self._db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as error:
            raise StateError(f"the online state is not writable: {error}") from None
        try:
            yield
        except BaseException:
            self._db.rollback()
            raise
        try:
            self._db.commit()
        except sqlite3.Error as error:
            self._db.rollback()
            raise StateError(f"the online state could not commit: {error}") from None

    def add_key(self, key: ApiKey, most_live: int = 2) -> None:
        with self._transaction():
            if self._db.execute(
                "SELECT 1 FROM api_keys WHERE key_id = ?", (key.key_id,)
            ).fetchone():
                raise ApiKeyError(f"a key with id {key.key_id} exists already")
            live = sum(k.live(key.created_at) for k in self._keys("WHERE caller = ?", key.caller))
            if live >= most_live:
                raise ApiKeyError(f"{key.caller} has {live} live keys already (at most "
                                  f"{most_live}): revoke one first")  # fmt: skip
            self._db.execute("INSERT INTO api_keys VALUES (?, ?, ?, ?, ?, ?, ?)", key_row(key))

    def revoke_key(self, key_id: str, at: datetime) -> bool:
        with self._transaction():
            found = self._keys("WHERE key_id = ?", key_id)
            if not found or not found[0].live(at):
                return False
            self._db.execute("UPDATE api_keys SET revoked_at = ? WHERE key_id = ?",
                             (micros_of(at), key_id))  # fmt: skip
        return True

    # --- reads -----------------------------------------------------------------------------

    def key(self, key_id: str) -> ApiKey | None:
        found = self._keys("WHERE key_id = ?", key_id)
        return found[0] if found else None

    def api_keys(self) -> list[ApiKey]:
        return self._keys("ORDER BY created_at, key_id")

    def _keys(self, where: str, *values: str) -> list[ApiKey]:
        rows = self._db.execute(f"SELECT * FROM api_keys {where}", values).fetchall()
        return [key_of(row) for row in rows]

    def caller_of(self, document_id: str) -> str | None:
        row = self._db.execute(
            "SELECT caller FROM answers WHERE document_id = ?", (document_id,)
        ).fetchone()
        return None if row is None else str(row[0])

    def answer(self, document_id: str) -> str | None:
        return _answer(self._db, document_id)

    def features_of(self, document_id: str) -> list[list[float | None]] | None:
        row = self._db.execute(
            "SELECT features FROM answers WHERE document_id = ?", (document_id,)
        ).fetchone()
        return None if row is None else json.loads(row[0])

    def warm(self) -> int:
        """Read every stored line into the in-process mirror."""
        return self._mirror.sync(self._db)

    def prepared(self, cols: Columns) -> Columns:
        return self._mirror.prepared(cols)

    def firms(self) -> pd.DataFrame:
        """The firms register (cached: it changes only through `set_firms`)."""
        if self._firms is None:
            self._firms = times_of(pd.read_sql_query("SELECT * FROM firms", self._db))
        return self._firms

    def count(self, table: str) -> int:
        if table not in TABLES:
            raise ValueError(f"unknown table {table!r}")
        return int(self._db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])


class _Scoring:
    """One document's scoring transaction on a SQLite store (`Store.scoring`)."""

    def __init__(self, db: sqlite3.Connection, mirror: Mirror, document_id: str) -> None:
        self._db, self._mirror, self.document_id = db, mirror, document_id
        self._new: Columns | None = None
        self.written: Columns | None = None  # the new lines and their lots, once written

    def answer(self) -> str | None:
        return _answer(self._db, self.document_id)

    def history(self, parties: set[str], new: Columns) -> History:
        self._mirror.sync(self._db)  # what any process committed before this transaction
        self._new = new
        return History(*self._mirror.history(parties, new))

    def write(self, rows: list[dict[str, Any]], stored: Columns, answer: Answer) -> None:
        values = [line_row(row, stored, i) for i, row in enumerate(rows)]
        cursor = self._db.executemany(f"INSERT OR IGNORE INTO lines VALUES ({_LINE_MARKS})", values)
        self._db.execute("INSERT OR IGNORE INTO answers (document_id, body, features, caller) "
                         "VALUES (?, ?, ?, ?)", tuple(answer))  # fmt: skip
        if self._new is not None and cursor.rowcount == len(rows):
            self.written = self._new | stored


def _answer(db: sqlite3.Connection, document_id: str) -> str | None:
    row = db.execute("SELECT body FROM answers WHERE document_id = ?", (document_id,)).fetchone()
    return None if row is None else str(row[0])


def migrate(db: sqlite3.Connection, path: Path) -> int:
    """Bring the file's layout to VERSION (in one transaction) and return the version found.

    A file written before versions were recorded (`state-v2.db`) holds version 1 if its lines
    have exactly version 1's columns; any other layout, or a newer version, is refused.
    """
    db.execute("BEGIN IMMEDIATE")
    try:
        found = _version(db, path)
        if found > VERSION:
            raise StateError(f"{path} was written by a newer riskscore (layout version {found}, "
                             f"this one knows up to {VERSION}); upgrade riskscore")  # fmt: skip
        for version in range(found + 1, VERSION + 1):
            for statement in filter(str.strip, MIGRATIONS[version].split(";")):
                db.execute(statement)
            db.execute("INSERT INTO schema_version VALUES (?, ?)",
                       (version, datetime.now(UTC).isoformat(timespec="seconds")))  # fmt: skip
    except BaseException:
        db.rollback()
        raise
    db.commit()
    return found


def _version(db: sqlite3.Connection, path: Path) -> int:
    tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    if "schema_version" not in tables:
        db.execute("CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied_at)")
        if not tables:
            return 0
        found = tuple(row[1] for row in db.execute("PRAGMA table_info(lines)"))
        if found != LINE_COLUMNS or not {"outcomes", "firms", "answers"} <= tables:
            raise StateError(f"{path} is not an online state this riskscore can read (its "
                             "tables have another layout); remove it and run "
                             "`riskscore state load` again")  # fmt: skip
        db.execute("INSERT INTO schema_version VALUES (1, 'found unversioned')")
        return 1
    return int(db.execute("SELECT max(version) FROM schema_version").fetchone()[0] or 0)
