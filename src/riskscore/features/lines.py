"""The columns every feature family starts from, derived once from the documents frame.

The *subject* of a line is the Kazakh firm whose risk the document expresses: the importer
(consignee) of an import, the seller (consignor) of an ESF or an export, the declarant of a
transit. The *partner* is the party on the other side.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from riskscore.features.history import seconds

SECONDS_PER_DAY = 86_400


def prepare(documents: pd.DataFrame) -> pd.DataFrame:
    """Derived columns on the same index: t, HS levels, subject and partner, amounts.

    >>> doc = pd.DataFrame({
    ...     "document_id": ["D1"], "flow": ["import"], "hs_code": ["8542310000"],
    ...     "issued_at": pd.to_datetime(["2023-01-01T00:00:10Z"]), "declarant_id": ["B"],
    ...     "consignor_id": ["HK1"], "consignor_country": ["HK"], "consignee_id": ["K1"],
    ...     "consignee_country": ["KZ"], "supplementary_qty": [10.0], "net_mass_kg": [1.0],
    ...     "value_usd": [500.0]})
    >>> prepare(doc)[["t", "hs4", "subject_id", "partner_id", "unit_value"]].values.tolist()
    [[1672531210, '8542', 'K1', 'HK1', 50.0]]
    """
    d = documents
    flow = d["flow"].to_numpy(dtype=object)
    importing = flow == "import"
    transit = flow == "transit"
    subject = np.where(
        importing, d["consignee_id"], np.where(transit, d["declarant_id"], d["consignor_id"])
    )
    partner = np.where(importing, d["consignor_id"], d["consignee_id"])
    partner_country = np.where(importing, d["consignor_country"], d["consignee_country"])
    amount = d["supplementary_qty"].where(d["supplementary_qty"] > 0, d["net_mass_kg"])
    amount = amount.where(amount > 0)
    out = pd.DataFrame(
        {
            "t": seconds(d["issued_at"]),
            "hs6": d["hs_code"].str[:6],
            "hs4": d["hs_code"].str[:4],
            "chapter": d["hs_code"].str[:2],
            "subject_id": subject,
            "partner_id": partner,
            "partner_country": partner_country,
            "amount": amount,
            "unit_value": d["value_usd"] / amount,
        },
        index=d.index,
    )
    return out
