"""Benchmark of `build_features`: rows per second per family, at demo size or at scale.

    python -m riskscore.bench.features --data data/world
    python -m riskscore.bench.features --firms 83000   # generates ~10M lines first

Times each family separately and the whole `build_features`, and prints peak memory.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from riskscore.data import World, load_world
from riskscore.features import (
    FAMILIES,
    Register,
    build_features,
    fit_feature_stats,
    outcome_columns,
    prepare_inputs,
)
from riskscore.features.columns import columns_of
from riskscore.features.stats import FeatureStats
from riskscore.synthetic import WorldConfig, generate
from riskscore.training.config import load_config
from riskscore.training.split import window_masks  # not .train: no LightGBM to import


def _timed(step: Callable[[], object]) -> float:
    began = time.perf_counter()
    step()
    return time.perf_counter() - began


def _report(name: str, seconds: float, rows: int) -> None:
    print(f"{name:<22} {seconds:>8.2f} {rows / seconds:>12,.0f}", flush=True)


def _families(d: pd.DataFrame, stats: FeatureStats, world: World) -> None:
    """Each family on its own; the inputs are freed on return (the whole build needs memory)."""
    register = None if world.firms is None else Register(world.firms)
    outcomes = None if world.outcomes is None else outcome_columns(world.outcomes)
    cols = columns_of(d)
    inputs, _ = prepare_inputs(cols, register, outcomes)
    steps: dict[str, Callable[[], object]] = {
        "columns": lambda: columns_of(d),
        "prepare (sort)": lambda: prepare_inputs(cols, register, outcomes),
    }
    for family in FAMILIES:
        name = family.__name__.rsplit(".", 1)[-1]  # type: ignore[attr-defined]
        steps[name] = lambda family=family: family.compute(inputs, stats)  # type: ignore[misc]
    for name, step in steps.items():
        _report(name, _timed(step), len(d))


def bench(directory: Path) -> None:
    world = load_world(directory, check=False, with_truth=False)
    d = world.documents
    stats = fit_feature_stats(d[window_masks(d, load_config().split)["train"]])  # the default
    print(f"{len(d):,} lines")
    print(f"{'step':<22} {'seconds':>8} {'lines/s':>12}")
    _families(d, stats, world)
    seconds = _timed(lambda: build_features(d, stats, world.firms, world.outcomes))
    _report("build_features (all)", seconds, len(d))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory {peak:,.0f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, help="an existing dataset folder")
    parser.add_argument("--firms", type=int, default=2_500, help="generate a world of this size")
    args = parser.parse_args()
    if args.data:
        bench(args.data)
        return
    with tempfile.TemporaryDirectory() as tmp:
        generate(WorldConfig(firms=args.firms), Path(tmp) / "world", workers=2)
        bench(Path(tmp) / "world")


if __name__ == "__main__":
    main()
