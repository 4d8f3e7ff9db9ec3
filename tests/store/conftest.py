"""Stores of every backend, a small world to replay through them, and a scorer without a model."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from riskscore.data import World, load_world
from riskscore.features import FeatureStats, feature_columns, fit_feature_stats
from riskscore.features.columns import columns_of_rows
from riskscore.features.lines import prepare
from riskscore.schema import content_hash, document_from_rows, document_rows
from riskscore.store import Answer, Store, open_store
from riskscore.store.audit import Audited, Chain, Entry, digest

from ..conftest import PostgresSchemas

BACKENDS = ["sqlite", "postgres"]
CUT = pd.Timestamp("2023-03-01", tz="UTC")  # the tiny world's history is loaded before this


Opener = Callable[..., Store]


@pytest.fixture(params=BACKENDS)
def open_backend(
    request: pytest.FixtureRequest, tmp_path: Path, postgres: PostgresSchemas
) -> Iterator[Opener]:
    """Opens a connection to the backend's store called `name` (created empty on first use;
    the same name again: another connection to it); everything opened is closed afterwards."""
    opened: list[Store] = []
    urls: dict[str, str] = {}

    def open_one(name: str = "state") -> Store:
        if request.param == "sqlite":
            url = f"sqlite:///{tmp_path / name}.db"
        else:
            if name not in urls:
                urls[name] = postgres.url(f"{tmp_path.name}_{name}")
            url = urls[name]
        opened.append(open_store(url))
        return opened[-1]

    yield open_one
    for store in opened:
        store.close()


@pytest.fixture
def store(open_backend: Opener) -> Store:
    return open_backend()


@pytest.fixture(scope="session")
def tiny(tiny_world: Path) -> World:
    return load_world(tiny_world, with_truth=False)


@pytest.fixture(scope="session")
def stats(tiny: World) -> FeatureStats:
    return fit_feature_stats(tiny.documents[tiny.documents["issued_at"] < CUT])


def history(world: World, until: pd.Timestamp = CUT) -> World:
    """The world's documents issued and outcomes recorded before `until`."""
    d, o = world.documents, world.outcomes
    assert o is not None
    return World(d[d["issued_at"] < until], world.firms, o[o["recorded_at"] < until])


def score(
    store: Store,
    lines: pd.DataFrame,
    stats: FeatureStats,
    caller: str = "",
    chain: Chain | None = None,
    fail: bool = False,
) -> np.ndarray | None:
    """Score one document as the service does, without a model: the features served (None
    when the store already answered it); with a `chain`, its decision goes to the audit
    log; with `fail`, the transaction fails after everything was written."""
    document = document_from_rows(lines)
    rows = document_rows(document)
    cols = columns_of_rows(rows)
    new = cols | prepare(cols)
    parties = {*new["consignor_id"], *new["consignee_id"], *new["subject_id"]}
    with store.scoring(document.document_id, parties) as scoring:
        if scoring.answer() is not None:
            return None
        lookup = scoring.past(new)
        matrix, stored = feature_columns(new, stats, lookup.register, None, None, lookup.past)
        vectors = json.dumps([[None if v != v else v for v in row] for row in matrix.tolist()])
        body = json.dumps({"request_id": uuid.uuid4().hex})  # each scoring answers its own
        answer = Answer(document.document_id, body, vectors, content_hash(document), False, caller)
        audit = None
        if chain is not None:
            record = {"answer_hash": digest(body), "content_hash": answer.content_hash}
            audit = Audited(chain, [Entry("decision", document.document_id, record)])
        scoring.write(rows, stored, answer, audit)
        if fail:
            raise RuntimeError("the scoring failed after its writes")
    return matrix
