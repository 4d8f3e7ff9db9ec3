"""A served app over the small world's history, with the small world's model."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from riskscore.config import Settings
from riskscore.data import World, load_world
from riskscore.features.state import OnlineState, load_history
from riskscore.model import RiskModel
from riskscore.service import create_app
from riskscore.training.pipeline import TrainingResult

CUT = pd.Timestamp("2024-06-03", tz="UTC")
HEADER = ("document_id", "doc_type", "flow", "procedure_code", "issued_at", "office",
          "declarant_id", "consignor_id", "consignor_country", "consignee_id",
          "consignee_country", "dispatch_country", "destination_country", "transport_mode",
          "invoice_currency")  # fmt: skip
ITEM = ("item_no", "hs_code", "description", "origin_country", "net_mass_kg", "gross_mass_kg",
        "supplementary_qty", "supplementary_unit", "value_usd", "linked_document_id",
        "linked_item_no")  # fmt: skip


def _plain(value: Any) -> Any:
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if value is None or (isinstance(value, float) and value != value):
        return None
    return value.item() if hasattr(value, "item") else value


def as_request(lines: pd.DataFrame) -> dict[str, Any]:
    """The JSON body of one document, from its flat rows."""
    head = lines.iloc[0]
    body = {c: _plain(head[c]) for c in HEADER}
    body["previous_document_ids"] = [str(x) for x in head["previous_document_ids"]]
    body["items"] = []
    for _, row in lines.sort_values("item_no").iterrows():
        item = {c: _plain(row[c]) for c in ITEM}
        if item["linked_item_no"] is not None:
            item["linked_item_no"] = int(item["linked_item_no"])
        body["items"].append(item)
    return body


@pytest.fixture(scope="session")
def world(small_world: Path) -> World:
    return load_world(small_world, with_truth=False)


@pytest.fixture(scope="session")
def model(small_training: TrainingResult) -> RiskModel:
    return small_training.model


@pytest.fixture(scope="session")
def warm_state(world: World, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A state file warmed once with the world before CUT (closed, so one complete file)."""
    path = tmp_path_factory.mktemp("state") / "state.db"
    state = OnlineState(path)
    load_history(state, world.documents, world.outcomes, world.firms, CUT)
    state.close()
    return path


@pytest.fixture
def client(warm_state: Path, model: RiskModel, tmp_path: Path) -> Iterator[TestClient]:
    """The app over a fresh copy of the warmed state."""
    shutil.copy(warm_state, tmp_path / "state.db")
    state = OnlineState(tmp_path / "state.db")
    settings = Settings(data_dir=tmp_path, models_dir=tmp_path / "models", random_share=0.0)
    with TestClient(create_app(settings, model=model, state=state)) as test_client:
        yield test_client
    state.close()
