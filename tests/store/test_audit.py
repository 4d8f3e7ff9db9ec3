"""The audit log (`riskscore.store.audit`) on every backend: chains that verify, and every
kind of tampering someone with write access to the database could try, found.

Each tampering first lifts the log's append-only triggers, as someone holding the database's
owner rights could.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pandas as pd
import pytest

from riskscore.data import World
from riskscore.errors import StateError
from riskscore.features import FeatureStats
from riskscore.schema import OUTCOME_COLUMNS
from riskscore.store import Store, load_history
from riskscore.store.audit import Audited, Chain, Entry, canonical, outcome_digest
from riskscore.store.codec import frame_rows

from .conftest import CUT, Opener, history, score

KEY = b"k" * 32


def _sql(store: Store, statement: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Run one statement on the store's database behind its back, as an intruder would."""
    if hasattr(store, "_db"):
        cursor = store._db.execute(statement, params)
        rows = cursor.fetchall()
        return [tuple(r) for r in rows]
    with store._pool.connection() as connection:  # type: ignore[attr-defined]
        cursor = connection.execute(statement.replace("?", "%s"), params)
        return [tuple(r) for r in cursor.fetchall()] if cursor.description else []


def _lift_triggers(store: Store) -> None:
    if hasattr(store, "_db"):
        _sql(store, "DROP TRIGGER audit_no_update")
        _sql(store, "DROP TRIGGER audit_no_delete")
    else:
        _sql(store, "DROP TRIGGER audit_no_change ON audit")


def _outcome_entries(chain: Chain, outcomes: pd.DataFrame) -> Audited:
    return Audited(chain, [
        Entry("outcome", str(row[0]), {"item_no": int(row[1]), "inspected_at": int(row[3]),  # type: ignore[call-overload]
                                       "outcome_hash": outcome_digest(row)})
        for row in frame_rows(outcomes, OUTCOME_COLUMNS)
    ])  # fmt: skip


@pytest.fixture
def audited(open_backend: Opener, tiny: World, stats: FeatureStats) -> tuple[Store, Chain]:
    """A store with a history, ten documents scored and one outcome recorded, every one of
    them in the audit log of one chain (and a second chain from a second connection)."""
    store = open_backend()
    past = history(tiny)
    load_history(store, past.documents, past.outcomes, past.firms)
    chain = Chain(KEY)
    store.audit(Audited(chain, [Entry("start", None, {"service": "test"})]))
    later = tiny.documents[tiny.documents["issued_at"] >= CUT]
    ids = list(dict.fromkeys(later["document_id"]))[:10]
    for document_id in ids[:8]:
        score(store, later[later["document_id"] == document_id], stats, chain=chain)
    other = open_backend()
    second = Chain(KEY)  # a second process: its start record witnesses the first chain's head
    other.audit(Audited(second, [Entry("start", None, {"service": "test"})]))
    for document_id in ids[8:]:
        score(other, later[later["document_id"] == document_id], stats, chain=second)
    first = later[later["document_id"] == ids[0]].iloc[0]
    outcome = pd.DataFrame([{
        "document_id": first["document_id"], "item_no": int(first["item_no"]),
        "selected_by": "model", "inspected_at": first["issued_at"] + pd.Timedelta(days=1),
        "recorded_at": first["issued_at"] + pd.Timedelta(days=2), "violation_found": True,
        "finding": "misdeclared_hs",
    }])  # fmt: skip
    store.add_outcomes(outcome, _outcome_entries(chain, outcome))
    return store, chain


def test_an_untouched_log_verifies(audited: tuple[Store, Chain]) -> None:
    store, _ = audited
    verdict = store.verify_audit(KEY)
    assert verdict.problems == []
    assert (verdict.chains, verdict.records, verdict.answers) == (2, 2 + 8 + 2 + 1, 10)
    assert verdict.keyed


def test_the_log_refuses_updates_and_deletes(audited: tuple[Store, Chain]) -> None:
    store, _ = audited
    for statement in ("UPDATE audit SET kind = 'x'", "DELETE FROM audit"):
        with pytest.raises(Exception, match="append-only"):
            _sql(store, statement)
    assert store.verify_audit(KEY).problems == []


def _edit_record(store: Store) -> None:
    row = _sql(store, "SELECT chain, seq, record FROM audit WHERE kind = 'decision' "
                      "ORDER BY chain, seq LIMIT 1")[0]  # fmt: skip
    record = json.loads(row[2]) | {"content_hash": "0" * 64}
    _sql(store, "UPDATE audit SET record = ? WHERE chain = ? AND seq = ?",
         (canonical(record), row[0], row[1]))  # fmt: skip


def _delete_middle(store: Store) -> None:
    _sql(store, "DELETE FROM audit WHERE seq = 3")


def _delete_last(store: Store) -> None:
    chain, seq = _sql(store, "SELECT chain, seq FROM audit_heads ORDER BY seq DESC LIMIT 1")[0]
    _sql(store, "DELETE FROM audit WHERE chain = ? AND seq = ?", (chain, seq))


def _delete_chain(store: Store) -> None:
    chain = _sql(store, "SELECT chain FROM audit_heads ORDER BY seq LIMIT 1")[0][0]
    _sql(store, "DELETE FROM audit WHERE chain = ?", (chain,))
    _sql(store, "DELETE FROM audit_heads WHERE chain = ?", (chain,))


