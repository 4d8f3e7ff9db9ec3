"""The contract every online-state backend keeps: what the service and the CLI may call.

The online state holds every scored document's lines (with what the chain pass stored for
them), the answers given, inspection outcomes and the firms register. The service scores a
document inside one store transaction: read the stored answer and the parties' history,
score, write the lines and the answer — all of it or nothing (`Store.scoring`).

`tests/store/test_contract.py` holds every backend to this contract.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any, NamedTuple, Protocol

import numpy as np
import pandas as pd

from riskscore.features.columns import Columns

TABLES = ("lines", "outcomes", "firms", "answers")


class History(NamedTuple):
    """A new document's lines among its parties' stored history."""

    lines: Columns  # stored lines and the new document's, in canonical order, prepared
    outcomes: Columns  # outcomes of the stored lines' documents (`features.outcome_columns`)
    wanted: np.ndarray  # where the new document's lines are in `lines`


class Answer(NamedTuple):
    """What is stored of a scored document besides its lines."""

    document_id: str
    body: str  # the answer as sent (JSON)
    features: str  # the feature vectors served, one per line (JSON), for audits and parity
    caller: str = ""  # the calling system that sent the document ("" when unauthenticated)


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

    def answer(self) -> str | None:
        """The answer stored for this document id, if it was scored before."""
        ...

    def history(self, parties: set[str], new: Columns) -> History:
        """Every stored line in which any of `parties` is consignor, consignee or declarant
        (a stored copy of the new document excepted: it is not its own past), with the new
        document's `Store.prepared` lines, and the outcomes of the stored lines' documents."""
        ...

    def write(self, rows: list[dict[str, Any]], stored: Columns, answer: Answer) -> None:
        """Store the document's `schema.document_rows` with the STORED columns its lines got,
        and its answer. Written when the transaction commits; a document already stored
        keeps what it has."""
        ...


class Store(Protocol):
    """The online state.

    Contract:
    - `scoring(document_id)` opens a transaction that sees every document committed before it
      (by this process or any other sharing the store) and commits what `write` was given
      when the block ends normally; an exception inside the block writes nothing.
    - Scoring transactions are serialised so that a document's history is never missing a
      document committed before it; read-only calls never wait for them.
    - Every write is all or nothing; a refused write leaves the stored data as it was.
    - Times are stored as microseconds since 1970 UTC (`store.codec`).
    """

    def scoring(self, document_id: str) -> AbstractContextManager[Scoring]:
        """The transaction that reads, scores and writes one document."""
        ...

    def prepared(self, cols: Columns) -> Columns:
        """A new document's columns in the form `History.lines` come in."""
        ...

    def answer(self, document_id: str) -> str | None:
        """The stored answer of a document scored before, if any."""
        ...

    def features_of(self, document_id: str) -> list[list[float | None]] | None:
        """The feature vectors served for a document, if it was scored."""
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

    def add_lines(self, lines: pd.DataFrame) -> None:
        """Append document lines (DOCUMENT_COLUMNS and STORED) in one transaction; lines
        already stored keep what they have."""
        ...

    def add_outcomes(self, outcomes: pd.DataFrame) -> None:
        """Append inspection outcomes (OUTCOME_COLUMNS) in one transaction. Every outcome must
        name a stored line: otherwise `UnknownDocumentError` and nothing is stored."""
        ...

    def set_firms(self, firms: pd.DataFrame) -> None:
        """Insert or replace register rows (FIRM_COLUMNS) by firm_id, in one transaction."""
        ...

    def firms(self) -> pd.DataFrame:
        """The firms register (FIRM_COLUMNS, times as aware datetimes)."""
        ...

    def count(self, table: str) -> int:
        """Rows in one of TABLES."""
        ...

    def ping(self) -> bool:
        """True when the store answers a query."""
        ...

    def warm(self) -> int:
        """Fill any per-process cache now (at start-up) rather than on the first request;
        the number of lines read."""
        ...

    def housekeeping(self) -> None:
        """Start what keeps the store healthy while serving (e.g. WAL checkpoints)."""
        ...

    def close(self) -> None:
        """Stop housekeeping and release connections."""
        ...
