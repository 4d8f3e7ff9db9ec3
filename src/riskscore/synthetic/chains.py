"""Documents as chains: imports, domestic resale, exports to Russia, and the evasion paths.

An imported item line is a *lot*. For each lot the generator draws whether it is part of a
re-export chain, with probability `p_evasion` (hidden kind of the importer x attractiveness of
the goods x policy period). Evasion lots follow their typology's path to a Russian buyer within
days; the rest are consumed, sold on domestically over weeks, or exported legitimately.
`docs/world.md` describes each path and how it shows in the data.
"""

from __future__ import annotations

import numpy as np

from riskscore.schema import Typology
from riskscore.synthetic.goods import pick
from riskscore.synthetic.ledger import Line, Truth
from riskscore.synthetic.parties import EVASION_KINDS, Firm
from riskscore.synthetic.world import (
    FINCEN_ALERT,
    INVASION,
    KZ_EXPORT_BAN,
    SNT_MANDATORY,
    period_factor,
)
from riskscore.synthetic.writers import CONSUMERS, DocumentWriter

# Hidden propensity to divert a lot, by kind, before goods and period are applied.
_KIND_PROPENSITY = {"shell": 0.95, "layering": 0.92, "dormant": 0.9}
_DIVERTER_PROPENSITY = 0.2
_HONEST_PROPENSITY = 0.004


class ChainEngine(DocumentWriter):
    """Decides what happens to every lot of one community and writes it into the ledger."""

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

    def dispose(self, holder: Firm, lots: list[Line], t: float, depth: int) -> None:
        """What honest holders do with goods: consume them or sell them on over weeks."""
        if holder.kind in CONSUMERS or depth > 1:
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


_EAEU_SOURCING = {"wholesaler": 0.45, "manufacturer": 0.3, "retailer": 0.25, "end_user": 0.3}
