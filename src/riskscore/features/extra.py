"""Extra features: the dataset's own columns (tax rate, import type, ...), as the user declared
them.

Unlike the other families, the specs are not fixed by the code: they come from the dataset a
model is fitted on (`FeatureStats.extras`, name -> "numeric" or "categorical") and travel with
the model. A numeric extra is its value; a categorical one the code of its value in a
vocabulary frozen at fit time (unseen or missing: NaN). Extras describe the line itself, so
they read no history.
"""

from __future__ import annotations

import numpy as np

from riskscore.features.aggregates import Aggregation
from riskscore.features.catalogue import Spec
from riskscore.features.columns import Columns
from riskscore.features.inputs import Inputs
from riskscore.features.stats import FeatureStats
from riskscore.schema import EXTRA_PREFIX

SPECS: tuple[Spec, ...] = ()  # none fixed: see `specs`
AGGREGATIONS: tuple[Aggregation, ...] = ()  # the line's own columns only
FEATURE_PREFIX = "extra_"


def feature_name(extra: str) -> str:
    """The feature an extra column becomes.

    >>> feature_name("tax_rate")
    'extra_tax_rate'
    """
    return FEATURE_PREFIX + extra


def specs(extras: dict[str, str]) -> tuple[Spec, ...]:
    """The specs of a dataset's extras (name -> "numeric" or "categorical"), in their order."""
    return tuple(
        Spec(
            feature_name(name),
            "extra",
            f"Extra column {name} of the dataset ({kind})",
            "category" if kind == "categorical" else "as given",
            "this line",
            kind == "categorical",
            EXTRA_PREFIX + name if kind == "categorical" else None,
        )
        for name, kind in extras.items()
    )


def compute(inputs: Inputs, stats: FeatureStats) -> Columns:
    """The extra features of the wanted lines (NaN where a line lacks the column)."""
    rows = inputs.rows
    count = len(rows["t"])
    out: Columns = {}
    for spec in specs(stats.extras):
        column = EXTRA_PREFIX + spec.name.removeprefix(FEATURE_PREFIX)
        if column not in rows:
            out[spec.name] = np.full(count, np.nan)
        elif spec.categorical:
            out[spec.name] = stats.encode(spec.name, rows[column])
        else:
            out[spec.name] = np.asarray(rows[column], dtype=float)
    return out
