"""The online state in one SQLite file (WAL mode): the embedded default backend.

SQLite in WAL mode lets readers go on while one writer appends. A scoring transaction takes
the write lock first (`BEGIN IMMEDIATE`), so that documents are scored one after another,
each seeing every document committed before it, whichever process committed it; its reads
are the bounded lookups of `store/state.py`, so no process keeps a copy of the history. The
file's layout carries a version (`schema_version`); `MIGRATIONS` bring an older file up to
date, and a file of an unknown layout is refused rather than misread.
"""

from __future__ import annotations

import functools
import json
import logging
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import pandas as pd

from riskscore.errors import StateError
from riskscore.reference import HOME_COUNTRY
from riskscore.schema import FIRM_COLUMNS, OUTCOME_COLUMNS
from riskscore.store.audit import Audited, Verdict, verify
from riskscore.store.base import TABLES, Answered, ApiKey, Progress
from riskscore.store.codec import LINE_COLUMNS
from riskscore.store.online import DEFAULT_HORIZON, Online
from riskscore.store.sql import Sql, statements

_log = logging.getLogger(__name__)
_T = TypeVar("_T")

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
    # Per-key state instead of history reads (docs/decisions.md, "The online state for a
    # whole country"); when each document and outcome was received; the hash of what was
    # answered. A file that holds lines is filled from them (`Online.rebuild`).
    2: """
ALTER TABLE lines ADD COLUMN received_at INTEGER;
ALTER TABLE outcomes ADD COLUMN received_at INTEGER;
ALTER TABLE answers ADD COLUMN content_hash TEXT;
ALTER TABLE answers ADD COLUMN late INTEGER;
DROP INDEX IF EXISTS lines_consignor;
DROP INDEX IF EXISTS lines_consignee;
CREATE INDEX lines_consignor ON lines (consignor_id, issued_at);
CREATE INDEX lines_consignee ON lines (consignee_id, issued_at);
CREATE UNIQUE INDEX outcomes_once ON outcomes (document_id, item_no, inspected_at);
CREATE INDEX firms_address ON firms (address_id, registered_at);
CREATE INDEX firms_director ON firms (director_id, registered_at);
CREATE TABLE aggregations (name TEXT PRIMARY KEY, code INTEGER NOT NULL UNIQUE);
CREATE TABLE marks (agg INTEGER NOT NULL, key TEXT NOT NULL, t INTEGER NOT NULL,
    n INTEGER NOT NULL, line TEXT NOT NULL, vals BLOB, sums BLOB, gap INTEGER NOT NULL,
    PRIMARY KEY (agg, key, t, n)) WITHOUT ROWID;
CREATE TABLE firsts (agg INTEGER NOT NULL, item TEXT NOT NULL, t INTEGER NOT NULL,
    counters TEXT NOT NULL, PRIMARY KEY (agg, item)) WITHOUT ROWID;
CREATE TABLE lots (document_id TEXT NOT NULL, item_no INTEGER NOT NULL, holder TEXT NOT NULL,
    hs_code TEXT, hs4 TEXT, t INTEGER NOT NULL, chain_start INTEGER, firms INTEGER,
    origin TEXT, hs6 TEXT, unit_value REAL, remaining REAL NOT NULL, source_document TEXT,
    source_item INTEGER, PRIMARY KEY (document_id, item_no)) WITHOUT ROWID;
CREATE INDEX lots_open_code ON lots (holder, hs_code, t, document_id, item_no)
    WHERE remaining > 0;
CREATE INDEX lots_open_heading ON lots (holder, hs4, t, document_id, item_no)
    WHERE remaining > 0;
CREATE TABLE takes (document_id TEXT NOT NULL, item_no INTEGER NOT NULL, seller TEXT NOT NULL,
    t INTEGER NOT NULL, lot_document TEXT NOT NULL, lot_item INTEGER NOT NULL,
    amount REAL NOT NULL, by_link INTEGER NOT NULL, PRIMARY KEY (document_id, item_no));
CREATE INDEX takes_lot ON takes (lot_document, lot_item);
CREATE INDEX takes_seller ON takes (seller, t);
""",
    # The order answers were committed in (documents that share a party are scored one after
    # another: their order here is the order they were scored in).
    3: """
ALTER TABLE answers ADD COLUMN served INTEGER;
CREATE INDEX answers_served ON answers (served);
""",
    # A line's extra columns (the dataset's own, such as a tax rate) as one JSON object, and
    # the settings of the dataset the state holds (its home country).
    4: """
ALTER TABLE lines ADD COLUMN extra TEXT;
CREATE TABLE state_settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
""",
    # Callers who must be trusted: API keys (their SHA-256 only) and who sent each answer.
    5: """
ALTER TABLE answers ADD COLUMN caller TEXT NOT NULL DEFAULT '';
CREATE TABLE api_keys (key_id TEXT PRIMARY KEY, caller TEXT NOT NULL, roles TEXT NOT NULL,
                       key_hash TEXT NOT NULL, created_at INTEGER NOT NULL, expires_at INTEGER,
                       revoked_at INTEGER);
CREATE INDEX api_keys_caller ON api_keys (caller);
""",
    # The audit log (`store/audit.py`): one hash chain per writing process, append-only.
    # Answers stored before it began are not checked against it.
    6: """
CREATE TABLE audit (chain TEXT NOT NULL, seq INTEGER NOT NULL, at INTEGER NOT NULL,
    kind TEXT NOT NULL, document_id TEXT, record TEXT NOT NULL, hash TEXT NOT NULL,
    PRIMARY KEY (chain, seq)) WITHOUT ROWID;
CREATE INDEX audit_document ON audit (document_id, kind);
CREATE TABLE audit_heads (chain TEXT PRIMARY KEY, seq INTEGER NOT NULL, hash TEXT NOT NULL,
    seal TEXT NOT NULL);
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
INSERT INTO state_settings (key, value)
    SELECT 'audit_from_served', CAST(COALESCE(MAX(served), 0) AS TEXT) FROM answers;
""",
}
VERSION = max(MIGRATIONS)
_LOG_LIMIT = 64 * 1024 * 1024  # bytes the write-ahead log is cut back to once checkpointed
REBUILT_AT = 2  # migrating a file with lines across this version refills the derived tables


