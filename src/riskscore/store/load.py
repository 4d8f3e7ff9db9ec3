"""Warming a store with a history: documents, outcomes and the firms register."""

from __future__ import annotations

import pandas as pd

from riskscore.reference import HOME_COUNTRY
from riskscore.store.base import Progress, Store


def load_history(
    store: Store,
    documents: pd.DataFrame,
    outcomes: pd.DataFrame | None,
    firms: pd.DataFrame | None,
    until: pd.Timestamp | None = None,
    progress: Progress | None = None,
    home_country: str = HOME_COUNTRY,
) -> dict[str, int]:
    """Fill an empty store with documents issued and outcomes recorded before `until`.

    Every key's state is computed over the whole history at once, by the batch engine the
    training features use, and stored with the lines.
    """
    if until is not None:
        documents = documents[documents["issued_at"] < until]
        if outcomes is not None:
            outcomes = outcomes[outcomes["recorded_at"] < until]
    store.load(documents, outcomes, firms, progress, home_country)
    return {"lines": len(documents), "outcomes": 0 if outcomes is None else len(outcomes)}
