from __future__ import annotations

from collections import Counter

from riskscore import reference


def test_chpl_has_all_fifty_codes_in_their_tiers() -> None:
    table = reference.chpl()
    assert len(table) == 50
    assert table["hs6"].is_unique
    assert Counter(table["tier"]) == {"1": 4, "2": 5, "3.A": 16, "3.B": 9, "4.A": 11, "4.B": 5}


def test_catalogue_covers_every_chpl_code_with_a_neighbour() -> None:
    cat = reference.hs_catalogue()
    chpl = set(reference.chpl_tiers())
    assert cat["hs10"].str.fullmatch(r"\d{10}").all()
    assert cat["hs10"].is_unique
    assert (cat["hs10"].str[:6] == cat["hs6"]).all()
    assert chpl <= set(cat["hs6"])
    neighbours = cat.loc[cat["neighbour_of_chpl"] != ""]
    assert chpl <= set(neighbours["neighbour_of_chpl"])
    assert not set(neighbours["hs6"]) & chpl, "a neighbour code must not itself be CHPL"
    assert (cat[["unit_value_usd", "kg_per_unit", "unit_value_sigma"]] > 0).all().all()


def test_value_density_differs_by_tier() -> None:
    cat = reference.hs_catalogue()
    density = cat["unit_value_usd"] / cat["kg_per_unit"]
    chips = density[cat["hs6"].str.startswith("85423")]
    bearings = density[cat["hs6"].isin(["848210", "848220", "848230", "848250"])]
    assert chips.min() > 1_000  # thousands of USD per kg
    assert bearings.max() < 200  # tens of USD per kg


def test_country_groups_and_offices_are_consistent() -> None:
    known = reference.countries()
    assert len(known) >= 249
    for group in ("eaeu", "sanctions_coalition", "transshipment_hub", "central_asia"):
        assert reference.country_group(group) <= known
    assert reference.country_group("eaeu") == {"KZ", "RU", "BY", "KG", "AM"}
    offices = reference.offices()
    assert set(offices["region_id"]) <= set(reference.regions()["region_id"])
    russian = offices[(offices["neighbour_country"] == "RU") & (offices["kind"] == "road_crossing")]
    assert len(russian) >= 15
