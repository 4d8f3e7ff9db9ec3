"""Scale check, kept out of `make test` (run it with `make test-slow`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from riskscore.data import load_world, validate
from riskscore.synthetic import WorldConfig, generate
from riskscore.synthetic.profile import profile


@pytest.mark.slow
def test_a_million_line_world_is_valid_and_keeps_its_proportions(tmp_path: Path) -> None:
    counts = generate(WorldConfig(firms=10_000, seed=5), tmp_path / "w", workers=2)
    assert counts["documents"] > 1_000_000
    report = validate(tmp_path / "w")
    assert report.ok, [str(p) for p in report.problems[:5]]
    figures = profile(load_world(tmp_path / "w", check=False))
    assert 0.005 <= figures["evasion share of lines"] <= 0.03
    assert 0.007 <= figures["documents inspected at random"] <= 0.013
