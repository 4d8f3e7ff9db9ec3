"""The feature catalogue: every feature's name, family, meaning in plain words, unit, horizon.

Each family module declares its `SPECS`; `FEATURE_NAMES` is their order. `features/catalogue.md`
and `features/sets/default.json` are written from here by `riskscore catalogue` and a
test checks that the committed files match, so they never go stale. The report and the service's
reasons take their sentences from `Spec.meaning`.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Spec:
    """What one feature is, in words a customs officer reads."""

    name: str
    family: str
    meaning: str
    unit: str
    lookback: str  # how far back it looks: "this document", "all history before t", "365 days"
    categorical: bool = False
    # The line column a categorical is encoded from through a vocabulary frozen at fit time
    # (`FeatureStats.encode`); None for numbers and for fixed codes such as country groups.
    vocabulary: str | None = None


def render_markdown(specs: tuple[Spec, ...]) -> str:
    """The catalogue as a Markdown table, grouped by family."""
    lines = [
        "# Feature catalogue",
        "",
        "Generated from `src/riskscore/features/` by `riskscore catalogue`; do not edit.",
        "Every history feature of a document issued at *t* uses only documents issued before *t*",
        "and inspection outcomes recorded before *t*.",
        "",
        "A model fitted on a dataset with extra columns (`dataset.toml`) has one more feature per",
        "extra after these, `extra_<name>` (family extra): the column's value, or its code in a",
        "vocabulary frozen at fit time for a categorical one.",
        "",
        "| # | feature | family | meaning | unit | looks back |",
        "|---|---|---|---|---|---|",
    ]
    for i, s in enumerate(specs, start=1):
        kind = " (categorical)" if s.categorical else ""
        lines.append(
            f"| {i} | `{s.name}` | {s.family} | {s.meaning} | {s.unit}{kind} | {s.lookback} |"
        )
    return "\n".join(lines) + "\n"


def render_manifest(specs: tuple[Spec, ...]) -> str:
    """The ordered feature set as JSON (the model's input contract)."""
    return json.dumps({"features": [asdict(s) for s in specs]}, indent=2) + "\n"
