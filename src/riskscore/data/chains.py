"""Documents as chains: imports, domestic resale, exports to Russia, and the evasion paths.

An imported item line is a *lot*. For each lot the generator draws whether it is part of a
re-export chain, with probability `p_evasion` (hidden kind of the importer x attractiveness of
the goods x policy period). Evasion lots follow their typology's path to a Russian buyer within
days; the rest are consumed, sold on domestically over weeks, or exported legitimately.
`docs/world.md` describes each path and how it shows in the data.
"""

from __future__ import annotations

import numpy as np

from riskscore.data.goods import (
    LINE_VALUE,
    Catalogue,
    choose_portfolio,
    currency,
    import_route,
    pick,
)
from riskscore.data.ledger import Header, Ledger, Line, Truth
from riskscore.data.parties import EVASION_KINDS, Firm, ForeignParties
from riskscore.data.routes import Offices
from riskscore.data.world import (
    FINCEN_ALERT,
    INVASION,
    KZ_EXPORT_BAN,
    SNT_MANDATORY,
    period_factor,
)
from riskscore.schema import Typology

# Hidden propensity to divert a lot, by kind, before goods and period are applied.
_KIND_PROPENSITY = {"shell": 0.95, "layering": 0.92, "dormant": 0.9}
_DIVERTER_PROPENSITY = 0.2
_HONEST_PROPENSITY = 0.004
_EXPORT_CURRENCIES = {"RUB": 5.0, "USD": 4.0, "KZT": 1.0}
_CONSUMERS = ("retailer", "end_user", "mining_oil", "relocated_it", "manufacturer")


