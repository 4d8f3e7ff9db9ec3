"""Goods and routes: what each kind of firm trades, where it comes from, what it costs.

The HS catalogue (`riskscore.reference.hs_catalogue`) gives each HS-10 code a typical unit
value, its spread and kg per unit; here it becomes arrays indexed by catalogue row, so that the
chain engine picks goods and prices them without pandas in its inner loop.
"""

from __future__ import annotations

import bisect
import functools
import itertools
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from riskscore.synthetic.parties import Firm

ELECTRONIC_CATEGORIES = frozenset({"electronics", "telecom", "components", "computers"})
COALITION_BRANDS = {"US": 0.3, "JP": 0.15, "TW": 0.15, "DE": 0.12, "KR": 0.1, "NL": 0.08, "GB": 0.1}
HUBS = {"HK": 0.3, "AE": 0.25, "TR": 0.2, "CN": 0.2, "SG": 0.05}

# kind -> category weights of the firm's portfolio.
PORTFOLIO_MIX: dict[str, dict[str, float]] = {
    "manufacturer": {"chemicals": 3, "machinery": 3, "metals": 2, "plastics": 2, "bearings": 1},
    "electronics_distributor": {"components": 4, "telecom": 3, "computers": 3, "electronics": 3},
    "machinery_distributor": {
        "machinery": 4,
        "machine_tools": 2,
        "bearings": 2,
        "vehicle_parts": 2,
        "optics_instruments": 1,
    },
    "retailer": {"consumer_goods": 3, "electronics": 3, "textiles": 2, "footwear": 1, "food": 2},
    "wholesaler": {"food": 4, "beverages": 2, "chemicals": 1, "oil_products": 1, "paper": 1},
    "end_user": {"construction": 3, "computers": 1, "furniture": 1, "vehicles": 1},
    "mining_oil": {"machinery": 3, "machine_tools": 2, "vehicles": 1, "chemicals": 1},
    "forwarder": {"consumer_goods": 2, "electronics": 2, "machinery": 1, "textiles": 1},
    "relocated_it": {"computers": 3, "electronics": 2, "furniture": 1},
    "shell": {"components": 4, "telecom": 3, "computers": 1, "optics_instruments": 1},
    "layering": {"components": 3, "telecom": 2, "computers": 2, "bearings": 1},
    "dormant": {"machine_tools": 2, "bearings": 2, "components": 2, "optics_instruments": 1},
}
# What manufacturers and miners make themselves and export.
OWN_PRODUCTS = ("metals", "fertilisers", "food", "chemicals", "oil_products", "coal_minerals")

# Typical statistical value of one item line in USD, by firm kind (lognormal median).
LINE_VALUE: dict[str, float] = {
    "electronics_distributor": 18_000,
    "machinery_distributor": 40_000,
    "wholesaler": 25_000,
    "manufacturer": 30_000,
    "mining_oil": 60_000,
    "shell": 25_000,
    "layering": 20_000,
    "dormant": 45_000,
}


@dataclass(frozen=True)
class Catalogue:
    """The HS catalogue as arrays, one entry per row."""

    hs10: np.ndarray
    description: np.ndarray
    category: np.ndarray
    unit: np.ndarray
    unit_value: np.ndarray
    sigma: np.ndarray
    kg_per_unit: np.ndarray
    tier: np.ndarray  # "" when not CHPL
    neighbour: dict[int, list[int]]  # CHPL row -> rows of its non-CHPL neighbour codes
    neighbour_rows: frozenset[int]

    @classmethod
    def from_frame(cls, table: pd.DataFrame) -> Catalogue:
        table = table.reset_index(drop=True)
        rows_by_hs6: dict[str, list[int]] = {}
        for row, hs6 in enumerate(table["hs6"]):
            rows_by_hs6.setdefault(hs6, []).append(row)
        neighbour: dict[int, list[int]] = {}
        for row, chpl_hs6 in enumerate(table["neighbour_of_chpl"]):
            for target in rows_by_hs6.get(chpl_hs6, []) if chpl_hs6 else []:
                neighbour.setdefault(target, []).append(row)
        return cls(
            hs10=table["hs10"].to_numpy(object),
            description=table["description"].to_numpy(object),
            category=table["category"].to_numpy(object),
            unit=table["supplementary_unit"].to_numpy(object),
            unit_value=table["unit_value_usd"].to_numpy(float),
            sigma=table["unit_value_sigma"].to_numpy(float),
            kg_per_unit=table["kg_per_unit"].to_numpy(float),
            tier=table["chpl_tier"].to_numpy(object),
            neighbour=neighbour,
            neighbour_rows=frozenset(r for rows in neighbour.values() for r in rows),
        )

    def rows(self, category: str) -> np.ndarray:
        return np.flatnonzero(self.category == category)

    def is_electronic(self, row: int) -> bool:
        return str(self.category[row]) in ELECTRONIC_CATEGORIES

    def goods_weight(self, row: int) -> float:
        """How attractive the goods are to evaders: CHPL tiers first (domain.md §1)."""
        tier = str(self.tier[row])
        if tier in ("1", "2"):
            return 1.0
        if tier in ("3.A", "3.B"):
            return 0.8
        if tier:
            return 0.6
        if row in self.neighbour_rows:
            return 0.4
        return 0.3 if self.is_electronic(row) else 0.03


