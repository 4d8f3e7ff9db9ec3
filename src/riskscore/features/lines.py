"""The columns every feature family starts from, derived once from the document columns.

The *subject* of a line is the Kazakh firm whose risk the document expresses: the importer
(consignee) of an import, the seller (consignor) of an ESF or an export, the declarant of a
transit. The *partner* is the party on the other side.
"""

from __future__ import annotations

import numpy as np

from riskscore.features.columns import MICROS_PER_SECOND, Columns, positive, prefix

DERIVED = ("t", "hs6", "hs4", "chapter", "subject_id", "partner_id", "partner_country", "amount",
           "unit_value")  # fmt: skip


def prepare(cols: Columns) -> Columns:
    """Derived columns: t (whole seconds), HS levels, subject and partner, amounts.

    >>> doc = {"flow": np.array(["import"], dtype=object),
    ...        "hs_code": np.array(["8542310000"], dtype=object),
    ...        "issued_us": np.array([1_672_531_210_500_000]),
    ...        "declarant_id": np.array(["B"], dtype=object),
    ...        "consignor_id": np.array(["HK1"], dtype=object),
    ...        "consignor_country": np.array(["HK"], dtype=object),
    ...        "consignee_id": np.array(["K1"], dtype=object),
    ...        "consignee_country": np.array(["KZ"], dtype=object),
    ...        "supplementary_qty": np.array([10.0]), "net_mass_kg": np.array([1.0]),
    ...        "value_usd": np.array([500.0])}
    >>> [prepare(doc)[c].tolist() for c in ("t", "hs4", "subject_id", "partner_id", "unit_value")]
    [[1672531210], ['8542'], ['K1'], ['HK1'], [50.0]]
    """
    flow = cols["flow"]
    importing = flow == "import"
    transit = flow == "transit"
    subject = np.where(
        importing,
        cols["consignee_id"],
        np.where(transit, cols["declarant_id"], cols["consignor_id"]),
    )
    qty = cols["supplementary_qty"]
    amount = positive(np.where(qty > 0, qty, cols["net_mass_kg"]))
    hs_code = cols["hs_code"]
    return {
        "t": cols["issued_us"] // MICROS_PER_SECOND,
        "hs6": prefix(hs_code, 6),
        "hs4": prefix(hs_code, 4),
        "chapter": prefix(hs_code, 2),
        "subject_id": subject,
        "partner_id": np.where(importing, cols["consignor_id"], cols["consignee_id"]),
        "partner_country": np.where(
            importing, cols["consignor_country"], cols["consignee_country"]
        ),
        "amount": amount,
        "unit_value": cols["value_usd"] / amount,
    }
