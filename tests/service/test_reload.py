"""Model reload without a restart, against real MLflow registries (SQLite and PostgreSQL):
a new champion is checked and swapped in, a broken one refused, and requests keep being
answered while models change under load."""

from __future__ import annotations

import dataclasses
import os
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2 as httpx
import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
import uvicorn
from fastapi.testclient import TestClient
from mlflow.tracking import MlflowClient

from riskscore import registry
from riskscore.config import Settings
from riskscore.data import World
from riskscore.registry import Registered
from riskscore.service import create_app
from riskscore.service.auth import Role
from riskscore.store import SqliteStore
from riskscore.training import tracking
from riskscore.training.config import load_config
from riskscore.training.pipeline import TrainingResult

from .conftest import CUT, as_request, bearer

PG = "postgresql+psycopg://postgres@127.0.0.1:5432"


def _postgres_answers() -> bool:
    try:
        import psycopg

        psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", connect_timeout=3).close()
    except Exception:
        return False
    return True


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def tracking_uri(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A registry of its own: a SQLite file, or a PostgreSQL database made and dropped here."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('registry') / 'mlflow.db'}"
        return
    if not _postgres_answers():
        if os.environ.get("CI"):
            pytest.fail("no PostgreSQL server answers at 127.0.0.1:5432, and CI needs one")
        pytest.skip("no PostgreSQL server answers at 127.0.0.1:5432 (CI is not set)")
    import psycopg

    name = f"riskscore_test_{secrets.token_hex(4)}"
    admin = "postgresql://postgres@127.0.0.1:5432/postgres"
    with psycopg.connect(admin, autocommit=True) as db:
        db.execute(f"CREATE DATABASE {name}")
    try:
        yield f"{PG}/{name}"
    finally:
        with psycopg.connect(admin, autocommit=True) as db:
            db.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


class Versions:
    """Three registered versions: two good models that answer differently, one broken."""

    def __init__(self, client: MlflowClient, result: TrainingResult) -> None:
        config = load_config()
        self.client = client
        self.first = tracking.log_training(client, result, config, "")
        stricter = dataclasses.replace(result.model, thresholds=result.model.thresholds
                                       | {"red_score": 0.99, "yellow_score": 0.98})  # fmt: skip
        self.second = tracking.log_training(
            client, dataclasses.replace(result, model=stricter), config, ""
        )
        self.broken = tracking.log_training(
            client, dataclasses.replace(result, model=_broken(result)), config, ""
        )

    def champion(self, version: Registered) -> None:
        registry.set_alias(self.client, version, "champion")


def _broken(result: TrainingResult) -> Any:
    """The right feature list on a booster trained on three features: it cannot score."""
    rng = np.random.default_rng(0)
    booster = lgb.train({"objective": "binary", "verbose": -1, "num_threads": 1},
                        lgb.Dataset(rng.random((50, 3)), rng.integers(0, 2, 50)),
                        num_boost_round=2)  # fmt: skip
    return dataclasses.replace(result.model, booster=booster)


@pytest.fixture(scope="module")
def versions(
    tracking_uri: str, tmp_path_factory: pytest.TempPathFactory, small_training: TrainingResult
) -> Iterator[Versions]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", tracking_uri)
        client = registry.connect(tmp_path_factory.mktemp("models"))
        yield Versions(client, small_training)


@pytest.fixture
def settings(versions: Versions, tmp_path: Path) -> Settings:
    # Room for the load test's 3 clients and its reloads: this tests reload, not shedding.
    return Settings(data_dir=tmp_path, models_dir=tmp_path / "models", random_share=0.0,
                    reload_every_seconds=0, max_in_flight=16)  # fmt: skip


@pytest.fixture
def admin(store: SqliteStore) -> dict[str, str]:
    return bearer(store, "ops", Role.ADMIN, Role.SCORE)


def test_a_new_champion_is_loaded_and_a_broken_one_refused(
    versions: Versions, settings: Settings, store: SqliteStore, admin: dict[str, str]
) -> None:
    versions.champion(versions.first)
    with TestClient(create_app(settings, store=store), headers=admin) as client:
        first = client.get("/version").json()
        assert (first["model_version"], first["model_run_id"]) == (
            versions.first.version, versions.first.run_id)  # fmt: skip
        assert client.post("/v1/admin/reload").json()["outcome"] == "unchanged"

        versions.champion(versions.second)
        loaded = client.post("/v1/admin/reload").json()
        assert loaded["outcome"] == "loaded" and loaded["model_version"] == versions.second.version
        second = client.get("/version").json()
        assert second["model_version"] == versions.second.version
        assert second["model_fingerprint"] != first["model_fingerprint"]

        versions.champion(versions.broken)
        refused = client.post("/v1/admin/reload").json()
        assert refused["outcome"] == "refused" and "cannot score" in refused["detail"]
        assert client.get("/version").json() == second  # the old model stays
        again = client.post("/v1/admin/reload").json()
        assert again["outcome"] == "refused" and "refused before" in again["detail"]
        metrics = client.get("/metrics").text
        assert 'riskscore_model_reloads_total{outcome="refused"} 2.0' in metrics


def test_each_process_follows_the_alias_on_its_own(
    versions: Versions, settings: Settings, store: SqliteStore, admin: dict[str, str]
) -> None:
    versions.champion(versions.first)
    every = settings.model_copy(update={"reload_every_seconds": 0.2})
    with TestClient(create_app(every, store=store), headers=admin) as client:
        assert client.get("/version").json()["model_version"] == versions.first.version
        versions.champion(versions.second)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if client.get("/version").json()["model_version"] == versions.second.version:
                break
            time.sleep(0.1)
        assert client.get("/version").json()["model_version"] == versions.second.version


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.parametrize("tracking_uri", ["sqlite"], indirect=True)  # once: the load is ours
def test_requests_under_load_all_succeed_while_models_change(
    versions: Versions, settings: Settings, store: SqliteStore, admin: dict[str, str],
    world: World, tracking_uri: str,
) -> None:  # fmt: skip
    """Three clients score documents without pause while the alias moves four times (once to
    the broken model): every request is answered 200, by the old model or the new one."""
    versions.champion(versions.first)
    d = world.documents
    later = d[(d["issued_at"] >= CUT) & (d["issued_at"] < CUT + pd.Timedelta(days=30))]
    bodies = [as_request(lines) for _, lines in later.groupby("document_id", sort=False)]
    server = uvicorn.Server(uvicorn.Config(create_app(settings, store=store), port=_free_port(),
                                           log_level="warning"))  # fmt: skip
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.config.port}"
    deadline = time.monotonic() + 60
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    statuses: list[int] = []
    seen: list[str] = []
    reloaded = threading.Event()

    def send(part: list[dict[str, Any]]) -> None:
        after = 0
        with httpx.Client(base_url=url, headers=admin, timeout=60) as http:
            for body in part:
                response = http.post("/v1/score", json=body)
                statuses.append(response.status_code)
                if response.status_code == 200:
                    seen.append(response.json()["model_version"])
                after += reloaded.is_set()
                if after >= 20:
                    return

    senders = [threading.Thread(target=send, args=(bodies[i::3],)) for i in range(3)]
    outcomes = []
    try:
        for sender in senders:
            sender.start()
        with httpx.Client(base_url=url, headers=admin, timeout=60) as http:
            while len(statuses) < 30 and time.monotonic() < deadline + 60:
                time.sleep(0.05)
            for version in [versions.second, versions.broken, versions.first, versions.second]:
                versions.champion(version)
                reload = http.post("/v1/admin/reload")
                assert reload.status_code == 200
                outcomes.append(reload.json()["outcome"])
        reloaded.set()
        for sender in senders:
            sender.join(timeout=300)
    finally:
        reloaded.set()
        server.should_exit = True
        thread.join(timeout=30)
    assert outcomes == ["loaded", "refused", "loaded", "loaded"]
    assert len(statuses) > 90 and set(statuses) == {200}
    assert seen[0] == versions.first.version and seen[-1] == versions.second.version
