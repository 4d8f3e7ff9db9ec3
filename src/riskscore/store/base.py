"""The contract every online-state backend keeps: what the service and the CLI may call.

The online state holds every scored document's lines (with what the chain pass stored for
them), the answers given, inspection outcomes, the firms register, and per key what the
features ask of the past (`store/state.py`). The service scores a document inside one store
transaction: read the stored answer and what its features need of the past, score, write the
lines, the state they change and the answer — all of it or nothing (`Store.scoring`).

`tests/store/test_contract.py` holds every backend to this contract.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any, NamedTuple, Protocol

import pandas as pd

from riskscore.features.aggregates import Past
from riskscore.features.columns import Columns
from riskscore.features.firms import RegisterAnswers
from riskscore.reference import HOME_COUNTRY
from riskscore.store.audit import Audited, Verdict

TABLES = ("lines", "outcomes", "firms", "answers", "marks", "firsts", "lots", "takes", "audit")
Progress = Callable[[int], None]  # told how many rows have been written so far


class Answer(NamedTuple):
    """What is stored of a scored document besides its lines."""

    document_id: str
    body: str  # the answer as sent (JSON)
    features: str  # the feature vectors served, one per line (JSON), for audits and parity
    content_hash: str  # `schema.content_hash` of the document answered
    late: bool  # issued before its parties' latest stored documents by more than the horizon
    caller: str = ""  # the calling system that sent the document ("" when unauthenticated)


class Answered(NamedTuple):
    """A stored answer, and the hash of the document it answered."""

    body: str
    content_hash: str


class Lookup(NamedTuple):
    """What a document's features read of the state, and how late the document is."""

    past: Past  # marks, first times and stock, per key (`features.aggregates`)
    register: RegisterAnswers  # the register entries of the firms it names
    late: int | None  # seconds before its parties' latest stored document (None: in order)
    beyond_horizon: bool  # too late to correct the state: answered, left for the batch


class ApiKey(NamedTuple):
    """What is stored of an API key: never the key itself, only its SHA-256."""

    key_id: str  # the key's public part: names it in logs and in `riskscore keys revoke`
    caller: str  # the calling system it belongs to
    roles: tuple[str, ...]
    key_hash: str  # hex SHA-256 of the whole key
    created_at: datetime
    expires_at: datetime | None = None
    revoked_at: datetime | None = None

    def live(self, at: datetime) -> bool:
        """Neither revoked nor expired at `at`."""
        return self.revoked_at is None and (self.expires_at is None or at < self.expires_at)


class Scoring(Protocol):
    """One document's read-score-write, inside one store transaction (`Store.scoring`)."""

    def answer(self) -> Answered | None:
        """The answer stored for this document id, if it was scored before."""
        ...

    def past(self, new: Columns) -> Lookup:
        """What the features of the document (`new`: its prepared lines) read of the state:
        a bounded number of indexed lookups whatever its parties' history."""
        ...

    def write(
        self,
        rows: list[dict[str, Any]],
        stored: Columns,
        answer: Answer,
        audit: Audited | None = None,
    ) -> None:
        """Store the document's `schema.document_rows` (with each line's `extra`) with what
        the chain pass gave its lines (`features.FeatureMatrix.stored`: STORED and MOVES, in
        `rows` order), the state its events change (not for a document beyond the horizon,
        nor one already kept), its answer and the audit records of the decision. Written
        when the transaction commits."""
        ...


