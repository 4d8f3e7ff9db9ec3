"""Value features: how a declared price and weight compare with what is usual for the goods.

The medians and MADs come from the training window (`fit_value_cells`) and are passed in, so
the service scores with exactly the statistics training saw.
"""

from __future__ import annotations

import numpy as np

from riskscore.features.aggregates import Aggregation
from riskscore.features.catalogue import Spec
from riskscore.features.columns import Columns, positive
from riskscore.features.inputs import Inputs
from riskscore.features.stats import FeatureStats, RobustCells, fit_robust_cells

_DOC = "this line"
_FITTED = "this line vs the training window"
SPECS: tuple[Spec, ...] = (
    Spec("value_usd", "value", "Statistical value of the line", "USD", _DOC),
    Spec("unit_value_usd", "value", "Value per unit of quantity (per kg when no unit is declared)", "USD per unit", _DOC),
    Spec("usd_per_kg", "value", "Value density: value per kilogram of net mass", "USD/kg", _DOC),
    Spec("unit_value_robust_z", "value", "How far the unit value sits from the usual price of these goods from this origin (robust z-score; negative = cheap)", "z", _FITTED),
    Spec("kg_per_unit_robust_z", "value", "How far the weight per unit sits from the usual weight of these goods (robust z-score)", "z", _FITTED),
    Spec("net_to_gross_ratio", "value", "Net mass over gross mass (packaging share)", "ratio", _DOC),
    Spec("document_value_usd", "value", "Total value of the document", "USD", "this document"),
    Spec("document_item_count", "value", "Number of item lines in the document", "lines", "this document"),
)  # fmt: skip
UNIT_VALUE_LEVELS: list[tuple[str, ...]] = [("hs6", "origin_country"), ("hs6",), ("hs4",)]
KG_PER_UNIT_LEVELS: list[tuple[str, ...]] = [("hs6",), ("hs4",)]


def log_unit_value(lines: Columns) -> np.ndarray:
    """Natural log of the unit value; NaN when it is not positive."""
    return np.asarray(np.log(positive(lines["unit_value"])), dtype=float)


def log_kg_per_unit(lines: Columns) -> np.ndarray:
    """Natural log of net kg per supplementary unit; NaN without a supplementary quantity."""
    kg_per_unit = positive(lines["net_mass_kg"]) / positive(lines["supplementary_qty"])
    return np.asarray(np.log(kg_per_unit), dtype=float)


def fit_value_cells(train_lines: Columns) -> tuple[RobustCells, RobustCells]:
    """Robust cells of log unit value (hs6 x origin -> hs6 -> hs4) and log kg per unit."""
    return (
        fit_robust_cells(train_lines, log_unit_value(train_lines), UNIT_VALUE_LEVELS),
        fit_robust_cells(train_lines, log_kg_per_unit(train_lines), KG_PER_UNIT_LEVELS),
    )


AGGREGATIONS: tuple[Aggregation, ...] = ()  # the document's own lines only


def compute(inputs: Inputs, stats: FeatureStats) -> Columns:
    """The value features of every line (lines of a document are adjacent: `Inputs`)."""
    lines = inputs.rows
    kg = positive(lines["net_mass_kg"])
    value = lines["value_usd"]
    every = inputs.lines["value_usd"]
    starts = inputs.document_starts
    sizes = np.diff(np.append(starts, len(every)))
    return {
        "value_usd": value.astype(float),
        "unit_value_usd": lines["unit_value"],
        "usd_per_kg": value / kg,
        "unit_value_robust_z": stats.unit_value.z(lines, log_unit_value(lines)),
        "kg_per_unit_robust_z": stats.kg_per_unit.z(lines, log_kg_per_unit(lines)),
        "net_to_gross_ratio": kg / positive(lines["gross_mass_kg"]),
        "document_value_usd": inputs.at(np.repeat(document_sums(every, starts), sizes)),
        "document_item_count": inputs.at(np.repeat(sizes, sizes).astype(float)),
    }


def document_sums(value: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Sum of the values of each document's lines, missing values counting as zero."""
    if not len(value):
        return np.zeros(0)
    sums: np.ndarray = np.add.reduceat(np.nan_to_num(value), starts)
    return sums
