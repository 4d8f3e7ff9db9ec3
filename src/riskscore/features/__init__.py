"""Point-in-time features of document lines: one `feature_columns` for training and serving.

A feature of a line issued at t uses only documents issued before t and outcomes recorded
before t. The families are listed once, in `FAMILIES`: product (HS category), route, value
(anomalies against fitted statistics), party (counterparty history) and chain (dwell time and
the path through Kazakh firms), then extra (the dataset's own columns). Each family module
holds its `SPECS` and one `compute(inputs, stats)`; `SPECS`, `FEATURE_NAMES` and the compute
loop are derived from the tuple, so adding a family is one new module and one entry here.

`FEATURE_NAMES` are the features every model has. A model fitted on a dataset with extra
columns has those too, after them: `feature_names(stats)` is a model's whole list.

`build_features` is the frame-in, frame-out form for training and batch scoring; the service
calls `feature_columns` on the arrays of its parties' history. Both run the same families.
Pure computation: nothing here reads files, settings, storage, the registry or the clock.

May import: `riskscore.schema`, `riskscore.reference`, `riskscore.errors`.
"""

from __future__ import annotations

from typing import NamedTuple, Protocol

import numpy as np
import pandas as pd

from riskscore.features import chain, extra, party, product, route, value
from riskscore.features.aggregates import Aggregation, Past
from riskscore.features.catalogue import Spec
from riskscore.features.columns import Columns, canonical_order, columns_of, take, text
from riskscore.features.firms import Register, RegisterAnswers
from riskscore.features.history import seconds
from riskscore.features.inputs import Inputs
from riskscore.features.lines import DERIVED, prepare
from riskscore.features.stats import FeatureStats, fit_vocabularies
from riskscore.reference import HOME_COUNTRY


class Family(Protocol):
    """What a feature family module provides: its features, and what they ask of the past."""

    SPECS: tuple[Spec, ...]
    AGGREGATIONS: tuple[Aggregation, ...]

    def compute(self, inputs: Inputs, stats: FeatureStats) -> Columns: ...


FAMILIES: tuple[Family, ...] = (product, route, value, party, chain, extra)
SPECS: tuple[Spec, ...] = tuple(spec for family in FAMILIES for spec in family.SPECS)
FEATURE_NAMES: tuple[str, ...] = tuple(s.name for s in SPECS)
CATEGORICAL: tuple[str, ...] = tuple(s.name for s in SPECS if s.categorical)
AGGREGATIONS: tuple[Aggregation, ...] = tuple(a for f in FAMILIES for a in f.AGGREGATIONS)
STORED = chain.STORED


def specs_of(stats: FeatureStats) -> tuple[Spec, ...]:
    """Every spec of a model fitted with `stats`: the fixed SPECS, then its extras'."""
    return SPECS + extra.specs(stats.extras)


def feature_names(stats: FeatureStats) -> tuple[str, ...]:
    """A model's feature list: FEATURE_NAMES, then its extras' features."""
    return tuple(s.name for s in specs_of(stats))


def categorical_names(stats: FeatureStats) -> tuple[str, ...]:
    """The categorical features of a model fitted with `stats`."""
    return tuple(s.name for s in specs_of(stats) if s.categorical)


__all__ = [
    "AGGREGATIONS",
    "CATEGORICAL",
    "FAMILIES",
    "FEATURE_NAMES",
    "SPECS",
    "STORED",
    "FeatureMatrix",
    "FeatureStats",
    "Prepared",
    "Register",
    "build_features",
    "categorical_names",
    "feature_columns",
    "feature_names",
    "fit_feature_stats",
    "outcome_columns",
    "prepare_inputs",
    "specs_of",
    "trace_lots",
]


class FeatureMatrix(NamedTuple):
    """What `feature_columns` answers for the wanted rows."""

    matrix: np.ndarray  # one row per wanted line, columns in FEATURE_NAMES order
    stored: Columns  # what the state keeps per line (STORED), and online the chain's MOVES


class Prepared(NamedTuple):
    """What the families read, and how the caller's rows were reordered to get it."""

    inputs: Inputs
    order: np.ndarray  # row k of the inputs' lines is row order[k] of the caller's columns


