"""Statistics learned from the training window and carried with the model.

`fit_feature_stats` learns them once; feature functions receive them as arguments and never
recompute them, so serving scores with exactly what training saw. Everything here round-trips
through JSON (`to_dict` / `from_dict`) for the model bundle.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from riskscore.features.catalogue import Spec
from riskscore.features.columns import Columns, lookup
from riskscore.reference import HOME_COUNTRY

MIN_CELL = 20  # rows a cell needs before its median and MAD are trusted
MAD_FLOOR = 0.05  # in log units: a cell of identical prices must not make every z infinite


@dataclass
class RobustCells:
    """Median and MAD of a log quantity per cell, at several levels of back-off."""

    levels: list[tuple[str, ...]]  # e.g. [("hs6", "origin_country"), ("hs6",), ("hs4",)]
    tables: list[pd.DataFrame] = field(default_factory=list)  # index = level, cols median, mad
    # The tables as dicts, built on first use: the service looks up a few cells per request.
    _cells: list[dict[tuple[object, ...], tuple[float, float]]] = field(
        default_factory=list, repr=False, compare=False
    )

    def z(self, lines: Columns, log_value: np.ndarray) -> np.ndarray:
        """Robust z-score of `log_value` in the finest level that has a trusted cell."""
        median = np.full(len(log_value), np.nan)
        mad = np.full(len(log_value), np.nan)
        for level, cells in zip(self.levels, self._lookups(), strict=True):
            missing = np.flatnonzero(np.isnan(median))
            if not len(missing):
                break
            keys = zip(*(lines[c][missing] for c in level), strict=True)
            found = np.array([cells.get(k, (np.nan, np.nan)) for k in keys]).reshape(-1, 2)
            median[missing], mad[missing] = found[:, 0], found[:, 1]
        return np.asarray((log_value - median) / (1.4826 * np.maximum(mad, MAD_FLOOR)), float)

    def prepare(self) -> None:
        """Build the cell lookups now rather than on first use."""
        self._lookups()

    def _lookups(self) -> list[dict[tuple[object, ...], tuple[float, float]]]:
        if not self._cells:
            self._cells = [
                dict(zip(t.index, zip(t["median"], t["mad"], strict=True), strict=True))
                for t in self.tables
            ]
        return self._cells

    def to_dict(self) -> dict[str, Any]:
        return {
            "levels": [list(level) for level in self.levels],
            "tables": [t.reset_index().to_dict(orient="split", index=False) for t in self.tables],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RobustCells:
        levels = [tuple(level) for level in data["levels"]]
        tables = []
        for level, t in zip(levels, data["tables"], strict=True):
            frame = pd.DataFrame(t["data"], columns=t["columns"])
            # Always a MultiIndex, even for one level: lookups use tuple keys.
            frame.index = pd.MultiIndex.from_frame(frame[list(level)].astype(object))
            tables.append(frame.drop(columns=list(level)))
        return cls(levels, tables)


def fit_robust_cells(
    lines: Columns, log_values: np.ndarray, levels: list[tuple[str, ...]]
) -> RobustCells:
    """Median and MAD of `log_value` per cell of each level, keeping cells of MIN_CELL rows."""
    frame = pd.DataFrame({c: lines[c] for level in levels for c in level})
    log_value = pd.Series(log_values)
    valid = log_value.notna() & np.isfinite(log_value)
    tables = []
    for level in levels:
        grouped = log_value[valid].groupby([frame.loc[valid, c] for c in level])
        median = grouped.median()
        deviation = (
            log_value[valid]
            - median.reindex(pd.MultiIndex.from_frame(frame.loc[valid, list(level)])).to_numpy()
        ).abs()
        mad = deviation.groupby([frame.loc[valid, c] for c in level]).median()
        table = pd.DataFrame({"median": median, "mad": mad, "n": grouped.size()})
        table = table[table["n"] >= MIN_CELL]
        if not isinstance(table.index, pd.MultiIndex):
            table.index = pd.MultiIndex.from_arrays([table.index], names=list(level))
        tables.append(table)
    return RobustCells(levels, tables)


@dataclass
class FeatureStats:
    """Everything `build_features` needs that was learned from the training window, and the
    dataset settings the features depend on: the home country (whose firms keep stock and
    whose border goods cross) and the extra columns (name -> "numeric" or "categorical")."""

    vocabularies: dict[str, list[str]]
    unit_value: RobustCells
    kg_per_unit: RobustCells
    home_country: str = HOME_COUNTRY
    extras: dict[str, str] = field(default_factory=dict)
    # Value -> code, built once per vocabulary on first use: the service encodes every request.
    _codes: dict[str, dict[str, float]] = field(default_factory=dict, repr=False, compare=False)

    def prepare(self) -> FeatureStats:
        """Build every lookup now (the service calls this at start-up, so that its first
        requests do not pay for them)."""
        for name in self.vocabularies:
            self.encode(name, np.empty(0, dtype=object))
        self.unit_value.prepare()
        self.kg_per_unit.prepare()
        return self

    def encode_all(self, specs: Iterable[Spec], lines: Columns) -> Columns:
        """The vocabulary codes of every spec with a `vocabulary` source column."""
        return {s.name: self.encode(s.name, lines[s.vocabulary]) for s in specs if s.vocabulary}

    def encode(self, name: str, values: np.ndarray) -> np.ndarray:
        """Integer code of each value in the frozen vocabulary; unseen or missing gives NaN."""
        codes = self._codes.get(name)
        if codes is None:
            codes = self._codes[name] = {v: float(i) for i, v in enumerate(self.vocabularies[name])}
        return lookup(values, codes)

    def to_dict(self) -> dict[str, Any]:
        return {
            "vocabularies": self.vocabularies,
            "unit_value": self.unit_value.to_dict(),
            "kg_per_unit": self.kg_per_unit.to_dict(),
            "home_country": self.home_country,
            "extras": self.extras,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FeatureStats:
        """The inverse of `to_dict`; bundles written before datasets had settings get the
        defaults (Kazakhstan, no extras)."""
        return cls(
            vocabularies={k: list(v) for k, v in data["vocabularies"].items()},
            unit_value=RobustCells.from_dict(data["unit_value"]),
            kg_per_unit=RobustCells.from_dict(data["kg_per_unit"]),
            home_country=str(data.get("home_country", HOME_COUNTRY)),
            extras={str(k): str(v) for k, v in data.get("extras", {}).items()},
        )


def fit_vocabularies(specs: Iterable[Spec], lines: Columns) -> dict[str, list[str]]:
    """Sorted distinct values of each spec's `vocabulary` column (the frozen categories)."""
    return {
        s.name: sorted(str(v) for v in pd.unique(lines[s.vocabulary]) if v is not None)
        for s in specs
        if s.vocabulary
    }
