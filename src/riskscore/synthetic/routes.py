"""Where documents are lodged: border crossings, airports, inland customs posts."""

from __future__ import annotations

import numpy as np
import pandas as pd


class Offices:
    """Picks the customs office or border crossing of a document from the reference table."""

    def __init__(self, table: pd.DataFrame) -> None:
        def ids(mask: pd.Series) -> list[str]:
            return sorted(table.loc[mask, "office_id"])

        kind, neighbour = table["kind"], table["neighbour_country"]
        self._airports = ids(kind == "airport")
        self._seaports = ids(kind == "seaport")
        self._inland = ids(kind == "inland")
        self._road = {c: ids((kind == "road_crossing") & (neighbour == c)) for c in _NEIGHBOURS}
        self._rail = {c: ids((kind == "rail_crossing") & (neighbour == c)) for c in _NEIGHBOURS}
        russian = table[(neighbour == "RU") & (kind == "road_crossing")]
        self._ru_road_by_region = russian.groupby("region_id")["office_id"].apply(sorted).to_dict()
        inland = table[kind == "inland"]
        self._inland_by_region = inland.groupby("region_id")["office_id"].apply(sorted).to_dict()

    def _one(self, rng: np.random.Generator, options: list[str]) -> str:
        return options[int(rng.integers(len(options)))]

    def entry(self, rng: np.random.Generator, dispatch: str, mode: str, region: str) -> str:
        """Office of a third-country import: the crossing for China and Central Asia, the
        airport for air, an inland post near the importer for the rest."""
        if mode in ("air", "post"):
            return self._one(rng, self._airports)
        if mode == "sea":
            return self._one(rng, self._seaports)
        if dispatch in self._road:
            table = self._rail if mode == "rail" else self._road
            return self._one(rng, table[dispatch] or self._road[dispatch])
        return self._one(rng, self._inland_by_region.get(region, self._inland))

    def russian_border(self, rng: np.random.Generator, region: str, mode: str) -> str:
        """A crossing on the Russian border, near the firm's region when there is one."""
        if mode == "rail":
            return self._one(rng, self._rail["RU"])
        return self._one(rng, self._ru_road_by_region.get(region, self._road["RU"]))

    def exit(self, rng: np.random.Generator, destination: str, mode: str, region: str) -> str:
        """Office where goods leave for `destination`."""
        if mode in ("air", "post"):
            return self._one(rng, self._airports)
        if mode == "pipeline":
            return self._one(rng, self._inland)
        if mode == "sea":
            return self._one(rng, self._seaports)
        if destination in ("RU", "BY", "AM"):  # Belarus and Armenia are reached through Russia
            return self.russian_border(rng, region, mode)
        if destination in self._road:
            return self._one(rng, self._road[destination] or self._rail[destination])
        return self._one(rng, self._inland_by_region.get(region, self._inland))


_NEIGHBOURS = ("RU", "CN", "KG", "UZ", "TM")
