"""Turning one chunk of a user's rows into the schema's columns, as a mapping says.

Every field is taken from its source column (transformed, then parsed to the field's type),
from a constant, or from a default the schema allows (no links, no supplementary unit, a flow
derived from the countries and the home country). A value that cannot be parsed becomes a
problem of that row, named by field and reason; the value itself is never repeated.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from riskscore.data.mapping import Column, Table
from riskscore.data.rules import Rule
from riskscore.errors import ConfigError
from riskscore.schema import NULLABLE, Flow

# Fields a table may leave out, and what they are then.
DEFAULTS: dict[str, object] = {
    "procedure_code": "",
    "office": "",
    "previous_document_ids": None,  # an empty list
    "selected_by": "rule",
}
LIST_SEPARATOR = ";"  # previous_document_ids in one text column: "DT-1;DT-2"


@dataclass
class Converted:
    """A chunk in the schema's columns, and the rows that broke a parsing rule."""

    frame: pd.DataFrame
    problems: list[Rule] = field(default_factory=list)


def as_text(raw: pd.Series, column: Column | None = None) -> pd.Series:
    """The values as text (object, None for missing or empty), transformed as `column` says.

    >>> as_text(pd.Series([" ab ", None, 7]), Column(column="x", trim=True, upper=True,
    ...                                                 zero_pad=3)).tolist()
    ['0AB', None, '007']
    """
    values = [None if _missing(v) else _plain(v) for v in raw.tolist()]
    if column is not None:
        values = [None if v is None else _transform(v, column) for v in values]
    return pd.Series(values, index=raw.index, dtype=object)


def _missing(value: object) -> bool:
    if value is None or value is pd.NA or value is pd.NaT or value == "":
        return True
    return isinstance(value, float) and value != value


def _plain(value: object) -> str:
    """A float holding a whole number reads as that number: 40.0 is the code "40"."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _transform(value: str, column: Column) -> str:
    if column.trim:
        value = value.strip()
    if column.upper:
        value = value.upper()
    if column.map is not None:
        value = column.map.get(value, value if column.otherwise is None else column.otherwise)
    if column.zero_pad:
        value = value.zfill(column.zero_pad)
    return value


def parse(raw: pd.Series, kind: pa.DataType, column: Column | None, name: str) -> Converted:
    """One field's values parsed to its Arrow type; failing rows as problems."""
    if pa.types.is_timestamp(kind):
        return _times(raw, column, name)
    text = as_text(raw, column)
    present = text.notna().to_numpy()
    if pa.types.is_floating(kind) or pa.types.is_integer(kind):
        numbers = pd.to_numeric(text, errors="coerce").astype("float64")
        bad = present & numbers.isna().to_numpy()
        problems: list[Rule] = [(name, bad, "is not a number")]
        if pa.types.is_integer(kind):
            whole = ~present | bad | (numbers % 1 == 0).to_numpy()
            problems.append((name, ~whole, "is not a whole number"))
        return Converted(pd.DataFrame({name: numbers}), problems)
    if pa.types.is_boolean(kind):
        return Converted(pd.DataFrame({name: text.notna() & text.isin(["1", "true", "True"])}))
    if pa.types.is_list(kind):
        lists = [[] if v is None else [x for x in v.split(LIST_SEPARATOR) if x] for v in text]
        return Converted(pd.DataFrame({name: pd.Series(lists, index=raw.index, dtype=object)}))
    return Converted(pd.DataFrame({name: text}))


def _times(raw: pd.Series, column: Column | None, name: str) -> Converted:
    """Aware UTC times: parsed with the column's format, read in its time zone (a value that
    carries its own offset keeps it); a date alone is midnight of that day."""
    zone = "UTC" if column is None else column.timezone
    if pd.api.types.is_datetime64_any_dtype(raw):
        times = pd.Series(raw)
    else:
        text = as_text(raw, column)
        fmt = None if column is None else column.format
        times = pd.to_datetime(text, format=fmt or "ISO8601", errors="coerce", utc=False)
        present = text.notna().to_numpy()
    if getattr(times.dt, "tz", None) is None:
        times = times.dt.tz_localize(zone, ambiguous="NaT", nonexistent="NaT")
    times = times.dt.tz_convert("UTC").astype("datetime64[us, UTC]")
    if pd.api.types.is_datetime64_any_dtype(raw):
        present = raw.notna().to_numpy()
    bad = present & times.isna().to_numpy()
    reason = "is not a date or time in the mapping's format"
    return Converted(pd.DataFrame({name: times}), [(name, bad, reason)])


