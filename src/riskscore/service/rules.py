"""The legacy selectivity rules a document triggers, named as officers know them."""

from __future__ import annotations

import pandas as pd

# Conditions on the served features (and flow) -> the rule's name.
_EAEU_GROUP = 1.0
_COALITION = 2.0


def rules_triggered(rows: pd.DataFrame, features: pd.DataFrame) -> list[str]:
    """Names of the rules any line of the document triggers, in a fixed order."""
    flow = rows["flow"].to_numpy(dtype=object)
    tier = features["chpl_tier_rank"]
    chpl = tier.notna()
    to_eaeu = features["destination_eaeu_partner_flag"] == 1.0
    exporting = pd.Series(flow == "export", index=features.index)
    importing = pd.Series(flow == "import", index=features.index)
    to_russia = pd.Series(
        rows["destination_country"].to_numpy(dtype=object) == "RU", index=features.index
    )
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
        ("CHPL goods in transit", pd.Series(flow == "transit", index=features.index) & chpl),
        (
            "Firm registered after 2022-02-24 trading CHPL goods",
            chpl & (features["firm_registered_after_invasion"] == 1.0),
        ),
        ("Neighbour of a CHPL code declared", features["near_chpl_flag"] == 1.0),
    ]
    return [name for name, hit in checks if bool(hit.any())]
