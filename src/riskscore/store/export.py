"""Everything the service stored, as a dataset `riskscore train` accepts: documents (with
their extras), outcomes, the firms register, and the feature vectors it served.

Read through the `Store` protocol's read-only export methods, so any backend can be
exported. `served.parquet` holds each served line's vector with the model that served it
(the vector is in that model's feature order), so served and recomputed features can be
compared line by line.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from riskscore.data import DatasetInfo, write_info
from riskscore.data.dataset import staged
from riskscore.data.types import to_arrow
from riskscore.errors import ConfigError
from riskscore.reference import HOME_COUNTRY
from riskscore.schema import EXTRA_PREFIX, arrow_schema, extra_columns
from riskscore.store.base import Store

SERVED = "served.parquet"
_SERVED_SCHEMA = pa.schema([
    ("document_id", pa.string()), ("item_no", pa.int32()), ("model_name", pa.string()),
    ("model_version", pa.string()), ("features", pa.list_(pa.float64())),
])  # fmt: skip


def export_state(
    store: Store, out: Path, since: datetime | None = None, home_country: str = HOME_COUNTRY
) -> dict[str, int]:
    """Write the store's documents issued at or after `since` (all when None) with their
    outcomes, the register and the served vectors into the dataset folder `out` (replaced
    when it holds a dataset); rows per file."""
    lines = store.export_lines(since)
    if lines.empty:
        raise ConfigError("the online state holds no document issued in that time")
    with staged(out) as staging:
        return _write_all(store, staging, lines, since, home_country)


def _write_all(
    store: Store, staging: Path, lines: pd.DataFrame, since: datetime | None, home_country: str
) -> dict[str, int]:
    extras = {c.removeprefix(EXTRA_PREFIX): _kind(lines[c]) for c in extra_columns(lines.columns)}
    counts = {"documents": _write(staging, "documents", lines, extras)}
    counts["outcomes"] = _write(staging, "outcomes", store.export_outcomes(since))
    firms = store.firms()
    if len(firms):
        counts["firms"] = _write(staging, "firms", firms)
    served = _served(store.export_answers(since))
    pq.write_table(to_arrow(served, _SERVED_SCHEMA), staging / SERVED)
    counts["served"] = len(served)
    write_info(staging, DatasetInfo(home_country=home_country, extras=extras))
    return counts


def _kind(values: pd.Series) -> str:
    numeric = pd.api.types.is_numeric_dtype(values)
    return "numeric" if numeric else "categorical"


def _write(
    folder: Path, table: str, frame: pd.DataFrame, extras: dict[str, str] | None = None
) -> int:
    schema = arrow_schema(table)
    for name, kind in (extras or {}).items():
        kind_type = pa.float64() if kind == "numeric" else pa.string()
        schema = schema.append(pa.field(EXTRA_PREFIX + name, kind_type, nullable=True))
    pq.write_table(to_arrow(frame, schema), folder / f"{table}.parquet", compression="zstd")
    return len(frame)


def _served(answers: pd.DataFrame) -> pd.DataFrame:
    """One row per served line: its document, item, the model that answered and the vector."""
    rows = []
    for document_id, body, features in answers.itertuples(index=False, name=None):
        answer = json.loads(body)
        vectors = json.loads(features)
        for item, vector in zip(answer["items"], vectors, strict=True):
            rows.append({
                "document_id": document_id, "item_no": item["item_no"],
                "model_name": answer["model_name"], "model_version": answer["model_version"],
                "features": [np.nan if v is None else float(v) for v in vector],
            })  # fmt: skip
    columns = list(_SERVED_SCHEMA.names)
    return pd.DataFrame(rows, columns=columns)
