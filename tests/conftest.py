"""Shared fixtures: small generated worlds, built once per test session."""

from __future__ import annotations

from pathlib import Path

import pytest

from riskscore.data import load_world
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
