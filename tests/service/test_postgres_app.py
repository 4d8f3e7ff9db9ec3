"""The app over a PostgreSQL state scores on worker threads, several documents at once, and
serves what a one-at-a-time replay in commit order serves; its threads share one audit
chain, which verifies."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from fastapi.testclient import TestClient

from riskscore.config import Settings
from riskscore.data import World
from riskscore.model import RiskModel
from riskscore.schema import document_from_rows
from riskscore.service import create_app
from riskscore.service.auth import Role
from riskscore.service.runtime import ModelRuntime
from riskscore.service.scoring import Scorer
from riskscore.store import Store, load_history, open_store

from ..conftest import PostgresSchemas
from .conftest import CUT, as_request, bearer

DOCUMENTS = 40


def _warm(url: str, world: World) -> Store:
    store = open_store(url)
    load_history(store, world.documents, world.outcomes, world.firms, CUT)
    return store


def test_documents_scored_at_once_equal_a_replay_in_commit_order(
    postgres: PostgresSchemas, world: World, model: RiskModel, tmp_path: Path
) -> None:
    d = world.documents
    later = d[d["issued_at"] >= CUT].sort_values(["issued_at", "document_id", "item_no"])
    ids = later["document_id"].drop_duplicates().iloc[:DOCUMENTS]
    bodies = [as_request(later[later["document_id"] == i]) for i in ids]
    shared = _warm(postgres.url(f"{tmp_path.name}_shared"), world)
    assert shared.parallel
    settings = Settings(data_dir=tmp_path, models_dir=tmp_path / "models", random_share=0.0)
    headers = bearer(shared, "customs-test", Role.SCORE)
    with (
        TestClient(create_app(settings, model=model, store=shared), headers=headers) as client,
        ThreadPoolExecutor(4) as pool,
    ):
        statuses = list(pool.map(lambda b: client.post("/v1/score", json=b).status_code, bodies))
    assert statuses == [200] * len(bodies)
    verdict = shared.verify_audit(b"")
    assert verdict.problems == []
    assert (verdict.chains, verdict.records, verdict.answers) == (1, 1 + DOCUMENTS, DOCUMENTS)
    served = shared.frame("answers")
    served = served[served["document_id"].isin(ids)]
    replay = _warm(postgres.url(f"{tmp_path.name}_replay"), world)
    scorer = Scorer(ModelRuntime(model, "test", "champion"), replay, settings)
    by_id = {i: document_from_rows(later[later["document_id"] == i]) for i in ids}
    for document_id in served["document_id"]:
        scorer.score(by_id[document_id])
    again = replay.frame("answers").set_index("document_id")["features"]
    assert len(served) == DOCUMENTS
    differing = [i for i, f in zip(served["document_id"], served["features"], strict=True)
                 if again[i] != f]  # fmt: skip
    assert differing == []
    shared.close()
    replay.close()


def test_one_id_with_other_content_at_once_is_a_conflict_not_a_degraded_answer(
    postgres: PostgresSchemas, world: World, model: RiskModel, tmp_path: Path
) -> None:
    """Two documents of one id whose parties differ are not scored one after the other: the
    second meets the first's uncommitted answer row, waits, and gets the conflict (409) once
    the first commits, not a degraded answer."""
    import threading

    import psycopg

    from riskscore.errors import DocumentConflictError
    from riskscore.store import Answer

    d = world.documents
    later = d[d["issued_at"] >= CUT]
    ids = later["document_id"].drop_duplicates()
    first = document_from_rows(later[later["document_id"] == ids.iloc[0]])
    other = later[later["document_id"] == ids.iloc[1]].copy()
    other["document_id"] = first.document_id  # the same id, other content and parties
    second = document_from_rows(other)
    url = postgres.url(f"{tmp_path.name}_conflict")
    store = _warm(url, world)
    scorer = Scorer(ModelRuntime(model, "test", "champion"),
                    store, Settings(data_dir=tmp_path, random_share=0.0))  # fmt: skip
    outcome: list[object] = []

    def score_second() -> None:
        try:
            outcome.append(scorer.score(second))
        except DocumentConflictError as error:
            outcome.append(error)

    with store.scoring(first.document_id, {"someone-else"}) as scoring:
        scoring.write([], {}, Answer(first.document_id, "{}", "[]", "hash", False))
        racing = threading.Thread(target=score_second)
        racing.start()
        with psycopg.connect(url.split("?")[0], autocommit=True) as watcher:
            for _ in range(600):  # until the second waits on the first's row (at most 60 s)
                row = watcher.execute("SELECT count(*) FROM pg_locks WHERE NOT granted").fetchone()
                if row and row[0]:
                    break
                threading.Event().wait(0.1)
            else:
                raise AssertionError("the second document never waited on the first")
    racing.join()
    assert len(outcome) == 1 and isinstance(outcome[0], DocumentConflictError)
    assert store.answer(first.document_id) is not None
    scorer.close()
    store.close()
