"""The online state in PostgreSQL: one state shared by service processes on several hosts.

`RISKSCORE_STATE_URL=postgresql://user@host:5432/db` (psycopg 3, a connection pool per
process). The logic is `store/online.py`'s, the same as SQLite's; what differs is how
documents are kept apart:

- A scoring transaction first takes a transaction-scoped advisory lock per party it reads
  and writes (the document's consignors, consignees and subjects, never a declarant who is
  neither), in one global order (a stable 63-bit hash of the party), so two documents that
  share a party are scored one after another and documents of unrelated parties in parallel,
  without deadlocks. Locks are released at commit or rollback.
- Nothing is cached per process but the aggregation codes, which never change: every read
  is a query inside the transaction, so each process sees what the others committed before
  its lock was granted (PostgreSQL's read committed).
- The layout's version is kept in `schema_version`; migrations run under an advisory lock,
  so processes that start together migrate once.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import pandas as pd
import psycopg
from psycopg_pool import ConnectionPool

from riskscore.errors import DocumentConflictError, StateError
from riskscore.reference import HOME_COUNTRY
from riskscore.store.audit import Audited, Verdict, verify
from riskscore.store.base import TABLES, Answered, ApiKey, Progress
from riskscore.store.online import DEFAULT_HORIZON, Online
from riskscore.store.sql import Sql, statements

_MIGRATION_LOCK = 7_411_352_016  # the advisory lock migrations take (any fixed number)
_LINES = """document_id TEXT NOT NULL, doc_type TEXT, flow TEXT, procedure_code TEXT,
    issued_at BIGINT NOT NULL, office TEXT, declarant_id TEXT, consignor_id TEXT,
    consignor_country TEXT, consignee_id TEXT, consignee_country TEXT, dispatch_country TEXT,
    destination_country TEXT, transport_mode TEXT, invoice_currency TEXT,
    previous_document_ids TEXT, item_no INTEGER NOT NULL, hs_code TEXT, description TEXT,
    origin_country TEXT, net_mass_kg DOUBLE PRECISION, gross_mass_kg DOUBLE PRECISION,
    supplementary_qty DOUBLE PRECISION, supplementary_unit TEXT, value_usd DOUBLE PRECISION,
    linked_document_id TEXT, linked_item_no INTEGER, lot_chain_start DOUBLE PRECISION,
    lot_firms DOUBLE PRECISION, lot_origin TEXT, lot_hs6 TEXT, sold_dwell_days DOUBLE PRECISION"""
# The same layout versions as `store/sqlite.py`, typed for PostgreSQL.
MIGRATIONS: dict[int, str] = {
    1: f"""
CREATE TABLE lines ({_LINES}, PRIMARY KEY (document_id, item_no));
CREATE INDEX lines_declarant ON lines (declarant_id);
CREATE TABLE outcomes (document_id TEXT NOT NULL, item_no INTEGER NOT NULL, selected_by TEXT,
    inspected_at BIGINT NOT NULL, recorded_at BIGINT NOT NULL, violation_found BOOLEAN NOT NULL,
    finding TEXT);
CREATE INDEX outcomes_document ON outcomes (document_id);
CREATE TABLE firms (firm_id TEXT PRIMARY KEY, registered_at BIGINT NOT NULL,
    activity_code TEXT, region TEXT, address_id TEXT, director_id TEXT, founder_country TEXT);
CREATE TABLE answers (document_id TEXT PRIMARY KEY, body TEXT NOT NULL, features TEXT)
""",
    2: """
ALTER TABLE lines ADD COLUMN received_at BIGINT;
ALTER TABLE outcomes ADD COLUMN received_at BIGINT;
ALTER TABLE answers ADD COLUMN content_hash TEXT;
ALTER TABLE answers ADD COLUMN late INTEGER;
CREATE INDEX lines_consignor ON lines (consignor_id, issued_at);
CREATE INDEX lines_consignee ON lines (consignee_id, issued_at);
CREATE UNIQUE INDEX outcomes_once ON outcomes (document_id, item_no, inspected_at);
CREATE INDEX firms_address ON firms (address_id, registered_at);
CREATE INDEX firms_director ON firms (director_id, registered_at);
CREATE TABLE aggregations (name TEXT PRIMARY KEY, code INTEGER NOT NULL UNIQUE);
CREATE TABLE marks (agg INTEGER NOT NULL, key TEXT NOT NULL, t BIGINT NOT NULL,
    n BIGINT NOT NULL, line TEXT NOT NULL, vals BYTEA, sums BYTEA, gap BIGINT NOT NULL,
    PRIMARY KEY (agg, key, t, n));
CREATE TABLE firsts (agg INTEGER NOT NULL, item TEXT NOT NULL, t BIGINT NOT NULL,
    counters TEXT NOT NULL, PRIMARY KEY (agg, item));
CREATE TABLE lots (document_id TEXT NOT NULL, item_no INTEGER NOT NULL, holder TEXT NOT NULL,
    hs_code TEXT, hs4 TEXT, t BIGINT NOT NULL, chain_start BIGINT, firms INTEGER, origin TEXT,
    hs6 TEXT, unit_value DOUBLE PRECISION, remaining DOUBLE PRECISION NOT NULL,
    source_document TEXT, source_item INTEGER, PRIMARY KEY (document_id, item_no));
