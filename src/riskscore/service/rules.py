"""The legacy selectivity rules a document triggers, named as officers know them."""

from __future__ import annotations

import numpy as np

from riskscore.features.columns import Columns, isin
from riskscore.features.product import chpl_tier_rank, neighbour_codes
from riskscore.features.route import country_group_code

_COALITION = 2.0
_EAEU_PARTNER, _HUB = 1.0, 3.0
# The rules that send a document red when the service answers on the rules alone: CHPL goods
# leaving for Russia or another EAEU partner, where no customs border stops them.
_RED_RULES = ("CHPL tier 1 bound for Russia", "CHPL goods bound for an EAEU partner")


def rules_triggered(lines: Columns, features: Columns) -> list[str]:
    """Names of the rules any line of the document triggers, in a fixed order.

    `lines` are the document's columns (flow, destination); `features` its served features
    by name, one value per line.
    """
    flow = lines["flow"]
    tier = features["chpl_tier_rank"]
    chpl = ~np.isnan(tier)
    exporting, importing = flow == "export", flow == "import"
    to_russia = lines["destination_country"] == "RU"
    to_eaeu = features["destination_eaeu_partner_flag"] == 1.0
    checks = [
        ("CHPL tier 1 bound for Russia", exporting & to_russia & (tier == 1.0)),
        ("CHPL goods bound for an EAEU partner", exporting & to_eaeu & chpl),
        (
            "CHPL import from a transshipment hub",
            importing & chpl & (features["dispatch_hub_flag"] == 1.0),
        ),
        (
            "CHPL goods of coalition origin leaving Kazakhstan",
            exporting & chpl & (features["origin_group"] == _COALITION),
        ),
        ("CHPL goods in transit", (flow == "transit") & chpl),
        (
            "Firm registered after 2022-02-24 trading CHPL goods",
            chpl & (features["firm_registered_after_invasion"] == 1.0),
        ),
        ("Neighbour of a CHPL code declared", features["near_chpl_flag"] == 1.0),
    ]
    return [name for name, hit in checks if bool(np.any(hit))]


def rules_only(lines: Columns, home: str) -> tuple[str, list[str]]:
    """The channel and rules of a document judged on its own lines, with no model and no
    state (a degraded answer): red for CHPL goods bound for Russia or another EAEU partner
    (whatever the declared flow), yellow for any other rule, green otherwise. Rules that
    need the firms register (a firm registered after the invasion) cannot fire.

    `lines` are the document's prepared columns (flow, countries, hs6).
    """
    tier = chpl_tier_rank(lines["hs6"])
    destination = country_group_code(lines["destination_country"], home)
    features = {
        "chpl_tier_rank": tier,
        "destination_eaeu_partner_flag": (destination == _EAEU_PARTNER).astype(float),
        "dispatch_hub_flag": (country_group_code(lines["dispatch_country"], home) == _HUB).astype(
            float
        ),
        "origin_group": country_group_code(lines["origin_country"], home),
        "firm_registered_after_invasion": np.full(len(tier), np.nan),
        "near_chpl_flag": isin(lines["hs6"], neighbour_codes()).astype(float),
    }
    rules = rules_triggered(lines, features)
    # CHPL goods bound for an EAEU partner go red whatever flow the document declares (an
    # SNT declared domestic or import still moves them across a border nobody checks).
    leaving = bool(np.any(~np.isnan(tier) & (destination == _EAEU_PARTNER)))
    red = leaving or bool(set(rules) & set(_RED_RULES))
    return ("red" if red else "yellow" if rules else "green"), rules
