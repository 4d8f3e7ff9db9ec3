"""Shared fixtures: small generated worlds, built once per test session."""

from __future__ import annotations

import importlib.util
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from riskscore.data import load_world
from riskscore.data.ingest import ingest
from riskscore.data.mapping import load_mapping
from riskscore.synthetic import WorldConfig, generate, legacy_rules
from riskscore.training.config import load_config
from riskscore.training.pipeline import Baselines, TrainingResult, train_model

# Big enough for stable proportions (about 140,000 lines), small enough for seconds.
SMALL = WorldConfig(seed=11, firms=1_200, firms_per_chunk=600)
TINY = WorldConfig(seed=3, firms=150, firms_per_chunk=75)


@pytest.fixture(scope="session")
def small_world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("small") / "world"
    generate(SMALL, out, workers=2)
    return out


@pytest.fixture(scope="session")
def tiny_world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("tiny") / "world"
    generate(TINY, out, workers=1)
    return out


@pytest.fixture(scope="session")
def small_training(small_world: Path) -> TrainingResult:
    """One training run on the small world, shared by the training and service tests."""
    world = load_world(small_world)
    baselines = Baselines(truth=world.truth, legacy_rules=legacy_rules)
    return train_model(world.without_truth(), load_config(), baselines, git_commit="abc123")


POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"


class PostgresSchemas:
    """Schemas of one test database on the PostgreSQL server every machine of the project
    runs (127.0.0.1:5432, trust auth); each test's stores get schemas of their own, dropped
    at the end of the session."""

    def __init__(self) -> None:
        self.made: list[str] = []

    def url(self, name: str) -> str:
        """A state URL whose tables go into a fresh schema called after `name`."""
        import psycopg

        schema = "rs_" + "".join(c if c.isalnum() else "_" for c in name.lower())[:50]
        with psycopg.connect(POSTGRES, autocommit=True) as connection:
            connection.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
            connection.execute(f"CREATE SCHEMA {schema}")
        self.made.append(schema)
        return f"{POSTGRES}?options=-csearch_path%3D{schema}"

    def drop(self) -> None:
        import psycopg

        with psycopg.connect(POSTGRES, autocommit=True) as connection:
            for schema in self.made:
                connection.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresSchemas]:
    """The test database on the local PostgreSQL server. Where none answers, tests that need
    it are skipped with the reason, except in CI (the `CI` variable set), where they fail."""
    import psycopg

    try:
        psycopg.connect(POSTGRES, connect_timeout=3).close()
    except psycopg.OperationalError as error:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"no PostgreSQL server answers at 127.0.0.1:5432 ({type(error).__name__})")
    schemas = PostgresSchemas()
    yield schemas
    schemas.drop()


FOREIGN = Path(__file__).parents[1] / "docs" / "examples" / "foreign"


def foreign_builder() -> ModuleType:
    """The example's builder script (docs/examples/foreign/build.py), imported as a module."""
    spec = importlib.util.spec_from_file_location("foreign_build", FOREIGN / "build.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def foreign_files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small version of the foreign example: its CSV, rates and committed mapping."""
    folder = tmp_path_factory.mktemp("foreign")
    builder = foreign_builder()
    builder.build(6_000, seed=5).to_csv(folder / "declarations.csv", sep=";", index=False)
    builder.rates().to_csv(folder / "rates.csv", index=False)
    shutil.copy(FOREIGN / "mapping.toml", folder / "mapping.toml")
    return folder


@pytest.fixture(scope="session")
def foreign_dataset(foreign_files: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The small foreign example ingested with its committed mapping."""
    out = tmp_path_factory.mktemp("foreign-dataset") / "kg"
    mapping = load_mapping(foreign_files / "mapping.toml")
    ingest([foreign_files / "declarations.csv"], mapping, out)
    return out
