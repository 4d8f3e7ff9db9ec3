"""HS category features: what the goods are and how high they sit on the CHPL."""

from __future__ import annotations

from functools import cache

import numpy as np

from riskscore.features.aggregates import Aggregation
from riskscore.features.catalogue import Spec
from riskscore.features.columns import Columns, isin, lookup
from riskscore.features.inputs import Inputs
from riskscore.features.stats import FeatureStats
from riskscore.reference import CHPL_TIERS, chpl_tiers, hs_catalogue

_DOC = "this line"
SPECS: tuple[Spec, ...] = (
    Spec("hs_chapter_code", "product", "HS chapter of the goods (first two digits)", "category", _DOC, True, "chapter"),
    Spec("hs_heading_code", "product", "HS heading of the goods (first four digits)", "category", _DOC, True, "hs4"),
    Spec("hs6_code", "product", "HS subheading of the goods (first six digits)", "category", _DOC, True, "hs6"),
    Spec("chpl_flag", "product", "The goods are on the Common High Priority List of items Russia seeks for weapons", "0/1", _DOC),
    Spec("chpl_tier_rank", "product", "CHPL tier of the goods: 1 integrated circuits ... 6 CNC machine tools (empty when not CHPL)", "rank 1-6", _DOC),
    Spec("near_chpl_flag", "product", "The HS code is a neighbour of a CHPL code, the kind used to misclassify CHPL goods", "0/1", _DOC),
)  # fmt: skip


@cache
def neighbour_codes() -> frozenset[str]:
    catalogue = hs_catalogue()
    return frozenset(catalogue.loc[catalogue["neighbour_of_chpl"] != "", "hs6"])


def chpl_tier_rank(hs6: np.ndarray) -> np.ndarray:
    """Ordinal CHPL tier (1 = tier 1 ... 6 = tier 4.B); NaN when the code is not on the list.

    >>> chpl_tier_rank(np.array(["854231", "845710", "010121"], dtype=object)).tolist()
    [1.0, 6.0, nan]
    """
    return lookup(hs6, _tier_ranks())


@cache
def _tier_ranks() -> dict[str, float]:
    rank = {tier: float(i) for i, tier in enumerate(CHPL_TIERS, start=1)}
    return {hs6: rank[tier] for hs6, tier in chpl_tiers().items()}


AGGREGATIONS: tuple[Aggregation, ...] = ()  # nothing about the past


def compute(inputs: Inputs, stats: FeatureStats) -> Columns:
    """The product features of every line."""
    lines = inputs.rows
    hs6 = lines["hs6"]
    tier = chpl_tier_rank(hs6)
    return stats.encode_all(SPECS, lines) | {
        "chpl_flag": (~np.isnan(tier)).astype(float),
        "chpl_tier_rank": tier,
        "near_chpl_flag": isin(hs6, neighbour_codes()).astype(float),
    }
