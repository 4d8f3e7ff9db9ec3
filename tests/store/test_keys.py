"""API keys and who sent each answer, kept in the shared state (every backend)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from riskscore.data import World
from riskscore.errors import ApiKeyError
from riskscore.features import FeatureStats
from riskscore.store import ApiKey, Store

from .conftest import CUT, Opener, history, score

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _key(key_id: str, caller: str = "customs-dt", days: float = 0, **times: object) -> ApiKey:
    return ApiKey(key_id, caller, ("score", "read"), "ab" * 32, T0 + timedelta(days=days),
                  **times)  # type: ignore[arg-type]  # fmt: skip


def test_the_answer_keeps_who_sent_the_document(
    store: Store, tiny: World, stats: FeatureStats
) -> None:
    loaded = history(tiny)
    store.load(loaded.documents, loaded.outcomes, loaded.firms)
    d = tiny.documents
    later = d[(d["issued_at"] >= CUT) & (d["issued_at"] < CUT + pd.Timedelta(days=8))]
    first, second = [g for _, g in later.groupby("document_id", sort=False)][:2]
    score(store, first, stats, caller="customs-dt")
    score(store, second, stats)  # sent without a caller
    assert store.caller_of(str(first["document_id"].iloc[0])) == "customs-dt"
    assert store.caller_of(str(second["document_id"].iloc[0])) == ""
    assert store.caller_of("NEVER") is None


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
    live = {k.key_id for k in store.api_keys() if k.live(T0 + timedelta(days=3))}
    assert live == {"k2", "k3", "x1"}


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


def test_another_connection_sees_a_revoked_key(open_backend: Opener) -> None:
    """Keys live in the shared state: every replica sees a new or revoked key."""
    first, second = open_backend(), open_backend()
    first.add_key(_key("k1"))
    assert second.key("k1") is not None
    first.revoke_key("k1", T0 + timedelta(hours=1))
    assert second.key("k1").revoked_at is not None  # type: ignore[union-attr]
