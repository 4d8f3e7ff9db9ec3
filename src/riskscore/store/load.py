"""Warming a store with a history: documents, outcomes and the firms register."""

from __future__ import annotations

import pandas as pd

from riskscore.features import trace_lots
from riskscore.reference import HOME_COUNTRY
from riskscore.store.base import Store


def load_history(
    store: Store,
    documents: pd.DataFrame,
    outcomes: pd.DataFrame | None,
    firms: pd.DataFrame | None,
    until: pd.Timestamp | None = None,
    home_country: str = HOME_COUNTRY,
) -> dict[str, int]:
    """Warm the store with documents issued and outcomes recorded before `until`.

    The lots of bought lines are traced over the whole history first, exactly as the batch
    pipeline traces them, and stored with the lines.
    """
    if until is not None:
        documents = documents[documents["issued_at"] < until]
        if outcomes is not None:
            outcomes = outcomes[outcomes["recorded_at"] < until]
    lots = trace_lots(documents, home_country)
    store.add_lines(pd.concat([documents, lots], axis=1))
    if outcomes is not None:
        store.add_outcomes(outcomes)
    if firms is not None:
        store.set_firms(firms)
    return {"lines": len(documents), "outcomes": 0 if outcomes is None else len(outcomes)}