@cache
def _rate_table(path: Path) -> pd.DataFrame:
    """A rates table (date, currency, usd_per_unit), sorted for as-of lookups."""
    try:
        table = pd.read_csv(path, dtype={"currency": str})
        table["date"] = pd.to_datetime(table["date"], format="ISO8601", utc=True)
        table["currency"] = table["currency"].astype(object)
        table["usd_per_unit"] = pd.to_numeric(table["usd_per_unit"], errors="raise")
    except (OSError, KeyError, ValueError) as error:
        raise ConfigError(f"rates {path}: needs columns date, currency, usd_per_unit "
                          f"({type(error).__name__})") from None  # fmt: skip
    return table.sort_values("date", ignore_index=True)


def to_usd(amount: pd.Series, column: Column, chunk: pd.DataFrame, issued: pd.Series) -> Converted:
    """Money in USD: times a fixed rate, or the rates table's latest rate on or before the
    document's day for its currency; rows without a rate become problems."""
    if column.rate is not None:
        return Converted(pd.DataFrame({"usd": amount * column.rate}))
    if column.rates is None:
        return Converted(pd.DataFrame({"usd": amount}))
    if column.currency_column is not None:
        currency = as_text(source(chunk, column.currency_column, "currency_column"))
    else:
        currency = pd.Series(column.currency, index=amount.index, dtype=object)
    rate = _rates_at(_rate_table(column.rates), currency, issued)
    usd = amount.to_numpy(dtype=float) * rate
    bad = amount.notna().to_numpy() & np.isnan(rate)
    return Converted(pd.DataFrame({"usd": usd}, index=amount.index),
                     [("", bad, "has no exchange rate for its currency and day")])  # fmt: skip


def _rates_at(rates: pd.DataFrame, currency: pd.Series, issued: pd.Series) -> np.ndarray:
    """Per row, the latest rate of its currency on or before its time (NaN: none known)."""
    rate = np.full(len(currency), np.nan)
    when = issued.astype("datetime64[us, UTC]").to_numpy(dtype="datetime64[us]")
    for code, table in rates.groupby("currency"):
        rows = np.flatnonzero((currency == code).to_numpy() & ~np.isnat(when))
        days = table["date"].to_numpy(dtype="datetime64[us]")
        at = np.searchsorted(days, when[rows], side="right") - 1
        found = at >= 0
        rate[rows[found]] = table["usd_per_unit"].to_numpy(dtype=float)[at[found]]
    return rate


def source(chunk: pd.DataFrame, name: str, key: str) -> pd.Series:
    """A source column of the chunk; a mapping that names a column the file lacks is a
    ConfigError naming the mapping key."""
    if name not in chunk:
        raise ConfigError(f"mapping {key}: the source has no column {name!r}")
    return chunk[name]


def fields(table: Table, spec: dict[str, pa.DataType], label: str) -> Iterator[tuple[str, str]]:
    """(field, how it is filled) for every field: "column", "constant", "default" or
    "derived"; a field with none of them is a ConfigError that names it."""
    for name in spec:
        if name in table.columns:
            yield name, "column"
        elif name in table.constants:
            yield name, "constant"
        elif name in DEFAULTS or name in NULLABLE:
            yield name, "default"
        elif name in ("flow", "item_no", "recorded_at", "inspected_at"):
            yield name, "derived"
        else:
            raise ConfigError(f"mapping [{label}]: field {name!r} has no column and no constant")


def derive_flow(frame: pd.DataFrame, home: str) -> pd.Series:
    """The direction of each line seen from `home`: into it an import, out of it an export,
    within it domestic, neither transit."""
    into = (frame["consignee_country"] == home).to_numpy()
    out_of = (frame["consignor_country"] == home).to_numpy()
    flow = np.where(into & out_of, Flow.DOMESTIC.value,
                    np.where(into, Flow.IMPORT.value,
                             np.where(out_of, Flow.EXPORT.value, Flow.TRANSIT.value)))  # fmt: skip
    return pd.Series(flow, index=frame.index, dtype=object)
