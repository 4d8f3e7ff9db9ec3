"""Point-in-time features of document lines: one `build_features` for training and serving.

A feature of a line issued at t uses only documents issued before t and outcomes recorded
before t. Families: product (HS category), route, value (anomalies against fitted statistics),
party (counterparty history) and chain (dwell time and the path through Kazakh firms).
"""

from __future__ import annotations

import pandas as pd

from riskscore.features import chain, party, product, route, value
from riskscore.features.catalogue import Spec
from riskscore.features.inputs import Inputs
from riskscore.features.lines import prepare
from riskscore.features.stats import FeatureStats, fit_vocabularies

SPECS: tuple[Spec, ...] = (
    *product.SPECS, *route.SPECS, *value.SPECS, *party.SPECS, *chain.SPECS,
)  # fmt: skip
FEATURE_NAMES: tuple[str, ...] = tuple(s.name for s in SPECS)
CATEGORICAL: tuple[str, ...] = tuple(s.name for s in SPECS if s.categorical)

__all__ = [
    "CATEGORICAL",
    "FEATURE_NAMES",
    "SPECS",
    "FeatureStats",
    "build_features",
    "build_features_with_lots",
    "fit_feature_stats",
    "with_derived_columns",
]


def with_derived_columns(documents: pd.DataFrame) -> pd.DataFrame:
    """The documents with the derived columns every family reads (`lines.prepare`)."""
    return pd.concat([documents, prepare(documents)], axis=1)


def fit_feature_stats(train_documents: pd.DataFrame) -> FeatureStats:
    """Learn vocabularies and value statistics from the training window's documents."""
    lines = with_derived_columns(train_documents)
    unit_value, kg_per_unit = value.fit_value_cells(lines)
    return FeatureStats(fit_vocabularies(lines), unit_value, kg_per_unit)


def build_features(
    documents: pd.DataFrame,
    stats: FeatureStats,
    firms: pd.DataFrame | None = None,
    outcomes: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Every feature of every line, as float64 columns in FEATURE_NAMES order, same index.

    History features see the documents and outcomes passed in, so give the full history up to
    the lines you need, not just those lines. Categoricals are vocabulary codes (NaN unseen).
    """
    return build_features_with_lots(documents, stats, firms, outcomes)[0]


def build_features_with_lots(
    documents: pd.DataFrame,
    stats: FeatureStats,
    firms: pd.DataFrame | None = None,
    outcomes: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """`build_features`, and the lot each bought line became (`chain.LOT_COLUMNS`).

    The online state stores the lots so that a firm's stock can later be rebuilt from the
    firm's own history; documents carrying stored LOT_COLUMNS reuse them.
    """
    inputs = Inputs(with_derived_columns(documents), firms, outcomes)
    frames = [
        product.compute(inputs, stats),
        route.compute(inputs, stats),
        value.compute(inputs, stats),
        party.compute(inputs),
        chain.compute(inputs),
    ]
    every = pd.concat(frames, axis=1)
    return every[list(FEATURE_NAMES)].astype("float64"), every[list(chain.LOT_COLUMNS)]
