"""Point-in-time features of document lines: one `feature_columns` for training and serving.

A feature of a line issued at t uses only documents issued before t and outcomes recorded
before t. Families: product (HS category), route, value (anomalies against fitted statistics),
party (counterparty history) and chain (dwell time and the path through Kazakh firms).
`build_features` is the frame-in, frame-out form for training and batch scoring; the service
calls `feature_columns` on the arrays of its in-memory history. Both run the same families.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from riskscore.features import chain, party, product, route, value
from riskscore.features.catalogue import Spec
from riskscore.features.columns import Columns, canonical_order, columns_of, take, text
from riskscore.features.history import seconds
from riskscore.features.inputs import Inputs
from riskscore.features.lines import DERIVED, prepare
from riskscore.features.register import Register
from riskscore.features.stats import FeatureStats, fit_vocabularies

SPECS: tuple[Spec, ...] = (
    *product.SPECS, *route.SPECS, *value.SPECS, *party.SPECS, *chain.SPECS,
)  # fmt: skip
FEATURE_NAMES: tuple[str, ...] = tuple(s.name for s in SPECS)
CATEGORICAL: tuple[str, ...] = tuple(s.name for s in SPECS if s.categorical)
LOT_COLUMNS = chain.LOT_COLUMNS
STORED = chain.STORED

__all__ = [
    "CATEGORICAL",
    "FEATURE_NAMES",
    "LOT_COLUMNS",
    "SPECS",
    "STORED",
    "FeatureStats",
    "Register",
    "build_features",
    "build_features_with_lots",
    "feature_columns",
    "fit_feature_stats",
    "outcome_columns",
    "prepare_inputs",
    "trace_lots",
]


def fit_feature_stats(train_documents: pd.DataFrame) -> FeatureStats:
    """Learn vocabularies and value statistics from the training window's documents."""
    cols = columns_of(train_documents)
    lines = cols | prepare(cols)
    unit_value, kg_per_unit = value.fit_value_cells(lines)
    return FeatureStats(fit_vocabularies(lines), unit_value, kg_per_unit)


def outcome_columns(outcomes: pd.DataFrame) -> Columns:
    """The outcome columns the features read: document, when recorded (s), violation found."""
    return {
        "document_id": text(outcomes["document_id"]),
        "recorded": seconds(outcomes["recorded_at"]),
        "violation_found": outcomes["violation_found"].to_numpy(dtype=bool),
    }


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
    """`build_features`, and the lot each bought line became (`LOT_COLUMNS`).

    The online state stores the lots so that a firm's stock can later be rebuilt from the
    firm's own history; documents carrying stored LOT_COLUMNS reuse them.
    """
    matrix, lots = feature_columns(
        columns_of(documents),
        stats,
        None if firms is None else Register(firms),
        None if outcomes is None else outcome_columns(outcomes),
    )
    index = documents.index
    return pd.DataFrame(matrix, columns=list(FEATURE_NAMES), index=index), pd.DataFrame(
        lots, index=index
    )


def feature_columns(
    cols: Columns,
    stats: FeatureStats,
    register: Register | None,
    outcomes: Columns | None,
    wanted: np.ndarray | None = None,
) -> tuple[np.ndarray, Columns]:
    """The feature matrix (columns in FEATURE_NAMES order) and the lots of the `wanted` rows
    of `cols` (indices, in the order given; None: every row, as given).

    Every line is history for the others; the features are computed for the wanted rows only.
    The lines are put in canonical order first, (t, document_id, item_no), so every sum adds
    the same numbers in the same order whichever way the caller gathered them.
    """
    inputs, order = prepare_inputs(cols, register, outcomes, wanted)
    every: Columns = {}
    for family in (
        product.compute(inputs, stats),
        route.compute(inputs, stats),
        value.compute(inputs, stats),
        party.compute(inputs),
        chain.compute(inputs),
    ):
        every.update(family)
    stacked = np.column_stack([every[name] for name in FEATURE_NAMES])
    lots = {name: every[name] for name in STORED}
    if wanted is not None:
        return stacked, lots
    return _unsorted({"matrix": stacked}, order)["matrix"], _unsorted(lots, order)


def prepare_inputs(
    cols: Columns,
    register: Register | None = None,
    outcomes: Columns | None = None,
    wanted: np.ndarray | None = None,
) -> tuple[Inputs, np.ndarray]:
    """What the families read: the lines in canonical order with `lines.prepare`'s columns;
    and that order (row k of the inputs is row order[k] of `cols`).

    Canonical order is (issue second, document_id, item_no).
    """
    order = canonical_order(cols)
    in_order = bool((order[1:] > order[:-1]).all())  # the service's history comes sorted
    lines = cols if in_order else take(cols, order)
    if not set(DERIVED) <= lines.keys():  # the service's history comes prepared
        lines = lines | prepare(lines)
    if wanted is not None:
        position = np.empty(len(order), dtype=np.int64)
        position[order] = np.arange(len(order))
        wanted = position[wanted]
    return Inputs(lines, register, outcomes, wanted), order


def trace_lots(documents: pd.DataFrame) -> pd.DataFrame:
    """What the state stores per line (STORED: the lot each bought line became and the dwell of
    what each line sold), traced over `documents` in time order."""
    inputs, order = prepare_inputs(columns_of(documents))
    traced = chain.trace(inputs.lines)
    lots = {name: traced[name] for name in STORED}
    return pd.DataFrame(_unsorted(lots, order), index=documents.index)


def _unsorted(sorted_cols: Columns, order: np.ndarray) -> Columns:
    """Arrays computed on rows taken in `order`, put back in the rows' original order."""
    out = {}
    for name, values in sorted_cols.items():
        out[name] = np.empty_like(values)
        out[name][order] = values
    return out
