"""The legacy selectivity rules a document triggers, named as officers know them."""

from __future__ import annotations

import numpy as np

from riskscore.features.columns import Columns

_COALITION = 2.0


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
