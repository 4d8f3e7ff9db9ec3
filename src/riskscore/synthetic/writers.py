"""How the documents of a community are written: headers, lines, copies downstream.

`DocumentWriter` holds the community (firms, foreign parties, catalogue, offices) and writes
DT, ESF and SNT documents into its ledger; `chains.ChainEngine` decides what happens to each
lot and calls these writers.
"""

from __future__ import annotations

import numpy as np

from riskscore.schema import Typology
from riskscore.synthetic.goods import (
    LINE_VALUE,
    Catalogue,
    choose_portfolio,
    currency,
    import_route,
    pick,
)
from riskscore.synthetic.ledger import Header, Ledger, Line, Truth
from riskscore.synthetic.parties import Firm, ForeignParties
from riskscore.synthetic.routes import Offices

_EXPORT_CURRENCIES = {"RUB": 5.0, "USD": 4.0, "KZT": 1.0}
# Kinds that use up what they buy (no further documents follow their purchases).
CONSUMERS = ("retailer", "end_user", "mining_oil", "relocated_it", "manufacturer")


class DocumentWriter:
    """The community and the documents written for it."""

    def __init__(
        self,
        rng: np.random.Generator,
        catalogue: Catalogue,
        offices: Offices,
        firms: list[Firm],
        foreign: ForeignParties,
        chunk: int,
    ) -> None:
        self.rng, self.catalogue, self.offices = rng, catalogue, offices
        self.chunk = chunk
        self.firms, self.foreign = firms, foreign
        self.ledger = Ledger(chunk * 10_000_000)
        self.start = 0.0
        self.end = 0.0
        self._chains = 0
        self.buyers = [f for f in firms if f.kind in CONSUMERS]
        self.resellers = [f for f in firms if f.kind.endswith("distributor")]
        self.brokers = [f for f in firms if f.kind == "forwarder"] or firms[:1]
        self.networks: dict[int, list[Firm]] = {}
        for firm in firms:
            firm.portfolio = choose_portfolio(rng, catalogue, firm)
            if firm.network >= 0:
                self.networks.setdefault(firm.network, []).append(firm)

    # --- time and ids ----------------------------------------------------------------------

    def at_work(self, t: float) -> float:
        """A moment in office hours (03:00-13:00 UTC is 08:00-18:00 in Kazakhstan) of day t,
        never before t itself: a document follows the ones it continues."""
        moment = float(np.floor(t)) + self.rng.uniform(0.125, 0.54)
        return moment if moment > t else t + self.rng.uniform(0.003, 0.08)

    def chain_id(self) -> str:
        self._chains += 1
        return f"CH{self.chunk:05d}-{self._chains:07d}"

    # --- imports ---------------------------------------------------------------------------

    def new_line(self, firm: Firm, row: int, truth: Truth, typology: str | None) -> Line:
        rng, cat = self.rng, self.catalogue
        unit_value = cat.unit_value[row] * rng.lognormal(0.0, cat.sigma[row])
        if truth.is_evasion and typology == Typology.PRICE_GAMES:
            unit_value *= rng.uniform(0.3, 0.6)  # undervalued on import for duty and VAT
        target = LINE_VALUE.get(firm.kind, 8_000.0) * rng.lognormal(0.0, 1.0)
        unit = str(cat.unit[row])
        qty = max(1.0, round(float(target / cat.unit_value[row]))) if unit != "kg" else None
        units = qty if qty is not None else max(1.0, float(target / cat.unit_value[row]))
        net = units * cat.kg_per_unit[row] * rng.lognormal(0.0, 0.12)
        hs_code, description = str(cat.hs10[row]), str(cat.description[row])
        if truth.is_evasion and typology == Typology.MISCLASSIFICATION and rng.random() < 0.4:
            hs_code, description = self.neighbour(row, description)
        return Line(
            row=row,
            hs_code=hs_code,
            description=description,
            origin="",
            qty=qty,
            unit=unit if qty is not None else None,
            net=net,
            gross=net * rng.uniform(1.02, 1.25),
            value=units * unit_value,
            truth=truth,
        )

    def neighbour(self, row: int, description: str) -> tuple[str, str]:
        """The non-CHPL code an evader declares instead; the description gives it away half
        of the time."""
        options = self.catalogue.neighbour.get(row)
        if not options:
            return str(self.catalogue.hs10[row]), description
        other = int(self.rng.choice(options))
        shown = description if self.rng.random() < 0.5 else str(self.catalogue.description[other])
        return str(self.catalogue.hs10[other]), shown

    def write_dt_import(
        self, firm: Firm, t: float, lines: list[Line], evasive: bool, electronic: bool
    ) -> None:
        rng = self.rng
        dispatch, origin, mode = import_route(rng, electronic, evasive)
        for line in lines:
            line.origin = (
                origin if rng.random() < 0.85 else import_route(rng, electronic, evasive)[1]
            )
        supplier = str(
            rng.choice(self.foreign.suppliers.get(dispatch, self.foreign.suppliers["CN"]))
        )
        declarant = firm.firm_id
        if rng.random() < 0.5:  # half of imports are declared by a customs broker
            declarant = self.brokers[int(rng.integers(len(self.brokers)))].firm_id
        office = self.offices.entry(rng, dispatch, mode, firm.region)
        header = Header(
            "DT", "import", "40", self.at_work(t), office,
            declarant, supplier, dispatch, firm.firm_id, "KZ", dispatch, "KZ", mode,
            currency(rng, dispatch),
        )  # fmt: skip
        self.ledger.add(header, lines)

    def write_eaeu_import(self, firm: Firm, t: float, lines: list[Line]) -> None:
        """Goods bought in Russia or Belarus: an incoming SNT, no customs declaration."""
        rng = self.rng
        dispatch = "RU" if rng.random() < 0.85 else "BY"
        for line in lines:
            line.origin = dispatch if rng.random() < 0.8 else "CN"
        supplier = str(rng.choice(self.foreign.suppliers[dispatch]))
        mode = pick(rng, {"road": 75, "rail": 25})
        office = self.offices.russian_border(rng, firm.region, mode)
        header = Header(
            "SNT", "import", "", self.at_work(t), office,
            firm.firm_id, supplier, dispatch, firm.firm_id, "KZ", dispatch, "KZ", mode,
            currency(rng, dispatch),
        )  # fmt: skip
        self.ledger.add(header, lines)

    # --- evasion ---------------------------------------------------------------------------

    def copy_line(self, lot: Line, share: float, markup: float, link_p: float) -> Line:
        """The same goods one step downstream: part of the quantity, a new price, maybe a link."""
        qty = None if lot.qty is None else max(1.0, round(float(lot.qty * share)))
        ratio = share if lot.qty is None else qty / lot.qty  # type: ignore[operator]
        link = (lot.document_id, lot.item_no) if self.rng.random() < link_p else None
        return Line(
            row=lot.row,
            hs_code=lot.hs_code,
            description=lot.description,
            origin=lot.origin,
            qty=qty,
            unit=lot.unit,
            net=lot.net * ratio,
            gross=lot.gross * ratio,
            value=lot.value * ratio * markup,
            truth=lot.truth,
            link=link,
        )

    def resell(
        self, seller: Firm, buyer: Firm, lots: list[Line], t: float, link_p: float,
        markup: tuple[float, float], share: float = 1.0,
    ) -> list[Line]:  # fmt: skip
        """A domestic sale on an ESF; returns the buyer's new lots."""
        rng = self.rng
        out = [self.copy_line(lot, share, rng.uniform(*markup), link_p) for lot in lots]
        header = Header(
            "ESF", "domestic", "", self.at_work(t), "", seller.firm_id, seller.firm_id, "KZ",
            buyer.firm_id, "KZ", "KZ", "KZ", "road", "KZT",
        )  # fmt: skip
        self.ledger.add(header, out)
        return out

    def write_snt_export(
        self, seller: Firm, buyer_id: str, destination: str, t: float, lines: list[Line]
    ) -> None:
        rng = self.rng
        mode = pick(rng, {"road": 75, "air": 12, "rail": 13})
        office = self.offices.exit(rng, destination, mode, seller.region)
        header = Header(
            "SNT", "export", "", self.at_work(t), office, seller.firm_id, seller.firm_id, "KZ",
            buyer_id, destination, "KZ", destination, mode, pick(rng, _EXPORT_CURRENCIES),
        )  # fmt: skip
        self.ledger.add(header, lines)

    def write_dt_export(self, seller: Firm, destination: str, t: float, lines: list[Line]) -> None:
        rng = self.rng
        mode = (
            "pipeline"
            if destination in ("IT", "NL") and rng.random() < 0.7
            else pick(rng, {"rail": 60, "road": 35, "sea": 5})
        )
        buyer = str(
            rng.choice(self.foreign.suppliers.get(destination, self.foreign.suppliers["CN"]))
        )
        office = self.offices.exit(rng, destination, mode, seller.region)
        header = Header(
            "DT", "export", "10", self.at_work(t), office,
            seller.firm_id, seller.firm_id, "KZ", buyer, destination, "KZ", destination, mode,
            "USD",
        )  # fmt: skip
        self.ledger.add(header, lines)
