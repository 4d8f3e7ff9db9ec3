"""Lines as columns: plain numpy arrays keyed by name, the form every feature family reads.

The families run on whole training windows (millions of lines) and, in the service, on one
document plus its parties' history (hundreds of lines). A pandas call costs tens of
microseconds whatever its size, and a served document has a few milliseconds in all, so the
families work on numpy arrays: numbers as float64 or int64, text as object arrays with None
for missing. The few operations numpy has no form of on object arrays (membership, mapping,
prefixes) are written here once, as plain comprehensions: they cost ~50 ns a value, which is
as fast as pandas' own loops over Python strings.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from riskscore.schema import extra_columns

Columns = dict[str, np.ndarray]
MICROS_PER_SECOND = 1_000_000  # times travel as microseconds; features count whole seconds
SECONDS_PER_DAY = 86_400
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# The document columns the features read (a served history needs nothing else).
TEXT = ("document_id", "doc_type", "flow", "declarant_id", "consignor_id", "consignor_country",
        "consignee_id", "consignee_country", "office", "transport_mode", "destination_country",
        "dispatch_country", "invoice_currency", "hs_code", "origin_country",
        "linked_document_id")  # fmt: skip
NUMBERS = ("net_mass_kg", "gross_mass_kg", "supplementary_qty", "value_usd", "linked_item_no")
LOT_NUMBERS = ("lot_chain_start", "lot_firms", "sold_dwell_days")
LOT_TEXT = ("lot_origin", "lot_hs6")


def text(values: pd.Series | np.ndarray) -> np.ndarray:
    """An object array of str with None for every missing value (NaN, NA or None)."""
    array = np.asarray(values, dtype=object)
    missing = pd.isna(array)
    if missing.any():
        array = array.copy()
        array[missing] = None
    return array


def micros(times: pd.Series) -> np.ndarray:
    """Microseconds since 1970-01-01 of a tz-aware datetime Series, as int64."""
    return times.to_numpy(dtype="datetime64[us]").astype("int64")


def micros_of(moment: datetime) -> int:
    """Microseconds since 1970-01-01 UTC of one aware datetime, exactly.

    >>> micros_of(datetime(1970, 1, 1, 0, 0, 1, 5, tzinfo=UTC))
    1000005
    """
    since = moment - _EPOCH  # whole units, exactly (a division of timedeltas is slower)
    return (since.days * SECONDS_PER_DAY + since.seconds) * MICROS_PER_SECOND + since.microseconds


def columns_of(documents: pd.DataFrame) -> Columns:
    """The columns the features read, from a documents frame (with stored lots if present, and
    the extra columns `extra.<name>`: numbers as float64, anything else as text).

    `issued_us` is the issue time in microseconds; `t` (seconds) is derived by `lines.prepare`.
    """
    cols: Columns = {name: text(documents[name]) for name in TEXT}
    for name in extra_columns(documents.columns):
        values = documents[name]
        numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
        cols[name] = values.to_numpy(dtype="float64", na_value=np.nan) if numeric else text(values)
    for name in NUMBERS:
        cols[name] = documents[name].to_numpy(dtype="float64", na_value=np.nan)
    cols["item_no"] = documents["item_no"].to_numpy(dtype="int64")
    cols["issued_us"] = micros(documents["issued_at"])
    if "lot_chain_start" in documents:
        for name in LOT_NUMBERS:
            cols[name] = documents[name].to_numpy(dtype="float64", na_value=np.nan)
        for name in LOT_TEXT:
            cols[name] = text(documents[name])
    return cols


def columns_of_rows(rows: Sequence[Mapping[str, Any]]) -> Columns:
    """The columns the features read, from `schema.document_rows` rows (a served document);
    the STORED columns are empty, to be traced."""
    cols: Columns = {}
    for name in (*TEXT, *LOT_TEXT):
        cols[name] = np.empty(len(rows), dtype=object)
        cols[name][:] = [
            None if name in LOT_TEXT or r[name] is None else str(r[name]) for r in rows
        ]
    for name in (*NUMBERS, *LOT_NUMBERS):
        cols[name] = np.array([np.nan if r.get(name) is None else r[name] for r in rows], float)
    cols["item_no"] = np.array([r["item_no"] for r in rows], dtype=np.int64)
    cols["issued_us"] = np.array([micros_of(r["issued_at"]) for r in rows], dtype=np.int64)
    return cols


def canonical_order(cols: Columns) -> np.ndarray:
    """Row order by (issue second, document_id, item_no): the order every sum runs in."""
    document_rank = pd.factorize(cols["document_id"], sort=True)[0]
    order: np.ndarray = np.lexsort(
        (cols["item_no"], document_rank, cols["issued_us"] // MICROS_PER_SECOND)
    )
    return order


def take(cols: Columns, rows: np.ndarray) -> Columns:
    """The same columns restricted to (or reordered by) `rows`."""
    return {name: values[rows] for name, values in cols.items()}


def isin(values: np.ndarray, options: Collection[object]) -> np.ndarray:
    """Whether each value is one of `options` (a set: hashed, not sorted like `np.isin`).

    >>> isin(np.array(["RU", None, "KZ"], dtype=object), {"RU", "BY"}).tolist()
    [True, False, False]
    """
    return np.fromiter((v in options for v in values), dtype=bool, count=len(values))


def lookup(values: np.ndarray, mapping: Mapping[Any, float], default: float = np.nan) -> np.ndarray:
    """`mapping[value]` as float64 for each value; `default` where the value is not a key.

    >>> lookup(np.array(["a", "b", None], dtype=object), {"a": 1.0}).tolist()
    [1.0, nan, nan]
    """
    get = mapping.get
    return np.fromiter((get(v, default) for v in values), dtype=float, count=len(values))


def prefix(values: np.ndarray, width: int) -> np.ndarray:
    """The first `width` characters of each string (None stays None).

    >>> prefix(np.array(["8542310000", None], dtype=object), 4).tolist()
    ['8542', None]
    """
    out = np.empty(len(values), dtype=object)
    out[:] = [None if v is None else v[:width] for v in values]
    return out


def positive(values: np.ndarray) -> np.ndarray:
    """The values where they are above zero, NaN elsewhere."""
    return np.where(values > 0, values, np.nan)
