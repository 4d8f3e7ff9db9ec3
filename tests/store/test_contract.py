"""The contract every online-state backend keeps (`riskscore.store.base.Store`).

Each test runs once per backend in `conftest.BACKENDS`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pandas as pd
import pytest

from riskscore.errors import ApiKeyError, UnknownDocumentError
from riskscore.features import STORED
from riskscore.schema import Document, document_rows
from riskscore.store import Answer, ApiKey, Store

from .conftest import T0, document, firm, no_lots, outcome, rows_and_columns


def _score(store: Store, doc: Document, parties: set[str]) -> tuple[int, int]:
    """Score `doc` as the service does (without a model): (history lines, outcomes) seen."""
    with store.scoring(doc.document_id) as scoring:
        assert scoring.answer() is None
        rows, new = rows_and_columns(doc, store)
        history = scoring.history(parties, new)
        scoring.write(rows, no_lots(len(rows)), Answer(doc.document_id, '{"a": 1}', "[[1.0]]"))
    return len(history.lines["document_id"]) - len(rows), len(history.outcomes["document_id"])


def test_an_empty_store_answers_and_counts_nothing(store: Store) -> None:
    assert store.ping()
    assert {t: store.count(t) for t in ("lines", "outcomes", "firms", "answers")} == dict.fromkeys(
        ("lines", "outcomes", "firms", "answers"), 0
    )
    assert store.answer("NOPE") is None and store.features_of("NOPE") is None
    assert store.firms().empty


def test_a_scored_document_becomes_history_and_keeps_its_answer(store: Store) -> None:
    assert _score(store, document("D1", "K1", "K2", 0, items=2), {"K1", "K2"}) == (0, 0)
    assert store.count("lines") == 2 and store.count("answers") == 1
    assert store.answer("D1") == '{"a": 1}' and store.features_of("D1") == [[1.0]]
    assert _score(store, document("D2", "K2", "K3", 1), {"K2", "K3"}) == (2, 0)
    assert _score(store, document("D3", "K8", "K9", 2), {"K8", "K9"}) == (0, 0)  # unrelated


def test_history_holds_the_new_lines_in_canonical_order(store: Store) -> None:
    _score(store, document("D2", "K1", "K2", 1), {"K1"})
    later = document("D1", "K1", "K2", 0, items=2)  # issued earlier, arrives later
    with store.scoring(later.document_id) as scoring:
        _, new = rows_and_columns(later, store)
        history = scoring.history({"K1"}, new)
    assert history.lines["document_id"].tolist() == ["D1", "D1", "D2"]
    assert history.wanted.tolist() == [0, 1]


def test_a_document_is_not_its_own_past(store: Store) -> None:
    _score(store, document("D1", "K1", "K2", 0), {"K1"})
    again = document("D1", "K1", "K2", 0)
    with store.scoring(again.document_id) as scoring:
        assert scoring.answer() == '{"a": 1}'
        _, new = rows_and_columns(again, store)
        history = scoring.history({"K1"}, new)
    assert history.lines["document_id"].tolist() == ["D1"]  # only the new copy


def test_an_error_inside_scoring_writes_nothing(store: Store) -> None:
    doc = document("D1", "K1", "K2", 0)
    with pytest.raises(RuntimeError), store.scoring(doc.document_id) as scoring:
        rows, new = rows_and_columns(doc, store)
        scoring.history({"K1"}, new)
        scoring.write(rows, no_lots(1), Answer("D1", "{}", "[]"))
        raise RuntimeError("the model failed after the write was staged")
    assert store.count("lines") == 0 and store.answer("D1") is None
    assert _score(store, doc, {"K1"}) == (0, 0)  # and the store still works


def test_outcomes_must_name_stored_lines_all_or_nothing(store: Store) -> None:
    _score(store, document("D1", "K1", "K2", 0), {"K1"})
    with pytest.raises(UnknownDocumentError) as refused:
        store.add_outcomes(pd.DataFrame([outcome("D1"), outcome("D9"), outcome("D1", item_no=2)]))
    assert refused.value.rows == [1, 2]
    assert store.count("outcomes") == 0
    store.add_outcomes(pd.DataFrame([outcome("D1", found=True)]))
    assert store.count("outcomes") == 1
    assert _score(store, document("D2", "K2", "K3", 9), {"K2"}) == (1, 1)  # seen with D1


def test_the_register_is_upserted_by_firm(store: Store) -> None:
    store.set_firms(pd.DataFrame([firm("111111111111"), firm("222222222222")]))
    store.set_firms(pd.DataFrame([firm("111111111111", address="A2")]))
    firms = store.firms().set_index("firm_id")
    assert len(firms) == 2 and firms.loc["111111111111", "address_id"] == "A2"
    assert str(firms["registered_at"].dtype) == "datetime64[us, UTC]"


def test_a_bulk_load_keeps_lines_already_stored(store: Store) -> None:
    _score(store, document("D1", "K1", "K2", 0), {"K1"})
    lines = pd.DataFrame(document_rows(document("D1", "K1", "K5", 0, items=2)))
    lines = lines.map(lambda v: str(v) if isinstance(v, str) else v)  # enums as plain text
    lines[list(STORED)] = None
    store.add_lines(lines)
    assert store.count("lines") == 2  # item 2 added, item 1 kept as scored
    with store.scoring("D2") as scoring:
        _, new = rows_and_columns(document("D2", "K2", "K3", 1), store)
        history = scoring.history({"K2", "K5"}, new)
    partners = dict(zip(history.lines["item_no"][:2].tolist(),
                        history.lines["consignee_id"][:2].tolist(), strict=True))  # fmt: skip
    assert partners == {1: "K2", 2: "K5"}  # item 1 as it was scored, not as re-sent


def test_another_connection_sees_what_was_committed(open_backend: Callable[[], Store]) -> None:
    """Several service processes share one state: each sees the others' documents."""
    first, second = open_backend(), open_backend()
    second.warm()
    _score(first, document("D1", "K1", "K2", 0), {"K1"})
    assert second.answer("D1") == '{"a": 1}'
    assert _score(second, document("D2", "K1", "K3", 1), {"K1"}) == (1, 0)
    assert _score(first, document("D3", "K1", "K4", 2), {"K1"}) == (2, 0)