def choose_portfolio(rng: np.random.Generator, catalogue: Catalogue, firm: Firm) -> list[int]:
    """Catalogue rows the firm trades repeatedly; evasion firms favour CHPL tiers 1-2."""
    mix = PORTFOLIO_MIX[firm.kind]
    size = {"retailer": 12, "end_user": 5, "relocated_it": 4, "shell": 6}.get(firm.kind, 16)
    cats = list(mix)
    weights = np.fromiter(mix.values(), float)
    picked = rng.choice(len(cats), size=size, p=weights / weights.sum())
    portfolio: list[int] = []
    for c in picked:
        rows = catalogue.rows(cats[int(c)])
        if not len(rows):
            continue
        tiers = catalogue.tier[rows]
        if firm.kind in ("shell", "layering", "dormant"):
            w = np.where((tiers == "1") | (tiers == "2"), 3.0, np.where(tiers != "", 2.0, 0.6))
        else:  # honest trade in CHPL codes (routers, power supplies, bearings) is real
            w = np.where(tiers != "", 0.45, 1.0)
        portfolio.append(int(rng.choice(rows, p=w / w.sum())))
    return sorted(set(portfolio)) or [int(rng.integers(len(catalogue.hs10)))]


def pick(rng: np.random.Generator, weights: Mapping[str, float]) -> str:
    """One key of `weights`, drawn with probability proportional to its weight."""
    keys, cumulative = _cumulative(tuple(weights.items()))
    return keys[bisect.bisect_right(cumulative, rng.random() * cumulative[-1])]


@functools.cache
def _cumulative(items: tuple[tuple[str, float], ...]) -> tuple[tuple[str, ...], list[float]]:
    # rng.choice(p=...) costs ~10 us a call, and the engine draws hundreds of thousands of
    # categories; a cached cumulative table and bisect cost well under 1 us.
    return tuple(k for k, _ in items), list(itertools.accumulate(w for _, w in items))


def import_route(rng: np.random.Generator, electronic: bool, evasive: bool) -> tuple[str, str, str]:
    """(dispatch country, origin country, transport mode) of a third-country import.

    Electronics often come from a distribution hub with another origin (normal trade);
    evasive consignments come from a hub with a coalition origin far more often.
    """
    if evasive:
        direct = rng.random() < 0.25  # some Western sellers ship straight and lie about end use
        dispatch = pick(rng, COALITION_BRANDS) if direct else pick(rng, HUBS)
        origin = (
            dispatch if direct else (pick(rng, COALITION_BRANDS) if rng.random() < 0.75 else "CN")
        )
    elif electronic:
        dispatch = pick(
            rng,
            {"CN": 45, "HK": 10, "AE": 6, "TR": 5, "KR": 5, "DE": 5, "US": 3, "JP": 3}
            | {"TW": 3, "SG": 4, "NL": 3, "IT": 2, "PL": 2, "MY": 4},
        )
        hub = dispatch in HUBS or dispatch in ("SG", "MY")
        # Hubs distribute Western brands as a matter of course (a hard negative).
        origin = (
            pick(rng, COALITION_BRANDS | {"CN": 0.5}) if hub and rng.random() < 0.55 else dispatch
        )
    else:
        dispatch = pick(
            rng,
            {"CN": 50, "TR": 10, "DE": 8, "IT": 5, "PL": 4, "UZ": 5, "US": 3, "IN": 4}
            | {"KR": 4, "FR": 3, "NL": 2, "CZ": 2},
        )
        origin = dispatch if rng.random() < 0.9 else pick(rng, {"CN": 1, "DE": 1, "IT": 1})
    return dispatch, origin, _mode(rng, dispatch)


def _mode(rng: np.random.Generator, dispatch: str) -> str:
    if dispatch in ("CN", "UZ"):
        return pick(rng, {"road": 55, "rail": 40, "air": 5})
    if dispatch in ("HK", "AE", "SG", "US", "JP", "KR", "TW", "MY", "IN"):
        return pick(rng, {"air": 55, "road": 20, "rail": 15, "post": 5, "sea": 5})
    return pick(rng, {"road": 70, "rail": 20, "air": 10})


def currency(rng: np.random.Generator, dispatch: str) -> str:
    """Invoice currency of a document given where the goods come from or go to."""
    if dispatch in ("DE", "IT", "PL", "NL", "FR", "CZ"):
        return "EUR" if rng.random() < 0.8 else "USD"
    if dispatch == "CN":
        return "CNY" if rng.random() < 0.3 else "USD"
    if dispatch in ("RU", "BY"):
        return "RUB" if rng.random() < 0.7 else "USD"
    if dispatch == "KZ":
        return "KZT"
    return "USD"
