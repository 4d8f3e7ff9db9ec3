"""The audit log: an append-only, tamper-evident record of every decision and every outcome.

Each writing process keeps a chain of its own (`Chain`), so replicas never wait on one
another's log: record n of a chain carries `seq` n and a hash that covers its content and the
hash of record n - 1; the chain's head (`audit_heads`: last seq, last hash) is sealed by a
hash of its own. With the service's secret (the random draw's key, which never enters the
state's database) the hashes are HMAC-SHA256, so someone who can write the database but does
not hold the secret cannot edit a record, delete one or cut a chain's tail and seal the chain
again; without a secret they are plain SHA-256 and catch edits made without recomputing the
chain. Records are written inside the transaction that stores what they record (the answer,
the outcomes), so a record exists exactly when its decision does; triggers refuse UPDATE and
DELETE on the log, and `verify` finds what someone who lifted them changed
(docs/decisions.md, "The audit log").

A record holds who, when, which document (its id and `content_hash`) and what was decided,
never the document itself.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import socket
import time
import uuid
from collections.abc import Iterator, Sequence
from typing import Any, NamedTuple

from riskscore.schema import OUTCOME_COLUMNS
from riskscore.store.sql import Sql

_PAGE = 500  # records (or answers) read per query while verifying: bounded memory


class Entry(NamedTuple):
    """One record to append: its kind (`start`, `decision`, `degraded`, `shadow`, `outcome`),
    the document it is about, and what it says (JSON-able; never the document itself)."""

    kind: str
    document_id: str | None
    record: dict[str, Any]


class Audited(NamedTuple):
    """Records to append to a chain, inside the transaction that stores what they record."""

    chain: Chain
    entries: Sequence[Entry]


class Verdict(NamedTuple):
    """What `verify` found: how much it checked, and each problem in plain words."""

    chains: int
    records: int
    answers: int  # stored answers checked against their decision records
    keyed: bool  # checked with the secret (HMAC) rather than plain SHA-256
    problems: list[str]


def canonical(record: dict[str, Any]) -> str:
    """The one text of a record that its hash covers: JSON, sorted keys, no spaces."""
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def digest(text: str) -> str:
    """Hex SHA-256 of a text (an answer's body, an outcome as stored)."""
    return hashlib.sha256(text.encode()).hexdigest()


def outcome_digest(row: Sequence[Any]) -> str:
    """The hash of an outcome as stored (OUTCOME_COLUMNS order), the same whichever backend
    stored it: what an outcome record says was recorded."""
    document_id, item_no, selected_by, inspected, recorded, violation, finding = row[:7]
    return digest(canonical({"document_id": str(document_id), "item_no": int(item_no),
                             "selected_by": None if selected_by is None else str(selected_by),
                             "inspected_at": int(inspected), "recorded_at": int(recorded),
                             "violation_found": bool(violation),
                             "finding": None if finding is None else str(finding)}))  # fmt: skip


class _Hasher:
    """HMAC-SHA256 under the key (plain SHA-256 through HMAC's empty key when there is none)."""

    def __init__(self, key: bytes) -> None:
        # The log's key is derived from the secret, so the same secret never signs two things.
        self._key = hmac.new(key, b"riskscore audit log", hashlib.sha256).digest() if key else b""
        self.keyed = bool(key)

    def link(self, chain: str, seq: int, previous: str, row: Sequence[Any]) -> str:
        """The hash of record `seq` of `chain`: its stored values and the previous hash."""
        at, kind, document_id, text = row
        message = f"{chain}\n{seq}\n{previous}\n{at}\n{kind}\n{document_id or ''}\n{text}"
        return hmac.new(self._key, message.encode(), hashlib.sha256).hexdigest()

    def seal(self, chain: str, seq: int, last: str) -> str:
        """The seal of a chain's head: it ends at record `seq`, whose hash is `last`."""
        message = f"head\n{chain}\n{seq}\n{last}"
        return hmac.new(self._key, message.encode(), hashlib.sha256).hexdigest()


class Chain:
    """One writing process's chain of audit records."""

    def __init__(self, key: bytes, chain_id: str | None = None) -> None:
        self.id = chain_id or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._hasher = _Hasher(key)

    def append(self, sql: Sql, entries: Sequence[Entry]) -> None:
        """Append records inside the caller's transaction. The head row is read for update,
        so threads of one process that share the chain append one after another, and a
        transaction that rolls back leaves the chain as it was."""
        if not entries:
            return
        lock = " FOR UPDATE" if sql.dialect == "postgres" else ""
        head = sql.one(f"SELECT seq, hash FROM audit_heads WHERE chain = ?{lock}", (self.id,))
        seq, previous = (0, "") if head is None else (int(head[0]), str(head[1]))
        at, rows = time.time_ns() // 1_000, []
        for entry in entries:
            seq += 1
            record = entry.record
            if entry.kind == "start":  # a new chain witnesses where every other one stands
                record = record | {"witnessed": _heads(sql)}
            stored = (at, entry.kind, entry.document_id, canonical(record))
            previous = self._hasher.link(self.id, seq, previous, stored)
            rows.append((self.id, seq, *stored, previous))
        sql.many("INSERT INTO audit (chain, seq, at, kind, document_id, record, hash) "
                 "VALUES (?, ?, ?, ?, ?, ?, ?)", rows)  # fmt: skip
        seal = self._hasher.seal(self.id, seq, previous)
        if head is None:
            sql.run("INSERT INTO audit_heads (chain, seq, hash, seal) VALUES (?, ?, ?, ?)",
                    (self.id, seq, previous, seal))  # fmt: skip
        else:
            sql.run("UPDATE audit_heads SET seq = ?, hash = ?, seal = ? WHERE chain = ?",
                    (seq, previous, seal, self.id))  # fmt: skip


def _heads(sql: Sql) -> dict[str, list[Any]]:
    """Every chain's head as it stands: chain -> [last seq, last hash]."""
    return {str(r[0]): [int(r[1]), str(r[2])]
            for r in sql.all("SELECT chain, seq, hash FROM audit_heads")}  # fmt: skip


def verify(sql: Sql, key: bytes) -> Verdict:
    """Check every chain (each record's hash, no gap in the numbers, the sealed head), that
    every decision record finds the answer it names and every answer stored since the log
    began has its decision record, that every outcome record finds the outcome it says was
    stored, and that the heads each chain's start record witnessed are still in the log.
    Run inside one snapshot."""
    hasher, problems = _Hasher(key), []
    heads = {str(r[0]): (int(r[1]), str(r[2]), str(r[3]))
             for r in sql.all("SELECT chain, seq, hash, seal FROM audit_heads")}  # fmt: skip
    chains = {str(r[0]) for r in sql.all("SELECT DISTINCT chain FROM audit")} | set(heads)
    records, witnessed = 0, []
    for chain in sorted(chains):
        found, last, decided = 0, "", []
        for seq, stored, kept in _records(sql, chain):
            records += 1
            if seq != found + 1:
                problems.append(f"chain {chain}: records {found + 1}-{seq - 1} are missing")
            if hasher.link(chain, seq, last, stored) != kept:
                problems.append(f"chain {chain}: record {seq} does not match its hash (edited, "
                                "or the chain before it was)")  # fmt: skip
            found, last = seq, kept
            said = _said(stored[3])
            if stored[1] == "decision":
                decided.append((seq, stored[2], said.get("answer_hash")))
                if len(decided) == _PAGE:
                    _check_decided(sql, chain, decided, problems)
                    decided = []
            elif stored[1] == "start":
                witnessed += [(chain, seq, other, head) for other, head
                              in dict(said.get("witnessed") or {}).items()]  # fmt: skip
        _check_decided(sql, chain, decided, problems)
        head = heads.get(chain)
        if head is None:
            problems.append(f"chain {chain}: its head is missing")
        elif hasher.seal(chain, head[0], head[1]) != head[2]:
            problems.append(f"chain {chain}: its head's seal does not match (edited)")
        elif head[0] != found or head[1] != last:
            problems.append(f"chain {chain}: the head names record {head[0]}, the last one "
                            f"found is {found} (records at the end were deleted)")  # fmt: skip
    for chain, seq, other, head in witnessed:
        row = sql.one("SELECT hash FROM audit WHERE chain = ? AND seq = ?", (other, head[0]))
        if row is None or str(row[0]) != head[1]:
            problems.append(f"chain {other}: record {head[0]}, witnessed by chain {chain} "
                            f"record {seq}, is missing or changed")  # fmt: skip
    answers = _check_answers(sql, problems)
    _check_outcomes(sql, problems)
    return Verdict(len(chains), records, answers, hasher.keyed, problems)


def _said(text: str) -> dict[str, Any]:
    """A record's content; an unreadable one reads as empty (its hash check reports it)."""
    try:
        said = json.loads(text)
    except ValueError:
        return {}
    return said if isinstance(said, dict) else {}


def _check_decided(
    sql: Sql, chain: str, decided: list[tuple[int, Any, Any]], problems: list[str]
) -> None:
    """Each decision record of a page finds its answer, with the body it names (an answer
    deleted, or edited whatever its order number says, shows)."""
    if not decided:
        return
    ids = [str(document_id) for _, document_id, _ in decided]
    bodies = {str(r[0]): str(r[1]) for r in sql.all(
        f"SELECT document_id, body FROM answers WHERE document_id IN ({sql.marks(len(ids))})",
        ids,
    )}  # fmt: skip
    for seq, document_id, answer_hash in decided:
        body = bodies.get(str(document_id))
        if body is None:
            problems.append(f"chain {chain}: record {seq} decided {document_id}, whose answer "
                            "is missing")  # fmt: skip
        elif digest(body) != answer_hash:
            problems.append(f"answer to {document_id}: differs from the decision recorded "
                            f"(chain {chain} record {seq})")  # fmt: skip


def _records(sql: Sql, chain: str) -> Iterator[tuple[int, tuple[Any, ...], str]]:
    """A chain's records in order, a page at a time: (seq, stored values, hash)."""
    after = 0
    while True:
        rows = sql.all("SELECT seq, at, kind, document_id, record, hash FROM audit "
                       "WHERE chain = ? AND seq > ? ORDER BY seq LIMIT ?",
                       (chain, after, _PAGE))  # fmt: skip
        for row in rows:
            yield int(row[0]), (int(row[1]), str(row[2]), row[3], str(row[4])), str(row[5])
        if len(rows) < _PAGE:
            return
        after = int(rows[-1][0])


def _check_answers(sql: Sql, problems: list[str]) -> int:
    """Every answer stored since the log began has a decision record (one whose records were
    deleted with their whole chain shows). Whether the answer is the one recorded is
    `_check_decided`'s, which reads every decision record's answer."""
    row = sql.one("SELECT value FROM state_settings WHERE key = 'audit_from_served'")
    since, checked, after = int(row[0]) if row else 0, 0, ""
    while True:
        page = sql.all("SELECT document_id FROM answers WHERE served > ? AND document_id > ? "
                       "ORDER BY document_id LIMIT ?", (since, after, _PAGE))  # fmt: skip
        if not page:
            return checked
        ids = [str(r[0]) for r in page]
        recorded = {str(r[0]) for r in sql.all(
            "SELECT DISTINCT document_id FROM audit WHERE kind = 'decision' AND document_id IN "
            f"({sql.marks(len(ids))})", ids
        )}  # fmt: skip
        checked += len(ids)
        problems += [f"answer to {i}: no decision record" for i in ids if i not in recorded]
        after = ids[-1]


def _check_outcomes(sql: Sql, problems: list[str]) -> None:
    """Every outcome record finds the outcome it says was stored, unchanged."""
    columns = ", ".join(OUTCOME_COLUMNS)
    for chain, seq, document_id, record in _outcome_records(sql):
        said = _said(record)
        row = sql.one(f"SELECT {columns} FROM outcomes WHERE document_id = ? AND item_no = ? "
                      "AND inspected_at = ?",
                      (document_id, said.get("item_no"), said.get("inspected_at")))  # fmt: skip
        if row is None or outcome_digest(row) != said.get("outcome_hash"):
            state = "missing" if row is None else "changed"
            problems.append(f"outcome of {document_id} item {said.get('item_no')} recorded in "
                            f"chain {chain} record {seq}: {state}")  # fmt: skip


def _outcome_records(sql: Sql) -> Iterator[tuple[str, int, str, str]]:
    after: tuple[str, int] = ("", 0)
    while True:
        rows = sql.all("SELECT chain, seq, document_id, record FROM audit WHERE kind = "
                       "'outcome' AND (chain > ? OR (chain = ? AND seq > ?)) "
                       "ORDER BY chain, seq LIMIT ?",
                       (after[0], after[0], after[1], _PAGE))  # fmt: skip
        for row in rows:
            yield str(row[0]), int(row[1]), str(row[2]), str(row[3])
        if len(rows) < _PAGE:
            return
        after = (str(rows[-1][0]), int(rows[-1][1]))
