"""The parties of one community: Kazakh firms of many kinds and their foreign counterparties.

A firm's *kind* is hidden from the data (the register holds only what a real register holds:
registration date, activity code, region, address, director, founder country). Kinds drive
behaviour: what a firm imports, how long it keeps goods, whom it sells to.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import numpy as np

from riskscore.synthetic.world import INVASION, day

# kind -> share of the firms in a community. Evasion kinds are a few percent.
KIND_SHARES: dict[str, float] = {
    "manufacturer": 0.08,
    "electronics_distributor": 0.08,
    "machinery_distributor": 0.05,
    "retailer": 0.21,
    "wholesaler": 0.13,
    "end_user": 0.19,
    "mining_oil": 0.04,
    "forwarder": 0.05,
    "relocated_it": 0.03,
    "shell": 0.012,
    "layering": 0.014,
    "dormant": 0.007,
}
EVASION_KINDS = frozenset({"shell", "layering", "dormant"})

_ACTIVITY: dict[str, tuple[str, ...]] = {
    "manufacturer": ("10.11", "10.61", "20.15", "24.10", "24.42", "26.51", "28.41"),
    "electronics_distributor": ("46.43", "46.51", "46.52"),
    "machinery_distributor": ("45.31", "46.62", "46.63", "46.69"),
    "retailer": ("47.11", "47.41", "47.43", "47.71"),
    "wholesaler": ("46.21", "46.39", "46.71", "46.75", "46.90"),
    "end_user": ("01.11", "41.20", "62.01", "70.22"),
    "mining_oil": ("06.10", "07.10", "07.29"),
    "forwarder": ("49.41", "52.10", "52.29"),
    "relocated_it": ("62.01", "70.22"),
    "shell": ("46.90", "46.52", "52.29", "70.22"),
    "layering": ("46.90", "46.51", "46.52", "46.69"),
    "dormant": ("46.90", "46.69", "41.20", "46.52"),
}

# region -> weight for ordinary firms; evasion firms favour Almaty and the Russian border.
_REGIONS: dict[str, float] = {
    "almaty_city": 0.28,
    "astana_city": 0.15,
    "shymkent_city": 0.07,
    "karaganda": 0.07,
    "almaty": 0.05,
    "east_kazakhstan": 0.04,
    "aktobe": 0.04,
    "atyrau": 0.04,
    "pavlodar": 0.04,
    "kostanay": 0.04,
    "west_kazakhstan": 0.03,
    "north_kazakhstan": 0.03,
    "mangystau": 0.03,
    "jambyl": 0.03,
    "turkistan": 0.02,
    "akmola": 0.02,
    "kyzylorda": 0.02,
}
_EVASION_REGIONS: dict[str, float] = {
    "almaty_city": 0.40,
    "astana_city": 0.15,
    "west_kazakhstan": 0.1,
    "aktobe": 0.1,
    "kostanay": 0.08,
    "north_kazakhstan": 0.09,
    "pavlodar": 0.08,
}


@dataclass(slots=True)
class Firm:
    """A Kazakh firm: what the register shows plus the hidden behaviour."""

    firm_id: str
    kind: str
    registered: float
    activity_code: str
    region: str
    address_id: str
    director_id: str
    founder_country: str
    diverter: bool = False  # an otherwise honest distributor that diverts now and then
    fast_turn: bool = False  # a distributor whose stock turns in days (a hard negative)
    ghost: bool = False  # a forwarder that fakes transits
    active_from: float = 0.0
    active_to: float = 0.0
    network: int = -1  # evasion network id; -1 for none
    portfolio: list[int] = field(default_factory=list)  # catalogue rows the firm trades


def firm_id(registered: float, serial: int) -> str:
    """A 12-digit BIN-like id: registration YYMM, legal-entity digit 4, serial, check digit.

    >>> firm_id(19000.0, 17)
    '220140000177'
    """
    when = date.fromordinal(date(1970, 1, 1).toordinal() + int(registered))
    body = f"{when.year % 100:02d}{when.month:02d}4{serial:06d}"
    check = sum((i + 1) * int(digit) for i, digit in enumerate(body)) % 11 % 10
    return f"{body}{check}"


def _choice(rng: np.random.Generator, weights: dict[str, float]) -> str:
    keys = list(weights)
    probs = np.fromiter(weights.values(), float)
    return keys[int(rng.choice(len(keys), p=probs / probs.sum()))]


def _registered(rng: np.random.Generator, kind: str, start: float, end: float) -> float:
    if kind == "relocated_it":
        return rng.uniform(INVASION + 10, day(date(2023, 9, 1)))
    if kind == "shell":
        if rng.random() < 0.85:
            return rng.uniform(INVASION + 5, min(end - 120, day(date(2024, 6, 30))))
        return rng.uniform(day(date(2019, 1, 1)), INVASION)
    if kind == "layering":
        if rng.random() < 0.6:
            return rng.uniform(INVASION + 5, min(end - 150, day(date(2024, 3, 31))))
        return rng.uniform(day(date(2015, 1, 1)), INVASION)
    if kind == "dormant":
        return rng.uniform(day(date(2006, 1, 1)), day(date(2018, 12, 31)))
    if rng.random() < 0.12:  # ordinary firms founded inside the window
        return rng.uniform(start, end - 200)
    return rng.uniform(day(date(1997, 1, 1)), start)


def _founder(rng: np.random.Generator, kind: str) -> str:
    table = {
        "relocated_it": {"RU": 0.9, "KZ": 0.1},
        "shell": {"RU": 0.55, "KZ": 0.35, "AE": 0.04, "AM": 0.03, "KG": 0.03},
        "layering": {"RU": 0.35, "KZ": 0.6, "KG": 0.05},
        "dormant": {"KZ": 0.8, "RU": 0.2},
    }.get(kind, {"KZ": 0.88, "RU": 0.06, "CN": 0.03, "TR": 0.015, "DE": 0.01, "KR": 0.005})
    return _choice(rng, table)


def make_firms(
    rng: np.random.Generator, count: int, first_serial: int, window: tuple[float, float]
) -> list[Firm]:
    """The firms of one community: kinds, register entries, shared addresses in networks."""
    kinds = list(KIND_SHARES)
    shares = np.fromiter(KIND_SHARES.values(), float)
    drawn = rng.choice(len(kinds), size=count, p=shares / shares.sum())
    firms: list[Firm] = []
    for i, k in enumerate(drawn):
        kind = kinds[int(k)]
        registered = _registered(rng, kind, *window)
        regions = _EVASION_REGIONS if kind in EVASION_KINDS else _REGIONS
        serial = first_serial + i
        firm = Firm(
            firm_id=firm_id(registered, serial),
            kind=kind,
            registered=registered,
            activity_code=str(rng.choice(_ACTIVITY[kind])),
            region=_choice(rng, regions),
            address_id=f"A{serial:08d}",
            director_id=f"P{serial:08d}",
            founder_country=_founder(rng, kind),
            diverter=kind.endswith("distributor") and rng.random() < 0.25,
            fast_turn=kind.endswith("distributor") and rng.random() < 0.2,
            ghost=kind == "forwarder" and rng.random() < 0.2,
        )
        firms.append(firm)
    _share_addresses(rng, firms, first_serial)
    return firms


def _share_addresses(rng: np.random.Generator, firms: list[Firm], first_serial: int) -> None:
    """Business centres host many honest firms; evasion networks share address and director."""
    centres = max(1, len(firms) // 40)
    for firm in firms:
        if firm.kind not in EVASION_KINDS and rng.random() < 0.15:
            firm.address_id = f"B{first_serial + int(rng.integers(centres)):08d}"
    evaders = [f for f in firms if f.kind in ("shell", "layering")]
    evaders = [evaders[int(i)] for i in rng.permutation(len(evaders))]
    network, i = 0, 0
    while i < len(evaders):
        size = int(rng.integers(3, 7))
        members = evaders[i : i + size]
        address = f"M{first_serial + network:08d}"
        director = f"Q{first_serial + network:08d}"
        for member in members:
            member.network = network
            if rng.random() < 0.7:
                member.address_id = address
            if rng.random() < 0.5:
                member.director_id = director
        network, i = network + 1, i + size


@dataclass(slots=True)
class ForeignParties:
    """Pools of foreign counterparties of a community, by role."""

    suppliers: dict[str, list[str]]
    ru_buyers: list[str]
    ru_fronts: list[str]  # Russian procurement fronts buying sanctioned goods
    ca_fronts: list[str]  # Kyrgyz and Armenian fronts after the Kazakh ban
    transit_consignees: dict[str, list[str]]


def make_foreign_parties(rng: np.random.Generator, firms: int, first_serial: int) -> ForeignParties:
    """Foreign party ids look like `RU0000012345`: country code + 10 digits."""
    serial = first_serial * 10

    def pool(country: str, size: int) -> list[str]:
        nonlocal serial
        ids = [f"{country}{serial + j:010d}" for j in range(size)]
        serial += size
        return ids

    countries = [
        "CN",
        "HK",
        "AE",
        "TR",
        "DE",
        "IT",
        "PL",
        "NL",
        "FR",
        "US",
        "JP",
        "KR",
        "TW",
        "SG",
        "GB",
        "UZ",
        "IN",
        "MY",
        "RU",
        "BY",
        "CZ",
    ]
    suppliers = {c: pool(c, max(3, firms // 25)) for c in countries}
    ru_buyers = pool("RU", max(10, firms // 6))
    ru_fronts = pool("RU", max(3, firms // 150))
    ca_fronts = pool("KG", max(2, firms // 400)) + pool("AM", max(2, firms // 400))
    transit = {c: pool(c, max(3, firms // 60)) for c in ("UZ", "KG", "TJ", "TM", "AM", "RU")}
    rng.shuffle(ru_fronts)
    return ForeignParties(suppliers, ru_buyers, ru_fronts, ca_fronts, transit)
