"""Stores of every backend, and small hand-readable documents to put in them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from riskscore.features import STORED
from riskscore.features.columns import columns_of_rows
from riskscore.schema import Document, document_rows
from riskscore.store import Store, open_store

T0 = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)
BACKENDS = ["sqlite"]


@pytest.fixture(params=BACKENDS)
def open_backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], Store]]:
    """Opens another connection to one fresh store of the backend (the first call creates it);
    every store opened is closed afterwards."""
    opened: list[Store] = []
    url = f"sqlite:///{tmp_path / 'state.db'}"

    def open_one() -> Store:
        opened.append(open_store(url))
        return opened[-1]

    yield open_one
    for store in opened:
        store.close()


@pytest.fixture
def store(open_backend: Callable[[], Store]) -> Store:
    return open_backend()


def document(document_id: str, seller: str, buyer: str, days: float, items: int = 1) -> Document:
    """An ESF from one Kazakh firm to another, `days` after T0."""
    return Document.model_validate(
        {"document_id": document_id, "doc_type": "ESF", "flow": "domestic",
         "issued_at": T0 + timedelta(days=days), "declarant_id": seller, "consignor_id": seller,
         "consignor_country": "KZ", "consignee_id": buyer, "consignee_country": "KZ",
         "dispatch_country": "KZ", "destination_country": "KZ", "transport_mode": "road",
         "invoice_currency": "KZT",
         "items": [{"item_no": i, "hs_code": "8542310000", "description": "chips",
                    "origin_country": "US", "net_mass_kg": 1.0, "gross_mass_kg": 1.5,
                    "supplementary_qty": 10.0, "supplementary_unit": "pcs",
                    "value_usd": 100.0 * i} for i in range(1, items + 1)]}
    )  # fmt: skip


def no_lots(count: int) -> dict[str, np.ndarray]:
    """STORED columns of lines that neither bought nor sold from stock."""
    return {name: np.full(count, np.nan, dtype=object) for name in STORED}


def rows_and_columns(doc: Document, store: Store) -> tuple[list[dict[str, Any]], Any]:
    rows = document_rows(doc)
    return rows, store.prepared(columns_of_rows(rows))


def outcome(
    document_id: str, item_no: int = 1, found: bool = False, days: float = 5
) -> dict[str, Any]:
    at = T0 + timedelta(days=days)
    return {"document_id": document_id, "item_no": item_no, "selected_by": "rule",
            "inspected_at": pd.Timestamp(at), "recorded_at": pd.Timestamp(at),
            "violation_found": found, "finding": "layered_resale" if found else None}  # fmt: skip


def firm(firm_id: str, address: str = "A1") -> dict[str, Any]:
    return {"firm_id": firm_id, "registered_at": pd.Timestamp("2020-01-01", tz="UTC"),
            "activity_code": "46.52", "region": "ALA", "address_id": address,
            "director_id": f"D-{firm_id}", "founder_country": "KZ"}  # fmt: skip