def test_the_answer_keeps_who_sent_the_document(store: Store) -> None:
    doc = document("D1", "K1", "K2", 0)
    with store.scoring(doc.document_id) as scoring:
        rows, new = rows_and_columns(doc, store)
        scoring.history({"K1"}, new)
        scoring.write(rows, no_lots(1), Answer("D1", "{}", "[[1.0]]", caller="customs-dt"))
    assert store.caller_of("D1") == "customs-dt"
    assert store.caller_of("D9") is None
    _score(store, document("D2", "K1", "K2", 1), {"K1"})  # sent without a caller
    assert store.caller_of("D2") == ""


def _key(key_id: str, caller: str = "customs-dt", days: float = 0, **times: object) -> ApiKey:
    return ApiKey(key_id, caller, ("score", "read"), "ab" * 32, T0 + timedelta(days=days),
                  **times)  # type: ignore[arg-type]  # fmt: skip


def test_keys_are_stored_as_given_and_listed_oldest_first(store: Store) -> None:
    expiring = _key("k2", days=1, expires_at=T0 + timedelta(days=30))
    store.add_key(expiring)
    store.add_key(_key("k1"))
    assert store.key("k2") == expiring
    assert [k.key_id for k in store.api_keys()] == ["k1", "k2"]
    assert store.key("k9") is None


def test_a_caller_has_at_most_two_live_keys(store: Store) -> None:
    store.add_key(_key("k1"))
    store.add_key(_key("k2", days=1))
    store.add_key(_key("x1", caller="tax-esf", days=1))  # another caller is not counted
    with pytest.raises(ApiKeyError, match="2 live keys"):
        store.add_key(_key("k3", days=2))
    assert store.key("k3") is None
    assert store.revoke_key("k1", T0 + timedelta(days=2))
    store.add_key(_key("k3", days=2))  # rotated: k2 and k3 live
    assert {k.key_id for k in store.api_keys() if k.live(T0 + timedelta(days=3))} == {
        "k2",
        "k3",
        "x1",
    }


def test_an_expired_key_no_longer_counts_as_live(store: Store) -> None:
    store.add_key(_key("k1", expires_at=T0 + timedelta(days=1)))
    store.add_key(_key("k2"))
    store.add_key(_key("k3", days=2))  # k1 expired the day before
    assert not store.key("k1").live(T0 + timedelta(days=2))  # type: ignore[union-attr]


def test_a_key_id_is_never_reused_and_revoking_is_told(store: Store) -> None:
    store.add_key(_key("k1"))
    with pytest.raises(ApiKeyError, match="exists already"):
        store.add_key(_key("k1", caller="tax-esf"))
    at = T0 + timedelta(hours=1)
    assert store.revoke_key("k1", at) is True
    assert store.key("k1").revoked_at == at  # type: ignore[union-attr]
    assert store.revoke_key("k1", at) is False  # already revoked
    assert store.revoke_key("k9", at) is False  # unknown


def test_another_connection_sees_a_revoked_key(open_backend: Callable[[], Store]) -> None:
    """Keys live in the shared state: every replica sees a new or revoked key."""
    first, second = open_backend(), open_backend()
    first.add_key(_key("k1"))
    assert second.key("k1") is not None
    first.revoke_key("k1", T0 + timedelta(hours=1))
    assert second.key("k1").revoked_at is not None  # type: ignore[union-attr]
