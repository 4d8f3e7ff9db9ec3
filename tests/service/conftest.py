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
from riskscore.model import RiskModel
from riskscore.schema import document_from_rows
from riskscore.service import create_app
from riskscore.service.auth import Role, new_key
from riskscore.store import SqliteStore, Store, load_history
from riskscore.training.pipeline import TrainingResult

CUT = pd.Timestamp("2024-06-03", tz="UTC")


def as_request(lines: pd.DataFrame) -> dict[str, Any]:
    """The JSON body of one document, from its flat rows."""
    return document_from_rows(lines).model_dump(mode="json")


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
    store = SqliteStore(path)
    load_history(store, world.documents, world.outcomes, world.firms, CUT)
    store.close()
    return path


@pytest.fixture
def store(warm_state: Path, tmp_path: Path) -> Iterator[SqliteStore]:
    """A fresh copy of the warmed state."""
    shutil.copy(warm_state, tmp_path / "state.db")
    opened = SqliteStore(tmp_path / "state.db")
    yield opened
    opened.close()


def bearer(store: Store, caller: str, *roles: Role) -> dict[str, str]:
    """The Authorization header of a new key of `caller` with `roles`, stored in `store`."""
    made = new_key(caller, list(roles))
    store.add_key(made.record)
    return {"Authorization": f"Bearer {made.key}"}


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path, models_dir=tmp_path / "models", random_share=0.0)


@pytest.fixture
def client(store: SqliteStore, model: RiskModel, settings: Settings) -> Iterator[TestClient]:
    """The app over the `store`, called by a system with every role but admin."""
    headers = bearer(store, "customs-test", Role.SCORE, Role.OUTCOMES, Role.REGISTER, Role.READ)
    app = create_app(settings, model=model, store=store)
    with TestClient(app, headers=headers) as test_client:
        yield test_client
