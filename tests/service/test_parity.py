"""Training and serving agree: replaying documents and outcomes through the HTTP API in time
order gives the feature vectors and scores the batch pipeline computes for them."""

from __future__ import annotations

import numpy as np
import pandas as pd
from fastapi.testclient import TestClient

from riskscore.data import World
from riskscore.features import CATEGORICAL, FEATURE_NAMES, build_features
from riskscore.model import RiskModel
from riskscore.store import Store

from .conftest import CUT, as_request

REPLAY = pd.Timedelta(days=8)


def _events(world: World) -> list[tuple[pd.Timestamp, str, object]]:
    d, o = world.documents, world.outcomes
    assert o is not None
    window = (d["issued_at"] >= CUT) & (d["issued_at"] < CUT + REPLAY)
    events: list[tuple[pd.Timestamp, str, object]] = [
        (lines["issued_at"].iloc[0], "document", lines)
        for _, lines in d[window].groupby("document_id", sort=False)
    ]
    recorded = o[(o["recorded_at"] >= CUT) & (o["recorded_at"] < CUT + REPLAY)]
    events += [(row.recorded_at, "outcome", row) for row in recorded.itertuples(index=False)]
    return sorted(events, key=lambda e: (e[0], e[1] == "document"))


def test_served_features_and_scores_equal_the_batch_pipeline(
    client: TestClient, store: Store, world: World, model: RiskModel
) -> None:
    served: dict[str, list[float]] = {}
    scored = 0
    for _, kind, payload in _events(world):
        if kind == "document":
            assert isinstance(payload, pd.DataFrame)
            response = client.post("/v1/score", json=as_request(payload))
            assert response.status_code == 200, response.text
            body = response.json()
            served[body["document_id"]] = [item["score"] for item in body["items"]]
            scored += 1
        else:
            outcome = payload._asdict()  # type: ignore[attr-defined]
            for key in ("inspected_at", "recorded_at"):
                outcome[key] = outcome[key].isoformat()
            outcome["item_no"] = int(outcome["item_no"])
            outcome["violation_found"] = bool(outcome["violation_found"])
            outcome["finding"] = None if pd.isna(outcome["finding"]) else outcome["finding"]
            response = client.post("/v1/outcomes", json={"outcomes": [outcome]})
            assert response.status_code == 200, response.text
    assert scored > 150

    batch = build_features(world.documents, model.stats, world.firms, world.outcomes)
    categorical = [FEATURE_NAMES.index(c) for c in CATEGORICAL]
    numeric = [i for i in range(len(FEATURE_NAMES)) if i not in categorical]
    for document_id, scores in served.items():
        rows = world.documents.index[world.documents["document_id"] == document_id]
        expected = batch.loc[rows].sort_index().to_numpy()
        vectors = np.array(store.features_of(document_id), dtype=float)
        np.testing.assert_array_equal(vectors[:, categorical], expected[:, categorical])
        np.testing.assert_allclose(vectors[:, numeric], expected[:, numeric], rtol=1e-9, atol=0)
        np.testing.assert_allclose(scores, model.score(expected), rtol=1e-9)