class ChainEngine:
    """Writes the documents of one community into a ledger."""

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
        self.buyers = [f for f in firms if f.kind in _CONSUMERS]
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

    def propensity(self, firm: Firm) -> float:
        if firm.kind in _KIND_PROPENSITY:
            return _KIND_PROPENSITY[firm.kind]
        return _DIVERTER_PROPENSITY if firm.diverter else _HONEST_PROPENSITY

    def import_lot_lines(self, firm: Firm, t: float) -> None:
        """One import document of `firm` at time t, then what happens to each of its lots."""
        rng, cat = self.rng, self.catalogue
        size = 1 + min(int(rng.geometric(0.4 if firm.kind.endswith("distributor") else 0.55)), 11)
        rows = list(dict.fromkeys(int(r) for r in rng.choice(firm.portfolio, size=size)))
        from_eaeu = firm.kind not in EVASION_KINDS and rng.random() < _EAEU_SOURCING.get(
            firm.kind, 0.05
        )
        # Goods bought in Russia or Belarus are not what export controls keep from Russia.
        base = 0.0 if from_eaeu else self.propensity(firm) * period_factor(t)
        probs = [min(0.97, base * cat.goods_weight(r)) for r in rows]
        evades = [bool(rng.random() < p) for p in probs]
        typology = self.typology(firm, t) if any(evades) else None
        evasive_route = firm.kind in EVASION_KINDS or any(evades)
        electronic = any(cat.is_electronic(r) for r in rows)
        chain = self.chain_id()
        lines = [
            self.new_line(firm, row, Truth(ev, typology if ev else None, chain, p), typology)
            for row, ev, p in zip(rows, evades, probs, strict=True)
        ]
        if from_eaeu:
            self.write_eaeu_import(firm, t, lines)
        else:
            self.write_dt_import(firm, t, lines, evasive_route, electronic)
        t = lines[0].t  # from here on, time runs from the import document
        evasion = [ln for ln in lines if ln.truth.is_evasion]
        honest = [ln for ln in lines if not ln.truth.is_evasion]
        if evasion and typology is not None:
            self.evasion_chain(firm, evasion, typology, t)
        if honest:
            self.dispose(firm, honest, t, depth=0)

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

    def typology(self, firm: Firm, t: float) -> str:
        """The scheme an evasion consignment follows, given who holds it and when."""
        rng = self.rng
        if t >= KZ_EXPORT_BAN and rng.random() < 0.2:
            return Typology.REGIME_ADAPTATION
        if firm.kind == "shell":
            return pick(rng, {Typology.PASS_THROUGH_SHELL: 0.8, Typology.PRICE_GAMES: 0.2})
        if firm.kind == "layering":
            return Typology.LAYERED_RESALE
        if firm.kind == "dormant":
            return Typology.DORMANT_REACTIVATION
        late = t >= SNT_MANDATORY  # tracking pushed evaders to disguise the goods themselves
        return pick(
            rng,
            {
                Typology.MISCLASSIFICATION: 0.45 if late else 0.25,
                Typology.ORIGIN_LAUNDERING: 0.35 if late else 0.25,
                Typology.PRICE_GAMES: 0.2 if late else 0.5,
            },
        )

    def evasion_chain(self, importer: Firm, lots: list[Line], typology: str, t: float) -> None:
        """Carry evasion lots through 0-3 Kazakh firms to a Russian (or Central Asian) buyer."""
        rng = self.rng
        holder, hops = importer, self.hops(importer, typology)
        for buyer in hops:
            t += rng.lognormal(np.log(2.0), 0.6)
            lots = self.resell(holder, buyer, lots, t, link_p=0.45, markup=(1.02, 1.1))
            holder, t = buyer, lots[0].t
        t += self.evasion_dwell()
        has_document = rng.random() < (0.97 if t >= SNT_MANDATORY else 0.55)
        if t >= self.end or not has_document:
            return  # goods left without a document, or after the window
        fronts = self.foreign.ru_fronts
        start = int(holder.firm_id[-4:]) % len(fronts)
        buyer_id = fronts[(start + int(rng.integers(3))) % len(fronts)]
        destination = "RU"
        if typology == Typology.REGIME_ADAPTATION:
            buyer_id = str(rng.choice(self.foreign.ca_fronts))
            destination = buyer_id[:2]
        out = [self.evasion_export_line(lot, typology, t) for lot in lots]
        self.write_snt_export(holder, buyer_id, destination, t, out)

    def hops(self, importer: Firm, typology: str) -> list[Firm]:
        members = [f for f in self.networks.get(importer.network, []) if f is not importer]
        rng = self.rng
        count = int(rng.integers(1, 4)) if typology == Typology.LAYERED_RESALE else 0
        if typology != Typology.LAYERED_RESALE and members and rng.random() < 0.15:
            count = 1
        if not members:
            return []
        picked = rng.choice(len(members), size=min(count, len(members)), replace=False)
        return [members[int(i)] for i in picked]

    def evasion_dwell(self) -> float:
        """Days from arrival to departure for Russia: a mass at 0-1 day, median ~3 days."""
        if self.rng.random() < 0.3:
            return self.rng.uniform(0.0, 1.0)
        return float(self.rng.lognormal(np.log(3.5), 0.7))

    def evasion_export_line(self, lot: Line, typology: str, t: float) -> Line:
        rng = self.rng
        markup = (
            rng.uniform(2.0, 4.0) if typology == Typology.PRICE_GAMES else rng.uniform(1.1, 1.6)
        )
        line = self.copy_line(lot, 1.0, markup, link_p=0.5 if t >= SNT_MANDATORY else 0.2)
        if typology == Typology.MISCLASSIFICATION:
            line.hs_code, line.description = self.neighbour(lot.row, lot.description)
        if typology == Typology.ORIGIN_LAUNDERING:
            line.origin = pick(rng, {"CN": 0.6, "KZ": 0.15, "TR": 0.1, "MY": 0.1, "IN": 0.05})
        return line

    # --- resale and exports ----------------------------------------------------------------

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

    def dispose(self, holder: Firm, lots: list[Line], t: float, depth: int) -> None:
        """What honest holders do with goods: consume them or sell them on over weeks."""
        if holder.kind in _CONSUMERS or depth > 1:
            return
        rng = self.rng
        sales = 1 + min(int(rng.poisson(0.8)), 3)
        median = 6.0 if holder.fast_turn else 45.0
        for _ in range(sales):
            chosen = [lot for lot in lots if rng.random() < 0.7] or lots[:1]
            when = t + rng.lognormal(np.log(median), 0.8)
            if when >= self.end:
                continue
            self.sell(holder, chosen, when, 1.0 / sales, depth)

    def sell(self, holder: Firm, lots: list[Line], t: float, share: float, depth: int) -> None:
        rng = self.rng
        # After the invasion Russian demand made Kazakhstan a busy, mostly lawful, route for
        # Chinese goods ("parallel imports"): honest exports to Russia rise too.
        export_p = 0.3 if holder.kind == "wholesaler" else 0.12
        if t >= INVASION:
            export_p += 0.15
        if rng.random() < export_p:
            # Honest firms stopped sending coalition-made CHPL goods to Russia in 2022.
            allowed = [ln for ln in lots if not self.sanctioned_for_honest(ln, t)]
            if allowed:
                self.honest_export(holder, allowed, t, share)
                return
        buyer = self.domestic_buyer(depth)
        new = self.resell(holder, buyer, lots, t, link_p=0.7, markup=(1.05, 1.35), share=share)
        self.dispose(buyer, new, new[0].t, depth + 1)

    def sanctioned_for_honest(self, line: Line, t: float) -> bool:
        coalition = line.origin not in ("CN", "KZ", "RU", "BY", "IN", "MY", "TR", "UZ")
        return bool(self.catalogue.tier[line.row]) and coalition and t >= FINCEN_ALERT - 120

    def domestic_buyer(self, depth: int) -> Firm:
        if depth == 0 and self.resellers and self.rng.random() < 0.12:
            return self.resellers[int(self.rng.integers(len(self.resellers)))]
        return self.buyers[int(self.rng.integers(len(self.buyers)))]

    def honest_export(self, holder: Firm, lots: list[Line], t: float, share: float) -> None:
        rng = self.rng
        if t < SNT_MANDATORY and rng.random() < 0.45:
            return  # before April 2023 many EAEU exports carried no SNT
        link_p = 0.85 if t >= SNT_MANDATORY else 0.6
        out = [self.copy_line(lot, share, rng.uniform(1.05, 1.35), link_p) for lot in lots]
        destination = pick(rng, {"RU": 85, "KG": 7, "BY": 4, "AM": 2, "UZ": 2})
        if destination == "UZ":  # Uzbekistan is outside the EAEU: a customs export
            self.write_dt_export(holder, "UZ", t, out)
            return
        buyer = (
            str(rng.choice(self.foreign.ru_buyers))
            if destination == "RU"
            else destination + (f"{int(rng.integers(10**9, 10**10)):010d}")
        )
        self.write_snt_export(holder, buyer, destination, t, out)

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


_EAEU_SOURCING = {"wholesaler": 0.45, "manufacturer": 0.3, "retailer": 0.25, "end_user": 0.3}