def _delete_chain_and_answers(store: Store) -> None:
    """Delete the first chain, its head and every answer it decided: only the second chain's
    start record still knows where the first one stood."""
    chain = _sql(store, "SELECT chain FROM audit WHERE kind = 'decision' ORDER BY at, chain "
                        "LIMIT 1")[0][0]  # fmt: skip
    decided = [r[0] for r in _sql(store, "SELECT document_id FROM audit WHERE chain = ? AND "
                                         "kind = 'decision'", (chain,))]  # fmt: skip
    _sql(store, "DELETE FROM audit WHERE chain = ?", (chain,))
    _sql(store, "DELETE FROM audit_heads WHERE chain = ?", (chain,))
    for document_id in decided:
        _sql(store, "DELETE FROM answers WHERE document_id = ?", (document_id,))


def _delete_answer(store: Store) -> None:
    _sql(store, "DELETE FROM answers WHERE document_id = (SELECT document_id FROM answers "
                "ORDER BY served LIMIT 1)")  # fmt: skip


def _hide_an_edited_answer(store: Store) -> None:
    """Edit an answer and move it, and the log's starting point, out of the answers checked."""
    _edit_answer(store)
    _sql(store, "UPDATE answers SET served = 0")
    _sql(store, "UPDATE state_settings SET value = '999999999' WHERE key = 'audit_from_served'")


def _empty_a_record(store: Store) -> None:
    _sql(store, "UPDATE audit SET record = '{}' WHERE kind = 'decision'")


def _edit_answer(store: Store) -> None:
    document_id = _sql(store, "SELECT document_id FROM answers ORDER BY served DESC LIMIT 1")[0][0]
    _sql(store, "UPDATE answers SET body = ? WHERE document_id = ?",
         ('{"channel": "green"}', document_id))  # fmt: skip


def _edit_outcome(store: Store) -> None:
    _sql(store, "UPDATE outcomes SET violation_found = ? WHERE finding = 'misdeclared_hs' "
                "AND selected_by = 'model'", (False,))  # fmt: skip


def _forge_without_key(store: Store) -> None:
    """Edit a record and recompute the whole chain and its seal with a key of one's own."""
    _edit_record(store)
    chain = _sql(store, "SELECT chain FROM audit WHERE kind = 'decision' ORDER BY chain, seq "
                        "LIMIT 1")[0][0]  # fmt: skip
    forger, rows = Chain(b"f" * 32, chain), _sql(
        store, "SELECT seq, at, kind, document_id, record FROM audit WHERE chain = ? "
               "ORDER BY seq", (chain,))  # fmt: skip
    hasher, previous = forger._hasher, ""
    for seq, at, kind, document_id, record in rows:
        previous = hasher.link(chain, seq, previous, (at, kind, document_id, record))
        _sql(store, "UPDATE audit SET hash = ? WHERE chain = ? AND seq = ?", (previous, chain, seq))
    _sql(store, "UPDATE audit_heads SET hash = ?, seal = ? WHERE chain = ?",
         (previous, hasher.seal(chain, rows[-1][0], previous), chain))  # fmt: skip


TAMPERING: dict[str, tuple[Callable[[Store], None], str]] = {
    "edit a record": (_edit_record, "does not match its hash"),
    "delete a record": (_delete_middle, "are missing"),
    "delete the last record": (_delete_last, "records at the end were deleted"),
    "delete a whole chain": (_delete_chain, "no decision record"),
    "delete a whole chain and its answers": (_delete_chain_and_answers, "witnessed by chain"),
    "delete an answer": (_delete_answer, "whose answer is missing"),
    "edit an answer and hide it from the check": (_hide_an_edited_answer, "differs from"),
    "empty the records": (_empty_a_record, "does not match its hash"),
    "edit a stored answer": (_edit_answer, "differs from the decision recorded"),
    "edit a stored outcome": (_edit_outcome, "changed"),
    "recompute the chain without the key": (_forge_without_key, "does not match its hash"),
}


@pytest.mark.parametrize("tampering", list(TAMPERING))
def test_tampering_is_found(audited: tuple[Store, Chain], tampering: str) -> None:
    store, _ = audited
    tamper, found = TAMPERING[tampering]
    _lift_triggers(store)
    tamper(store)
    problems = store.verify_audit(KEY).problems
    assert any(found in problem for problem in problems), problems


def test_a_chain_keeps_going_after_a_refused_write(
    audited: tuple[Store, Chain], tiny: World, stats: FeatureStats
) -> None:
    """A transaction that rolls back takes its records with it, and the chain's next record
    follows the last one committed."""
    store, chain = audited
    later = tiny.documents[tiny.documents["issued_at"] >= CUT]
    ids = list(dict.fromkeys(later["document_id"]))
    with pytest.raises(RuntimeError):
        score(store, later[later["document_id"] == ids[20]], stats, chain=chain, fail=True)
    assert store.answer(ids[20]) is None
    score(store, later[later["document_id"] == ids[21]], stats, chain=chain)
    verdict = store.verify_audit(KEY)
    assert verdict.problems == []
    assert verdict.answers == 11


def test_verify_without_the_key_says_so(audited: tuple[Store, Chain]) -> None:
    store, _ = audited
    verdict = store.verify_audit(b"")
    assert not verdict.keyed
    assert verdict.problems  # the chain was written under a key: without it, nothing matches


def test_a_failed_audit_write_stores_nothing(open_backend: Opener) -> None:
    store = open_backend()
    bad = Audited(Chain(KEY), [Entry("start", None, {"not json": {1, 2}})])  # type: ignore[dict-item]
    with pytest.raises((TypeError, StateError)):
        store.audit(bad)
    assert store.count("audit") == 0
