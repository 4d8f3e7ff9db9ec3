"""Shared fixtures: small generated worlds, built once per test session."""

from __future__ import annotations

import importlib.util
import shutil
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
