"""Plain words for the codes the evaluation uses: rankers and evasion schemes."""

from __future__ import annotations

RANKERS: dict[str, str] = {
    "model": "Model",
    "raw_lightgbm": "LightGBM on the raw columns",
    "legacy_rules": "Current rules",
    "random": "Random choice",
    "oracle": "Generator's chain-start probability",
}
RANKER_NOTES: dict[str, str] = {
    "model": "this model's score",
    "raw_lightgbm": "the same kind of model trained on what each document says by itself, "
    "without the firms' history: what the history adds is the gap to the model",
    "legacy_rules": "the risk rules customs uses today",
    "random": "documents picked at random",
    "oracle": "the probability the simulation gave a chain when it started, known only in "
    "simulation; a model that sees how the chain unfolds can beat it",
}

FAMILIES: dict[str, str] = {
    "product": "Goods",
    "route": "Route",
    "value": "Price and value",
    "party": "Firm history",
    "chain": "Resale chain",
    "extra": "Your own columns",
}

# Names and one-line descriptions of the typologies of docs/world.md.
TYPOLOGIES: dict[str, tuple[str, str]] = {
    "pass_through_shell": (
        "Pass-through shell",
        "A young shell firm imports sensitive goods and sends them on to Russia within days.",
    ),
    "layered_resale": (
        "Layered resale",
        "Goods hop through several related Kazakh firms before leaving for Russia.",
    ),
    "misclassification": (
        "Misclassification",
        "Controlled goods are declared under a neighbouring, uncontrolled code.",
    ),
    "origin_laundering": (
        "Origin laundering",
        "The country of origin is changed between import and export.",
    ),
    "price_games": (
        "Price games",
        "Goods are undervalued at import, then resold to Russia at several times the price.",
    ),
    "dormant_reactivation": (
        "Dormant firm woken up",
        "An old, silent firm suddenly imports controlled goods and exports them fast.",
    ),
    "ghost_transit": (
        "Ghost transit",
        "Controlled goods declared in transit to a Central Asian front company.",
    ),
    "regime_adaptation": (
        "Rerouting after the 2023 ban",
        "Chains that end in Kyrgyzstan or Armenia instead of Russia.",
    ),
}


def ranker_name(ranker: str) -> str:
    """The ranker's name for the report.

    >>> ranker_name("legacy_rules"), ranker_name("new_ranker")
    ('Current rules', 'New ranker')
    """
    return RANKERS.get(ranker, ranker.replace("_", " ").capitalize())


def typology_name(typology: str) -> tuple[str, str]:
    """The typology's name and description, or a readable name alone when it is unknown.

    >>> typology_name("ghost_transit")[0], typology_name("new_scheme")
    ('Ghost transit', ('New scheme', ''))
    """
    return TYPOLOGIES.get(typology, (typology.replace("_", " ").capitalize(), ""))


def family_name(family: str) -> str:
    """The feature family's name for the report.

    >>> family_name("party"), family_name("weather")
    ('Firm history', 'Weather')
    """
    return FAMILIES.get(family, family.replace("_", " ").capitalize())