CREATE INDEX lots_open_code ON lots (holder, hs_code, t, document_id, item_no)
    WHERE remaining > 0;
CREATE INDEX lots_open_heading ON lots (holder, hs4, t, document_id, item_no)
    WHERE remaining > 0;
CREATE TABLE takes (document_id TEXT NOT NULL, item_no INTEGER NOT NULL, seller TEXT NOT NULL,
    t BIGINT NOT NULL, lot_document TEXT NOT NULL, lot_item INTEGER NOT NULL,
    amount DOUBLE PRECISION NOT NULL, by_link INTEGER NOT NULL,
    PRIMARY KEY (document_id, item_no));
CREATE INDEX takes_lot ON takes (lot_document, lot_item);
CREATE INDEX takes_seller ON takes (seller, t)
""",
    3: """
CREATE SEQUENCE answers_served;
ALTER TABLE answers ADD COLUMN served BIGINT;
CREATE INDEX answers_served_order ON answers (served)
""",
    4: """
ALTER TABLE lines ADD COLUMN extra TEXT;
CREATE TABLE state_settings (key TEXT PRIMARY KEY, value TEXT NOT NULL)
""",
    5: """
ALTER TABLE answers ADD COLUMN caller TEXT NOT NULL DEFAULT '';
CREATE TABLE api_keys (key_id TEXT PRIMARY KEY, caller TEXT NOT NULL, roles TEXT NOT NULL,
                       key_hash TEXT NOT NULL, created_at BIGINT NOT NULL, expires_at BIGINT,
                       revoked_at BIGINT);
CREATE INDEX api_keys_caller ON api_keys (caller)
""",
    6: """
CREATE TABLE audit (chain TEXT NOT NULL, seq BIGINT NOT NULL, at BIGINT NOT NULL,
    kind TEXT NOT NULL, document_id TEXT, record TEXT NOT NULL, hash TEXT NOT NULL,
    PRIMARY KEY (chain, seq));
CREATE INDEX audit_document ON audit (document_id, kind);
CREATE TABLE audit_heads (chain TEXT PRIMARY KEY, seq BIGINT NOT NULL, hash TEXT NOT NULL,
    seal TEXT NOT NULL);
CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql
    AS $$ BEGIN RAISE EXCEPTION 'the audit log is append-only'; END $$;
CREATE TRIGGER audit_no_change BEFORE UPDATE OR DELETE ON audit
    FOR EACH ROW EXECUTE FUNCTION audit_append_only();
CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit
    FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();
INSERT INTO state_settings (key, value)
    SELECT 'audit_from_served', COALESCE(MAX(served), 0)::text FROM answers