def _locked(method: Callable[..., _T]) -> Callable[..., _T]:
    """Run a read of the store under its lock (the connection serves one thread at a time)."""

    @functools.wraps(method)
    def locked(self: SqliteStore, *args: Any, **kwargs: Any) -> _T:
        with self._lock:
            return method(self, *args, **kwargs)

    return locked


class SqliteStore:
    """The online state in a SQLite file. One instance per process. Its one connection is
    used by one thread at a time: every transaction and every read holds the store's lock,
    so the service may score on a worker thread while its event loop reads a key."""

    parallel = False

    def __init__(self, path: Path, horizon: int = DEFAULT_HORIZON) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._online = Online(Sql(self._db, "sqlite"), horizon)
        try:
            self._db.execute("PRAGMA busy_timeout=10000")  # several workers share the file
            migrate(self._db, path, self._online)  # first: a refused file is left as it was
            self._online.at_home(self._online.home())
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute(f"PRAGMA journal_size_limit={_LOG_LIMIT}")
        except (sqlite3.Error, StateError) as error:
            self._db.close()
            if isinstance(error, StateError):
                raise
            raise StateError(f"{path} cannot be opened as an online state: {error}") from None
        self._checkpointer: tuple[threading.Event, threading.Thread] | None = None
        self._lock = threading.RLock()

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
        file to disk, which stalled a scoring request for ~20 ms). SQLite releases the GIL.
        Once a checkpoint has copied the whole log, the next commit starts it again from the
        top, and `journal_size_limit` cuts the file back to 64 MB then, so the log does not
        grow without bound (a TRUNCATE checkpoint would make writers wait for it)."""
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

    @_locked
    def ping(self) -> bool:
        try:
            self._db.execute("SELECT 1").fetchone()
        except sqlite3.Error:
            return False
        return True

    # --- writes ----------------------------------------------------------------------------

    @contextmanager
    def scoring(self, document_id: str, parties: set[str]) -> Iterator[Any]:
        with self._transaction():
            yield self._online.scoring(document_id)

    def load(
        self,
        documents: pd.DataFrame,
        outcomes: pd.DataFrame | None,
        firms: pd.DataFrame | None,
        progress: Progress | None = None,
        home_country: str = HOME_COUNTRY,
    ) -> None:
        with self._transaction():
            self._online.load(documents, outcomes, firms, progress, home_country)

    def rebuild(self) -> None:
        with self._transaction():
            self._online.rebuild()

    def add_outcomes(self, outcomes: pd.DataFrame, audit: Audited | None = None) -> None:
        with self._transaction():
            self._online.add_outcomes(outcomes, audit)

    def audit(self, audited: Audited) -> None:
        with self._transaction():
            audited.chain.append(self._online.sql, audited.entries)

    @_locked
    def verify_audit(self, key: bytes) -> Verdict:
        # A read transaction: a snapshot of the file (WAL) that writers do not wait for.
        self._db.execute("BEGIN")
        try:
            return verify(self._online.sql, key)
        finally:
            self._db.rollback()

    def set_firms(self, firms: pd.DataFrame) -> None:
        with self._transaction():
            self._online.set_firms(firms)

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        """One write transaction, taken at once (BEGIN IMMEDIATE), under the store's lock: it
        commits when the block ends, rolls back on any error; SQLite's own errors become
        StateError."""
        with self._lock:
            yield from self._in_transaction()

    def _in_transaction(self) -> Iterator[None]:
        try:
            self._db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as error:
            raise StateError(f"the online state is not writable: {error}") from None
        try:
            yield
        except sqlite3.Error as error:
            self._db.rollback()
            raise StateError(f"the online state failed: {error}") from None
        except BaseException:
            self._db.rollback()
            raise
        try:
            self._db.commit()
        except sqlite3.Error as error:
            self._db.rollback()
            raise StateError(f"the online state could not commit: {error}") from None

    # --- reads -----------------------------------------------------------------------------

    @_locked
    def answer(self, document_id: str) -> Answered | None:
        return self._online.answer(document_id)

    @_locked
    def features_of(self, document_id: str) -> list[list[float | None]] | None:
        row = self._db.execute(
            "SELECT features FROM answers WHERE document_id = ?", (document_id,)
        ).fetchone()
        return None if row is None else json.loads(row[0])

    @_locked
    def firms(self) -> pd.DataFrame:
        return self._online.frame("firms")

    @_locked
    def frame(self, table: str) -> pd.DataFrame:
        return self._online.frame(table)

    @_locked
    def export_lines(self, since: datetime | None = None) -> pd.DataFrame:
        return self._online.export_lines(since)

    @_locked
    def export_outcomes(self, since: datetime | None = None) -> pd.DataFrame:
        return self._online.export_outcomes(since)

    @_locked
    def export_answers(self, since: datetime | None = None) -> pd.DataFrame:
        return self._online.export_answers(since)

    def add_key(self, key: ApiKey, most_live: int = 2) -> None:
        with self._transaction():
            self._online.add_key(key, most_live)

    def revoke_key(self, key_id: str, at: datetime) -> bool:
        with self._transaction():
            return self._online.revoke_key(key_id, at)

    @_locked
    def key(self, key_id: str) -> ApiKey | None:
        return self._online.key(key_id)

    @_locked
    def api_keys(self) -> list[ApiKey]:
        return self._online.api_keys()

    @_locked
    def caller_of(self, document_id: str) -> str | None:
        return self._online.caller_of(document_id)

    def home_country(self) -> str:
        return self._online.state.home

    @_locked
    def count(self, table: str) -> int:
        if table not in TABLES:
            raise ValueError(f"unknown table {table!r}")
        return int(self._db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])


def migrate(db: sqlite3.Connection, path: Path, online: Online) -> int:
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
            for statement in statements(MIGRATIONS[version]):
                db.execute(statement)
            db.execute("INSERT INTO schema_version VALUES (?, ?)",
                       (version, datetime.now(UTC).isoformat(timespec="seconds")))  # fmt: skip
        online.state.name_codes()
        if found and found < REBUILT_AT <= VERSION:
            online.rebuild()
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