def fit_feature_stats(
    train_documents: pd.DataFrame,
    home_country: str = HOME_COUNTRY,
    extras: dict[str, str] | None = None,
) -> FeatureStats:
    """Learn vocabularies and value statistics from the training window's documents, for a
    dataset of `home_country` with `extras` (name -> "numeric" or "categorical")."""
    cols = columns_of(train_documents)
    lines = cols | prepare(cols)
    unit_value, kg_per_unit = value.fit_value_cells(lines)
    extras = dict(extras or {})
    specs = SPECS + extra.specs(extras)
    vocabularies = fit_vocabularies(specs, lines)
    return FeatureStats(vocabularies, unit_value, kg_per_unit, home_country, extras)


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
    """Every feature of every line, as float64 columns in `feature_names(stats)` order, same
    index.

    History features see the documents and outcomes passed in, so give the full history up to
    the lines you need, not just those lines. Categoricals are vocabulary codes (NaN unseen).
    """
    matrix, _ = feature_columns(
        columns_of(documents),
        stats,
        None if firms is None else Register(firms),
        None if outcomes is None else outcome_columns(outcomes),
    )
    # No copy: the matrix is the transpose of the block pandas would copy it into (138 MB at demo
    # size), and nothing else holds it.
    return pd.DataFrame(matrix, columns=list(feature_names(stats)), index=documents.index,
                        copy=False)  # fmt: skip


def feature_columns(
    cols: Columns,
    stats: FeatureStats,
    register: RegisterAnswers | None,
    outcomes: Columns | None,
    wanted: np.ndarray | None = None,
    past: Past | None = None,
) -> FeatureMatrix:
    """The features and STORED columns of the `wanted` rows of `cols` (indices, in the order
    given; None: every row, as given).

    Every line is history for the others; the features are computed for the wanted rows only.
    The lines are put in canonical order first, (t, document_id, item_no), so every sum adds
    the same numbers in the same order whichever way the caller gathered them. With `past`
    (the online state's answers for one document) `cols` are that document's lines and the
    history comes from `past` instead.
    """
    inputs, order = prepare_inputs(cols, register, outcomes, wanted, past,
                                   home=stats.home_country)  # fmt: skip
    every: Columns = {}
    for family in FAMILIES:
        every.update(family.compute(inputs, stats))
    # The sorted lines and the per-key answers cached on the inputs are not read again: freed
    # before the matrix is built (~165 MB of arrays on the demo world).
    del inputs
    features = [every[name] for name in feature_names(stats)]
    stored = {name: every[name] for name in (*STORED, *chain.MOVES) if name in every}
    if wanted is not None:
        return FeatureMatrix(np.column_stack(features), stored)
    return FeatureMatrix(_unsorted_matrix(features, order), _unsorted(stored, order))


def prepare_inputs(
    cols: Columns,
    register: RegisterAnswers | None = None,
    outcomes: Columns | None = None,
    wanted: np.ndarray | None = None,
    past: Past | None = None,
    text_keys: bool = False,
    home: str = HOME_COUNTRY,
) -> Prepared:
    """The lines in canonical order (issue second, document_id, item_no) with
    `lines.prepare`'s columns, the register, the outcomes and the wanted rows' positions
    (`text_keys`: keys as the online state keeps them, `Inputs.key`; `home`: the dataset's
    home country)."""
    order = canonical_order(cols)
    in_order = bool((order[1:] > order[:-1]).all())  # the service's history comes sorted
    lines = cols if in_order else take(cols, order)
    if not set(DERIVED) <= lines.keys():  # the service's history comes prepared
        lines = lines | prepare(lines)
    if wanted is not None:
        position = np.empty(len(order), dtype=np.int64)
        position[order] = np.arange(len(order))
        wanted = position[wanted]
    inputs = Inputs(lines, register, outcomes, wanted, past, text_keys, home)
    return Prepared(inputs, order)


def trace_lots(documents: pd.DataFrame, home_country: str = HOME_COUNTRY) -> pd.DataFrame:
    """What the state stores per line (STORED: the lot each bought line became and the dwell of
    what each line sold), traced over `documents` in time order."""
    inputs, order = prepare_inputs(columns_of(documents), home=home_country)
    traced = chain.trace(inputs.lines, home=home_country).columns
    lots = {name: traced[name] for name in STORED}
    return pd.DataFrame(_unsorted(lots, order), index=documents.index)


def _unsorted_matrix(sorted_columns: list[np.ndarray], order: np.ndarray) -> np.ndarray:
    """`np.column_stack(sorted_columns)` with its rows put back in the original order, written
    column by column into one matrix: no sorted matrix beside it (138 MB at demo size). It is
    the transpose of a C-ordered (columns x rows) block, the layout pandas keeps a frame's
    columns in, so `build_features` wraps it without a copy."""
    block = np.empty((len(sorted_columns), len(order)), dtype=np.result_type(*sorted_columns))
    for j, values in enumerate(sorted_columns):
        block[j, order] = values
    return block.T


def _unsorted(sorted_cols: Columns, order: np.ndarray) -> Columns:
    """Arrays computed on rows taken in `order`, put back in the rows' original order."""
    out = {}
    for name, values in sorted_cols.items():
        out[name] = np.empty_like(values)
        out[name][order] = values
    return out
