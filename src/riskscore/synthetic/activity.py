"""When each firm trades: active windows, import rates, own-production exports and transits."""

from __future__ import annotations

from datetime import date

import numpy as np

from riskscore.schema import Typology
from riskscore.synthetic.chains import ChainEngine
from riskscore.synthetic.goods import OWN_PRODUCTS, import_route, pick
from riskscore.synthetic.ledger import Header, Truth
from riskscore.synthetic.parties import Firm
from riskscore.synthetic.world import (
    FINCEN_ALERT,
    INVASION,
    SNT_MANDATORY,
    day,
    import_volume_factor,
    period_factor,
)

# Import documents per month of an average firm of each kind.
IMPORTS_PER_MONTH = {
    "manufacturer": 0.4,
    "electronics_distributor": 1.2,
    "machinery_distributor": 0.7,
    "retailer": 0.2,
    "wholesaler": 0.7,
    "end_user": 0.06,
    "mining_oil": 0.5,
    "forwarder": 0.1,
    "relocated_it": 0.15,
    "shell": 2.0,
    "layering": 0.25,
    "dormant": 1.5,
}
_DAYS_PER_MONTH = 30.44


def active_window(rng: np.random.Generator, firm: Firm, start: float, end: float) -> None:
    """Set when the firm trades. Shells live for months; dormant firms wake up after 2022."""
    begin = max(start, firm.registered + rng.uniform(5, 60))
    stop = end
    if firm.kind == "shell":
        begin = max(begin, INVASION + rng.uniform(10, 90))
        stop = begin + rng.uniform(60, 300)
    elif firm.kind == "layering" and rng.random() < 0.7:
        begin = max(begin, INVASION + rng.uniform(10, 200))
        stop = begin + rng.uniform(150, 540)
    elif firm.kind == "dormant":
        begin = max(start, rng.uniform(_DORMANT_WAKE_FROM, _DORMANT_WAKE_TO))
        stop = begin + rng.uniform(90, 360)
    firm.active_from, firm.active_to = begin, min(stop, end)


_DORMANT_WAKE_FROM = day(date(2022, 5, 1))
_DORMANT_WAKE_TO = day(date(2023, 9, 1))


def event_times(
    rng: np.random.Generator, firm: Firm, rate_per_month: float, electronic: bool
) -> np.ndarray:
    """Times of a Poisson process over the firm's active window, thinned by the volume trend."""
    length = firm.active_to - firm.active_from
    if length <= 0 or rate_per_month <= 0:
        return np.empty(0)
    peak = 1.6 if electronic else 1.0
    count = rng.poisson(rate_per_month * peak * length / _DAYS_PER_MONTH)
    times = np.sort(rng.uniform(firm.active_from, firm.active_to, size=count))
    keep = [rng.random() * peak < import_volume_factor(t, electronic) for t in times]
    return times[np.asarray(keep, dtype=bool)] if count else times


def run_firm(engine: ChainEngine, firm: Firm, size: float) -> None:
    """All documents a firm originates: its imports (and what follows them), exports, transits."""
    rng, cat = engine.rng, engine.catalogue
    electronic = any(cat.is_electronic(r) for r in firm.portfolio)
    for t in event_times(rng, firm, IMPORTS_PER_MONTH[firm.kind] * size, electronic):
        engine.import_lot_lines(firm, float(t))
    if firm.kind == "dormant":
        _trickle_before_sleep(engine, firm)
    if firm.kind in ("manufacturer", "mining_oil"):
        for t in event_times(rng, firm, 0.7 * size, electronic=False):
            own_export(engine, firm, float(t))
    if firm.kind == "forwarder":
        for t in event_times(rng, firm, 1.0 * size, electronic=False):
            transit(engine, firm, float(t))


def _trickle_before_sleep(engine: ChainEngine, firm: Firm) -> None:
    """A dormant firm traded a little at the start of the window, then fell silent."""
    first = max(firm.registered, engine.start)
    for _ in range(int(engine.rng.integers(0, 3))):
        t = float(engine.rng.uniform(first, first + 200))
        if t < min(firm.active_from, INVASION):
            saved = firm.kind
            firm.kind = "wholesaler"  # trades as an ordinary business at the time
            engine.import_lot_lines(firm, t)
            firm.kind = saved


def own_export(engine: ChainEngine, firm: Firm, t: float) -> None:
    """Kazakh-made goods leaving: metals, grain, fertiliser to Russia; oil and ore further."""
    rng, cat = engine.rng, engine.catalogue
    category = "oil_products" if firm.kind == "mining_oil" and rng.random() < 0.6 else None
    rows = cat.rows(category or OWN_PRODUCTS[int(rng.integers(len(OWN_PRODUCTS)))])
    chain = engine.chain_id()
    lines = []
    for row in rng.choice(rows, size=min(len(rows), 1 + int(rng.poisson(0.7))), replace=False):
        line = engine.new_line(firm, int(row), Truth(False, None, chain, 0.0), None)
        line.origin = "KZ"
        lines.append(line)
    if firm.kind == "manufacturer" and rng.random() < 0.6:
        if t >= SNT_MANDATORY or rng.random() < 0.55:  # SNT optional before April 2023
            engine.write_snt_export(firm, str(rng.choice(engine.foreign.ru_buyers)), "RU", t, lines)
        return
    destination = pick(rng, {"CN": 35, "IT": 15, "NL": 10, "TR": 10, "UZ": 15, "RU": 10, "PL": 5})
    engine.write_dt_export(firm, destination, t, lines)


def transit(engine: ChainEngine, forwarder: Firm, t: float) -> None:
    """Goods crossing Kazakhstan under customs control; some forwarders fake them."""
    rng, cat = engine.rng, engine.catalogue
    ghost = forwarder.ghost and t >= FINCEN_ALERT and rng.random() < 0.4
    destination = pick(rng, {"UZ": 35, "KG": 20, "TJ": 15, "TM": 10, "RU": 15, "AM": 5})
    if ghost:
        rows = np.flatnonzero(cat.tier != "")
        destination = pick(rng, {"KG": 45, "UZ": 25, "AM": 20, "TJ": 10})
    else:
        rows = np.asarray(forwarder.portfolio)
    p = min(0.97, 0.9 * period_factor(t)) if ghost else 0.0
    chain = engine.chain_id()
    lines = []
    for row in rng.choice(rows, size=1 + min(int(rng.poisson(1.0)), 5)):
        evades = bool(rng.random() < p)
        truth = Truth(evades, Typology.GHOST_TRANSIT if evades else None, chain, p)
        lines.append(engine.new_line(forwarder, int(row), truth, None))
    dispatch, origin, mode = import_route(rng, electronic=ghost, evasive=ghost)
    if mode in ("air", "post", "sea"):
        mode = "road"
    for line in lines:
        line.origin = origin
    consignor = str(
        rng.choice(engine.foreign.suppliers.get(dispatch, engine.foreign.suppliers["CN"]))
    )
    consignee = str(rng.choice(engine.foreign.transit_consignees[destination]))
    procedure = "31" if not ghost and rng.random() < 0.08 else "80"
    flow = "export" if procedure == "31" else "transit"
    office = engine.offices.entry(rng, dispatch, mode, forwarder.region)
    header = Header(
        "DT", flow, procedure, engine.at_work(t), office,
        forwarder.firm_id, consignor, dispatch, consignee, destination, dispatch, destination,
        mode, "USD",
    )  # fmt: skip
    engine.ledger.add(header, lines)