class Store(Protocol):
    """The online state.

    Contract:
    - `scoring(document_id, parties)` opens a transaction that sees every document committed
      before it (by this process or any other sharing the store) and commits what `write` was
      given when the block ends normally; an exception inside the block writes nothing.
    - Scoring transactions of documents that share a party run one after another; read-only
      calls never wait for them.
    - Every write is all or nothing; a refused write leaves the stored data as it was.
    - Times are stored as microseconds since 1970 UTC (`store.codec`); every document and
      outcome records when it was received.
    """

    # Whether one process may run several scoring transactions at once, from threads of its
    # own (PostgreSQL: one pooled connection each; SQLite: no, one connection, one writer).
    parallel: bool

    def scoring(self, document_id: str, parties: set[str]) -> AbstractContextManager[Scoring]:
        """The transaction that reads, scores and writes one document; `parties` are the
        firms whose state it reads and writes (never a declarant who is neither subject nor
        partner of a line, such as a customs broker)."""
        ...

    def answer(self, document_id: str) -> Answered | None:
        """The stored answer of a document scored before, if any."""
        ...

    def features_of(self, document_id: str) -> list[list[float | None]] | None:
        """The feature vectors served for a document, if it was scored."""
        ...

    def load(
        self,
        documents: pd.DataFrame,
        outcomes: pd.DataFrame | None,
        firms: pd.DataFrame | None,
        progress: Progress | None = None,
        home_country: str = HOME_COUNTRY,
    ) -> None:
        """Fill an empty store with a history (DOCUMENT_COLUMNS and any `extra.<name>`
        columns, OUTCOME_COLUMNS, FIRM_COLUMNS) of a dataset of `home_country`, in one
        transaction: the lines, and every key's state computed over all of them at once by
        the batch engine."""
        ...

    def rebuild(self) -> None:
        """Compute every key's state again from the stored lines and outcomes, in one
        transaction (folds in documents answered beyond the lateness horizon)."""
        ...

    def caller_of(self, document_id: str) -> str | None:
        """The calling system that sent a scored document ("" if none was named), or None
        when the document was never scored."""
        ...

    def add_key(self, key: ApiKey, most_live: int = 2) -> None:
        """Store a new API key. Refused (`ApiKeyError`, nothing stored) when its id exists or
        its caller already has `most_live` live keys (two while a caller rotates)."""
        ...

    def key(self, key_id: str) -> ApiKey | None:
        """The stored key of that id, live or not."""
        ...

    def api_keys(self) -> list[ApiKey]:
        """Every stored key, oldest first."""
        ...

    def revoke_key(self, key_id: str, at: datetime) -> bool:
        """Mark a key revoked from `at` on; False when no key of that id is live at `at`."""
        ...

    def add_outcomes(self, outcomes: pd.DataFrame, audit: Audited | None = None) -> None:
        """Append inspection outcomes (OUTCOME_COLUMNS) and their audit records in one
        transaction. Every outcome must name a stored line: otherwise `UnknownDocumentError`
        and nothing is stored."""
        ...

    def audit(self, audited: Audited) -> None:
        """Append audit records in a transaction of their own (what is recorded but not
        stored otherwise: degraded answers, shadow scores, a chain's start)."""
        ...

    def verify_audit(self, key: bytes) -> Verdict:
        """Check the audit log and what it records (`store.audit.verify`) in one consistent
        snapshot, without holding up writers."""
        ...

    def set_firms(self, firms: pd.DataFrame) -> None:
        """Insert or replace register rows (FIRM_COLUMNS) by firm_id, in one transaction."""
        ...

    def firms(self) -> pd.DataFrame:
        """The firms register (FIRM_COLUMNS, times as aware datetimes)."""
        ...

    def frame(self, table: str) -> pd.DataFrame:
        """A table as a dataset would hold it: `lines` (DOCUMENT_COLUMNS and STORED, in
        canonical order), `outcomes` or `firms`, times as aware datetimes; or `answers`, in
        the order they were committed (`served`)."""
        ...

    def home_country(self) -> str:
        """The home country of the dataset the state holds (Kazakhstan unless loaded with
        another): whose firms keep stock."""
        ...

    def count(self, table: str) -> int:
        """Rows in one of TABLES."""
        ...

    def export_lines(self, since: datetime | None = None) -> pd.DataFrame:
        """Stored document lines issued at or after `since` (every line when None), read-only:
        DOCUMENT_COLUMNS (times as aware datetimes) and one `extra.<name>` column per extra
        the lines carry, ordered by (issued_at, document_id, item_no)."""
        ...

    def export_outcomes(self, since: datetime | None = None) -> pd.DataFrame:
        """Stored outcomes (OUTCOME_COLUMNS) of the documents `export_lines(since)` gives."""
        ...

    def export_answers(self, since: datetime | None = None) -> pd.DataFrame:
        """The stored answers of those documents: document_id, body (JSON) and features (the
        vectors served, JSON, in the answering model's feature order)."""
        ...

    def ping(self) -> bool:
        """True when the store answers a query."""
        ...

    def housekeeping(self) -> None:
        """Start what keeps the store healthy while serving (e.g. WAL checkpoints)."""
        ...

    def close(self) -> None:
        """Stop housekeeping and release connections."""
        ...
