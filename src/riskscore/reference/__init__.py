"""Reference tables shipped inside the package: CHPL, countries, offices, the HS catalogue,
and the policy dates features read.

Every loader reads its CSV on first call and caches the result; importing this module reads
nothing. The tables are described in `reference/README.md` beside the files.

May import: nothing of riskscore (it is the ground floor).
"""

from __future__ import annotations

from datetime import date
from functools import cache
from importlib import resources

import pandas as pd

CHPL_TIERS: tuple[str, ...] = ("1", "2", "3.A", "3.B", "4.A", "4.B")
# Russia's full-scale invasion of Ukraine: the date sanctions evasion through Kazakhstan starts
# from (docs/world.md).
INVASION = date(2022, 2, 24)
HOME_COUNTRY = "KZ"


def _read(name: str) -> pd.DataFrame:
    with resources.files(__package__).joinpath(name).open("rb") as handle:
        return pd.read_csv(handle, dtype=str, keep_default_na=False)


@cache
def chpl() -> pd.DataFrame:
    """The 50 Common High Priority List HS-6 codes with tier and description."""
    return _read("chpl_hs_codes.csv")


@cache
def chpl_tiers() -> dict[str, str]:
    """HS-6 code -> CHPL tier ("1" ... "4.B")."""
    table = chpl()
    return dict(zip(table["hs6"], table["tier"], strict=True))


@cache
def countries() -> frozenset[str]:
    """Every ISO 3166-1 alpha-2 code."""
    return frozenset(_read("countries.csv")["alpha2"])


@cache
def country_group(group: str) -> frozenset[str]:
    """Members of a country group: eaeu, sanctions_coalition, transshipment_hub, central_asia."""
    table = _read("country_groups.csv")
    members = frozenset(table.loc[table["group"] == group, "alpha2"])
    if not members:
        raise KeyError(f"unknown country group {group!r}")
    return members


@cache
def eaeu_partners(home: str = HOME_COUNTRY) -> frozenset[str]:
    """The other members of the Eurasian Economic Union, seen from `home`: no customs border.

    >>> sorted(eaeu_partners())
    ['AM', 'BY', 'KG', 'RU']
    """
    return country_group("eaeu") - {home}


@cache
def offices() -> pd.DataFrame:
    """Customs offices and border crossings: office_id, name, kind, region_id, neighbour_country."""
    return _read("offices.csv")


@cache
def regions() -> pd.DataFrame:
    """Kazakhstan's regions and cities of republican significance."""
    return _read("regions.csv")


@cache
def activity_codes() -> pd.DataFrame:
    """OKED-style activity codes used in the firms register, with a coarse sector."""
    return _read("activity_codes.csv")


@cache
def hs_catalogue() -> pd.DataFrame:
    """The goods the world trades: one row per HS-10 code with value and weight priors.

    Adds `chpl_tier` ("" when the HS-6 is not on the CHPL).
    """
    table = _read("hs_catalogue.csv")
    for column in ("unit_value_usd", "unit_value_sigma", "kg_per_unit"):
        table[column] = table[column].astype("float64")
    table["chpl_tier"] = table["hs6"].map(chpl_tiers()).fillna("")
    return table
