"""The foreign example end to end with no code written, and the retraining loop closed.

Everything goes through the `riskscore` commands and the real app: ingest a foreign layout,
validate, train with --split auto, promote, report; warm the state with the history, serve
documents with their extra fields over HTTP, post their inspection results, export the state,
train on the export and promote again.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from riskscore import registry
from riskscore.cli import app
from riskscore.config import DEFAULT_MODEL_NAME, Settings
from riskscore.data import load_world
from riskscore.features import build_features
from riskscore.schema import document_from_rows
from riskscore.service import create_app
from riskscore.store.export import SERVED
from riskscore.training.config import default_config_text

runner = CliRunner()
SERVED_DOCUMENTS = 40


def _ok(args: list[str]) -> str:
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Models and state of this module's own, set as a user would (environment)."""
    folder = tmp_path_factory.mktemp("loop")
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("MLFLOW_TRACKING_URI", raising=False)
        patch.setenv("RISKSCORE_MODELS_DIR", str(folder / "models"))
        patch.setenv("RISKSCORE_DATA_DIR", str(folder))
        patch.setenv("RISKSCORE_STATE_URL", f"sqlite:///{folder / 'state.db'}")
        yield folder


@pytest.fixture(scope="module")
def champion(home: Path, foreign_files: Path) -> Path:
    """The foreign example through ingest, validate, train, promote and report."""
    data = home / "kg"
    _ok(["ingest", str(foreign_files / "declarations.csv"), "--mapping",
         str(foreign_files / "mapping.toml"), "--out", str(data)])  # fmt: skip
    assert "valid" in _ok(["validate", str(data)])
    strict = home / "strict.toml"  # asks for more positives than the example has: a warning
    strict.write_text(default_config_text().replace("min_train_positives = 50",
                                                    "min_train_positives = 1000000"))  # fmt: skip
    trained = runner.invoke(app, ["train", "--data", str(data), "--split", "auto", "--seed", "3",
                                  "--config", str(strict)])  # fmt: skip
    assert trained.exit_code == 0 and "windows (auto)" in trained.output
    assert "warning: trained on" in trained.output
    refused = _ok(["promote"])
    assert "not promoted" in refused and "--force" in refused
    assert "promoted to champion" in _ok(["promote", "--force"])
    _ok(["report", "--out", str(home / "report.html")])
    return data


def test_the_foreign_champion_is_reported_with_its_card(home: Path, champion: Path) -> None:
    html = (home / "report.html").read_text()
    assert "Model card" in html and "Intended use" in html
    assert "Extra column tax_rate" in html or "extra_tax_rate" in html
    assert "LightGBM on the raw columns" in html


def test_serve_export_retrain_promote(home: Path, champion: Path) -> None:
    world = load_world(champion)
    documents = world.documents
    in_time = documents.sort_values(["issued_at", "document_id"])
    served_ids = in_time["document_id"].drop_duplicates().iloc[-SERVED_DOCUMENTS:]
    cut = pd.Timestamp(
        in_time.loc[in_time["document_id"].isin(served_ids), "issued_at"].min().date(), tz="UTC"
    )
    _ok(["state", "load", str(champion), "--until", str(cut.date())])
    later = in_time[in_time["issued_at"] >= cut]
    settings = Settings(random_share=0.0)
    key = _ok(["keys", "add", "customs-test", "--role", "score", "--role", "outcomes"])
    headers = {"Authorization": f"Bearer {key.strip().splitlines()[-1]}"}
    with TestClient(create_app(settings), headers=headers) as client:
        unknown = _request(later, later["document_id"].iloc[0])
        unknown["extra"] = {"weather": "fine"}
        refused = client.post("/v1/score", json=unknown)
        assert refused.status_code == 422
        assert refused.json()["errors"][0]["path"] == "extra.weather"
        for document_id in later["document_id"].drop_duplicates():
            answer = client.post("/v1/score", json=_request(later, document_id))
            assert answer.status_code == 200, answer.text
        outcomes = world.outcomes
        assert outcomes is not None
        results = outcomes[outcomes["document_id"].isin(later["document_id"])]
        body = {"outcomes": results.assign(finding=None).to_dict(orient="records")}
        posted = client.post("/v1/outcomes", json=_jsonable(body))
        assert posted.status_code == 200, posted.text
    exported = home / "export"
    _ok(["state", "export", "--out", str(exported), "--home-country", "KG"])
    again = load_world(exported)
    assert len(again.documents) == len(documents)  # the history before the cut, then the served
    assert set(again.info.extras) == set(world.info.extras)
    _served_equal_recomputed(home, again, exported)
    trained = _ok(["train", "--data", str(exported), "--split", "auto", "--seed", "3"])
    assert "registered" in trained
    promoted = _ok(["promote", "--force"])
    assert "promoted to champion" in promoted


def _request(lines: pd.DataFrame, document_id: str) -> dict[str, object]:
    document = document_from_rows(lines[lines["document_id"] == document_id])
    return document.model_dump(mode="json")


def _jsonable(body: dict[str, list[dict[str, object]]]) -> dict[str, object]:
    rows = []
    for row in body["outcomes"]:
        rows.append({k: (v.isoformat() if isinstance(v, pd.Timestamp) else v)
                     for k, v in row.items()})  # fmt: skip
    return {"outcomes": rows}


def _served_equal_recomputed(home: Path, world: object, exported: Path) -> None:
    """The vectors the service served equal the batch features of the exported dataset."""
    client = registry.connect(home / "models", create=False)
    champion = registry.require(client, DEFAULT_MODEL_NAME, "champion", "")
    model = registry.load_model(champion)
    served = pd.read_parquet(exported / SERVED)
    assert len(served) > 0
    data = load_world(exported)
    features = build_features(data.documents, model.stats, data.firms, data.outcomes)
    keys = pd.MultiIndex.from_frame(data.documents[["document_id", "item_no"]])
    rows = keys.get_indexer(pd.MultiIndex.from_frame(served[["document_id", "item_no"]]))
    recomputed = features.to_numpy()[rows]
    np.testing.assert_allclose(np.vstack(served["features"]), recomputed, rtol=1e-9,
                               equal_nan=True)  # fmt: skip
