"""The audit log as the service writes it: a record of every decision and every outcome (who,
when, what was decided, by which model; never the document), verified by
`riskscore audit verify` (no argument), which fails on a tampered log."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from riskscore.cli import app as cli
from riskscore.config import Settings
from riskscore.data import World
from riskscore.model import RiskModel
from riskscore.schema import Document, content_hash
from riskscore.service import create_app
from riskscore.service.auth import Role
from riskscore.store import SqliteStore

from .conftest import CUT, as_request, bearer

SECRET = "s" * 32


@pytest.fixture
def keyed(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path, models_dir=tmp_path / "models", random_share=0.05,
                    random_secret=SECRET)  # fmt: skip


@pytest.fixture
def documents(world: World) -> list[dict[str, Any]]:
    d = world.documents
    ids = list(dict.fromkeys(d.loc[d["issued_at"] >= CUT, "document_id"]))[:6]
    return [as_request(d[d["document_id"] == i]) for i in ids]


@pytest.fixture
def served(
    store: SqliteStore, model: RiskModel, keyed: Settings, documents: list[dict[str, Any]]
) -> Iterator[tuple[TestClient, str]]:
    """Six documents scored (one sent twice) and one outcome recorded, by one caller."""
    headers = bearer(store, "customs-dt", Role.SCORE, Role.OUTCOMES)
    key_id = headers["Authorization"].split("_")[1]
    with TestClient(create_app(keyed, model=model, store=store), headers=headers) as client:
        for body in [*documents, documents[0]]:
            assert client.post("/v1/score", json=body).status_code == 200
        issued = datetime.fromisoformat(documents[0]["issued_at"])
        outcome = {"document_id": documents[0]["document_id"], "item_no": 1,
                   "selected_by": "rule", "violation_found": True,
                   "finding": "layered_resale",
                   "inspected_at": (issued + timedelta(days=1)).isoformat(),
                   "recorded_at": (issued + timedelta(days=2)).isoformat()}  # fmt: skip
        answer = client.post("/v1/outcomes", json={"outcomes": [outcome]},
                             headers={"X-Request-ID": "outcomes-1"})  # fmt: skip
        assert answer.status_code == 200
        yield client, key_id


def _records(store: SqliteStore) -> list[tuple[str, str | None, dict[str, Any]]]:
    rows = store._db.execute("SELECT kind, document_id, record FROM audit ORDER BY seq")
    return [(kind, document_id, json.loads(record)) for kind, document_id, record in rows]


def test_every_decision_and_outcome_is_recorded_without_the_document(
    served: tuple[TestClient, str], store: SqliteStore, documents: list[dict[str, Any]]
) -> None:
    client, key_id = served
    records = _records(store)
    kinds = [kind for kind, _, _ in records]
    # One chain start, one decision per document (the repeat is the stored decision), one
    # outcome.
    assert kinds == ["start"] + ["decision"] * len(documents) + ["outcome"]
    for (_, document_id, record), body in zip(records[1:-1], documents, strict=True):
        answer = client.get(f"/v1/answers/{document_id}").json()
        assert document_id == body["document_id"]
        assert record["content_hash"] == content_hash(Document.model_validate(body))
        assert (record["caller"], record["key_id"]) == ("customs-dt", key_id)
        assert record["request_id"] == answer["request_id"]
        assert (record["score"], record["channel"]) == (answer["score"], answer["channel"])
        assert record["random"] == answer["selected_at_random"]
        assert record["model"]["version"] == answer["model_version"]
        text = json.dumps(record)
        for item in body["items"]:  # nothing of the document's content
            assert item["description"] not in text and item["hs_code"] not in text
        assert body["consignor_id"] not in text
    _, document_id, outcome = records[-1]
    assert document_id == documents[0]["document_id"]
    assert (outcome["request_id"], outcome["key_id"]) == ("outcomes-1", key_id)
    assert "layered_resale" not in json.dumps(outcome)


def _verify(store: SqliteStore, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    monkeypatch.setenv("RISKSCORE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("RISKSCORE_STATE_URL", f"sqlite:///{store.path}")
    monkeypatch.setenv("RISKSCORE_RANDOM_SECRET", SECRET)
    return CliRunner().invoke(cli, ["audit", "verify"])


def test_audit_verify_passes_on_the_log_and_fails_on_an_edit_or_a_deletion(
    served: tuple[TestClient, str],
    store: SqliteStore,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    result = _verify(store, monkeypatch, tmp_path)
    assert result.exit_code == 0, result.output
    assert "8 records in 1 chain(s), 6 answers checked (HMAC-SHA256" in result.output
    intruder = sqlite3.connect(store.path, isolation_level=None)
    intruder.execute("DROP TRIGGER audit_no_update")
    intruder.execute("DROP TRIGGER audit_no_delete")
    intruder.execute("UPDATE audit SET record = replace(record, '\"channel\":\"red\"', "
                     "'\"channel\":\"green\"') WHERE seq = 2")  # fmt: skip
    intruder.execute("UPDATE audit SET record = replace(record, '\"channel\":\"yellow\"', "
                     "'\"channel\":\"green\"') WHERE seq = 2")  # fmt: skip
    intruder.execute("UPDATE audit SET record = replace(record, '\"random\":false', "
                     "'\"random\":true') WHERE seq = 2")  # fmt: skip
    edited = _verify(store, monkeypatch, tmp_path)
    assert edited.exit_code == 1
    assert "record 2 does not match its hash" in edited.output
    assert "the audit log does not verify" in edited.output
    intruder.execute("DELETE FROM audit WHERE seq = 4")
    deleted = _verify(store, monkeypatch, tmp_path)
    assert deleted.exit_code == 1
    assert "records 4-4 are missing" in deleted.output
    intruder.close()


def test_outcomes_and_decisions_of_two_processes_go_to_two_chains(
    store: SqliteStore, model: RiskModel, keyed: Settings, documents: list[dict[str, Any]]
) -> None:
    headers = bearer(store, "customs-dt", Role.SCORE)
    for part in (documents[:3], documents[3:]):  # each app stands for one process
        with TestClient(create_app(keyed, model=model, store=store), headers=headers) as client:
            for body in part:
                assert client.post("/v1/score", json=body).status_code == 200
    chains = store._db.execute("SELECT chain, COUNT(*) FROM audit GROUP BY chain").fetchall()
    assert sorted(count for _, count in chains) == [4, 4]
    verdict = store.verify_audit(SECRET.encode())
    assert verdict.problems == [] and verdict.chains == 2


def test_a_log_started_on_an_older_state_checks_only_what_it_recorded(
    tmp_path: Path, world: World
) -> None:
    """A state of layout 5 (before the log) with answers: upgraded, those answers are not
    reported as missing their records."""
    from riskscore.store import load_history

    path = tmp_path / "old.db"
    store = SqliteStore(path)
    d = world.documents
    load_history(store, d[d["issued_at"] < pd.Timestamp("2023-06-01", tz="UTC")], None, None)
    store._db.execute("INSERT INTO answers (document_id, body, served) VALUES ('OLD', '{}', 1)")
    store._db.execute("DROP TABLE audit")
    store._db.execute("DROP TABLE audit_heads")
    store._db.execute("DELETE FROM state_settings WHERE key = 'audit_from_served'")
    store._db.execute("DELETE FROM schema_version WHERE version = 6")
    store.close()
    upgraded = SqliteStore(path)
    verdict = upgraded.verify_audit(b"")
    upgraded.close()
    assert verdict.problems == [] and verdict.answers == 0


def test_audit_verify_names_a_missing_state_instead_of_making_one(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("RISKSCORE_STATE_URL", f"sqlite:///{tmp_path / 'nowhere.db'}")
    result = CliRunner().invoke(cli, ["audit", "verify"])
    assert result.exit_code == 2
    assert "no online state at" in result.output
    assert not (tmp_path / "nowhere.db").exists()
