"""Route features: where the goods come from, pass through and go, and how."""

from __future__ import annotations

from functools import cache

import numpy as np

from riskscore.features.aggregates import Aggregation, First, Occurrences
from riskscore.features.catalogue import Spec
from riskscore.features.columns import Columns, lookup
from riskscore.features.inputs import Inputs
from riskscore.features.stats import FeatureStats
from riskscore.reference import HOME_COUNTRY, country_group

_DOC = "this document"
# (feature, the line column it encodes, meaning)
_CODES = (
    ("doc_type_code", "doc_type", "Document type: customs declaration (DT), e-invoice (ESF) or accompanying invoice (SNT)"),
    ("flow_code", "flow", "Direction of the goods: import, domestic, export or transit"),
    ("origin_country_code", "origin_country", "Country where the goods were made"),
    ("dispatch_country_code", "dispatch_country", "Country the goods were dispatched from"),
    ("destination_country_code", "destination_country", "Country the goods are going to"),
    ("partner_country_code", "partner_country", "Country of the party on the other side of the deal"),
    ("transport_mode_code", "transport_mode", "Mode of transport at the border"),
    ("office_code", "office", "Customs office or border crossing"),
    ("invoice_currency_code", "invoice_currency", "Currency of the invoice"),
)  # fmt: skip
GROUPS = ("home", "eaeu_partner", "sanctions_coalition", "transshipment_hub", "other")
SPECS: tuple[Spec, ...] = (
    *(Spec(name, "route", meaning, "category", _DOC, True, source) for name, source, meaning in _CODES),
    Spec("origin_group", "route", "Group of the origin country: 0 home country (Kazakhstan by default), 1 EAEU partner, 2 sanctions coalition, 3 transshipment hub, 4 other", "category", _DOC, True),
    Spec("dispatch_group", "route", "Group of the dispatch country (same groups as origin_group)", "category", _DOC, True),
    Spec("destination_group", "route", "Group of the destination country (same groups as origin_group)", "category", _DOC, True),
    Spec("origin_differs_from_dispatch", "route", "The goods were made in one country and dispatched from another", "0/1", _DOC),
    Spec("dispatch_hub_flag", "route", "Dispatched from a known transshipment hub (Hong Kong, UAE, Turkey, ...)", "0/1", _DOC),
    Spec("origin_coalition_flag", "route", "Made in a country of the sanctions coalition (US, EU, UK, Japan, ...)", "0/1", _DOC),
    Spec("destination_eaeu_partner_flag", "route", "Going to Russia, Belarus, Kyrgyzstan or Armenia (no customs border)", "0/1", _DOC),
    Spec("route_new_for_firm", "route", "The firm has never before used this route (origin, dispatch, destination) for this HS heading", "0/1", "all history before t"),
)  # fmt: skip


def country_group_code(countries: np.ndarray, home: str = HOME_COUNTRY) -> np.ndarray:
    """Ordinal group of a country (see GROUPS; group 0 is the home country, Kazakhstan unless
    the dataset says otherwise); the first group that holds it wins.

    >>> country_group_code(np.array(["KZ", "RU", "DE", "HK", "BR", "XX"], dtype=object)).tolist()
    [0.0, 1.0, 2.0, 3.0, 3.0, 4.0]
    >>> country_group_code(np.array(["KG", "KZ"], dtype=object), home="KG").tolist()
    [0.0, 1.0]
    """
    return lookup(countries, _group_codes(home), default=4.0)


@cache
def _group_codes(home: str) -> dict[str, float]:
    """Country -> group code, the first group that holds it winning (home is in the EAEU too)."""
    codes: dict[str, float] = {}
    groups = ([home], country_group("eaeu"), country_group("sanctions_coalition"),
              country_group("transshipment_hub"))  # fmt: skip
    for code, members in enumerate(groups):
        for country in sorted(members):
            codes.setdefault(country, float(code))
    return codes


def _routes(inputs: Inputs) -> Occurrences:
    every = np.arange(len(inputs.lines["t"]))
    return Occurrences(inputs.key(ROUTES.item), inputs.lines["t"], (), every)


# A route: the firm, the origin, dispatch and destination countries and the HS heading.
ROUTES = First("routes", ("subject_id", "origin_country", "dispatch_country",
                          "destination_country", "hs4"), (), _routes)  # fmt: skip
AGGREGATIONS: tuple[Aggregation, ...] = (ROUTES,)


def compute(inputs: Inputs, stats: FeatureStats) -> Columns:
    """The route features of every line."""
    lines = inputs.rows
    out = stats.encode_all(SPECS, lines)
    for group, column in (("origin_group", "origin_country"), ("dispatch_group", "dispatch_country"),
                          ("destination_group", "destination_country")):  # fmt: skip
        out[group] = country_group_code(lines[column], stats.home_country)
    out["origin_differs_from_dispatch"] = (
        lines["origin_country"] != lines["dispatch_country"]
    ).astype(float)
    out["dispatch_hub_flag"] = (out["dispatch_group"] == 3).astype(float)
    out["origin_coalition_flag"] = (out["origin_group"] == 2).astype(float)
    out["destination_eaeu_partner_flag"] = (out["destination_group"] == 1).astype(float)
    route = inputs.at(inputs.key(ROUTES.item))
    seen = inputs.first(ROUTES).seen_before(route, inputs.at(inputs.lines["t"]))
    out["route_new_for_firm"] = (~seen).astype(float)
    return out