""",
}
VERSION = max(MIGRATIONS)


class PostgresStore:
    """The online state in a PostgreSQL database (or schema, by the URL's search_path)."""

    parallel = True  # each scoring transaction on a pooled connection of its own

    def __init__(self, url: str, horizon: int = DEFAULT_HORIZON, connections: int = 4) -> None:
        try:
            self._pool = ConnectionPool(url, min_size=1, max_size=connections, open=True,
                                        kwargs={"autocommit": True}, timeout=30)  # fmt: skip
            self._pool.wait(timeout=30)
        except (psycopg.Error, Exception) as error:
            raise StateError(
                f"the PostgreSQL state does not answer: {type(error).__name__}"
            ) from None
        self.horizon, self._home = horizon, HOME_COUNTRY
        self._codes: dict[str, int] = {}
        with self._transaction() as online:
            online.sql.run("SELECT pg_advisory_xact_lock(?)", (_MIGRATION_LOCK,))
            migrate(online)
            self._home = online.home()

    def close(self) -> None:
        self._pool.close()

    def housekeeping(self) -> None:
        """Nothing to do: PostgreSQL checkpoints and vacuums on its own."""

    def ping(self) -> bool:
        try:
            with self._pool.connection(timeout=5) as connection:
                connection.execute("SELECT 1")
        except (psycopg.Error, Exception):
            return False
        return True

    @contextmanager
    def _transaction(self) -> Iterator[Online]:
        """One transaction on a pooled connection; PostgreSQL's errors become StateError."""
        try:
            with self._pool.connection() as connection, connection.transaction():
                online = Online(Sql(connection, "postgres"), self.horizon, self._home)
                online.state.share(self._codes)
                yield online
        except psycopg.errors.UniqueViolation as error:
            if error.diag.constraint_name in ("answers_pkey", "lines_pkey"):
                # Two documents of one id and disjoint parties (so not one after the other):
                # the second to commit meets the first's rows.
                raise DocumentConflictError("this document_id was answered meanwhile for a "
                                            "document of other content") from None  # fmt: skip
            raise StateError(f"the online state failed: {type(error).__name__}") from None
        except psycopg.Error as error:
            raise StateError(f"the online state failed: {type(error).__name__}: {error}") from None

    @contextmanager
    def scoring(self, document_id: str, parties: set[str]) -> Iterator[Any]:
        with self._transaction() as online:
            _lock(online.sql, parties)
            yield online.scoring(document_id)

    def load(
        self,
        documents: pd.DataFrame,
        outcomes: pd.DataFrame | None,
        firms: pd.DataFrame | None,
        progress: Progress | None = None,
        home_country: str = HOME_COUNTRY,
    ) -> None:
        with self._transaction() as online:
            online.load(documents, outcomes, firms, progress, home_country)
        self._home = home_country
        self._analyze()

    def _analyze(self) -> None:
        """Statistics for the planner after a bulk write, rather than when autovacuum next
        comes round: the first documents scored then get the plans of a known table."""
        with self._transaction() as online:
            online.sql.run(f"ANALYZE {', '.join(TABLES)}")

    def export_lines(self, since: datetime | None = None) -> pd.DataFrame:
        with self._transaction() as online:
            return online.export_lines(since)

    def export_outcomes(self, since: datetime | None = None) -> pd.DataFrame:
        with self._transaction() as online:
            return online.export_outcomes(since)

    def export_answers(self, since: datetime | None = None) -> pd.DataFrame:
        with self._transaction() as online:
            return online.export_answers(since)

    def rebuild(self) -> None:
        with self._transaction() as online:
            online.sql.run("LOCK TABLE marks, firsts, lots, takes IN EXCLUSIVE MODE")
            online.rebuild()
        self._analyze()

    def add_outcomes(self, outcomes: pd.DataFrame, audit: Audited | None = None) -> None:
        with self._transaction() as online:
            _lock(online.sql, online.parties_of(set(outcomes["document_id"])))
            online.add_outcomes(outcomes, audit)

    def audit(self, audited: Audited) -> None:
        with self._transaction() as online:
            audited.chain.append(online.sql, audited.entries)

    def verify_audit(self, key: bytes) -> Verdict:
        with self._transaction() as online:
            online.sql.run("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            return verify(online.sql, key)

    def set_firms(self, firms: pd.DataFrame) -> None:
        with self._transaction() as online:
            online.set_firms(firms)

    def answer(self, document_id: str) -> Answered | None:
        with self._transaction() as online:
            return online.answer(document_id)

    def features_of(self, document_id: str) -> list[list[float | None]] | None:
        with self._transaction() as online:
            row = online.sql.one("SELECT features FROM answers WHERE document_id = ?",
                                 (document_id,))  # fmt: skip
        return None if row is None else json.loads(row[0])

    def firms(self) -> pd.DataFrame:
        return self.frame("firms")

    def frame(self, table: str) -> pd.DataFrame:
        with self._transaction() as online:
            return online.frame(table)

    def add_key(self, key: ApiKey, most_live: int = 2) -> None:
        with self._transaction() as online:
            online.sql.run("SELECT pg_advisory_xact_lock(?)", (_lock_id(f"caller:{key.caller}"),))
            online.add_key(key, most_live)

    def revoke_key(self, key_id: str, at: datetime) -> bool:
        with self._transaction() as online:
            return online.revoke_key(key_id, at)

    def key(self, key_id: str) -> ApiKey | None:
        with self._transaction() as online:
            return online.key(key_id)

    def api_keys(self) -> list[ApiKey]:
        with self._transaction() as online:
            return online.api_keys()

    def caller_of(self, document_id: str) -> str | None:
        with self._transaction() as online:
            return online.caller_of(document_id)

    def home_country(self) -> str:
        return self._home

    def count(self, table: str) -> int:
        if table not in TABLES:
            raise ValueError(f"unknown table {table!r}")
        with self._transaction() as online:
            row = online.sql.one(f"SELECT COUNT(*) FROM {table}")
        return 0 if row is None else int(row[0])


def _lock(sql: Sql, parties: set[str]) -> None:
    """Advisory locks on the parties, in one global order (so two transactions never wait on
    each other in a circle)."""
    for key in sorted({_lock_id(p) for p in parties}):
        sql.run("SELECT pg_advisory_xact_lock(?)", (key,))


def _lock_id(party: str) -> int:
    """A stable 63-bit number for a party (the same in every process and host)."""
    return int.from_bytes(hashlib.sha256(party.encode()).digest()[:8], "big") >> 1


def migrate(online: Online) -> int:
    """Bring the layout to VERSION inside the caller's transaction; the version found."""
    sql = online.sql
    sql.run("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, "
            "applied_at TEXT)")  # fmt: skip
    row = sql.one("SELECT max(version) FROM schema_version")
    found = 0 if row is None or row[0] is None else int(row[0])
    if found > VERSION:
        raise StateError(f"the PostgreSQL state was written by a newer riskscore (layout "
                         f"version {found}, this one knows up to {VERSION}); "
                         "upgrade riskscore")  # fmt: skip
    for version in range(found + 1, VERSION + 1):
        for statement in statements(MIGRATIONS[version]):
            sql.run(statement)
        sql.run("INSERT INTO schema_version VALUES (?, ?)",
                (version, datetime.now(UTC).isoformat(timespec="seconds")))  # fmt: skip
    online.state.name_codes()
    return found
