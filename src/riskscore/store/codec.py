"""Document lines, outcomes and firms as stored values, and back: the one storage codec.

Times travel as integer microseconds since 1970 (UTC), lists as JSON text, missing values as
NULL. Frames (a dataset being loaded) and `schema.document_rows` rows (a served document) are
encoded here, so every backend stores the same values.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from riskscore.features import STORED
from riskscore.features.columns import Columns, micros_of
from riskscore.schema import DOCUMENT_COLUMNS, EXTRA_PREFIX, extra_columns
from riskscore.store.base import ApiKey

TIMES = frozenset({"issued_at", "registered_at", "inspected_at", "recorded_at"})
_WHOLE = frozenset({"item_no", "linked_item_no"})
LINE_COLUMNS = (*DOCUMENT_COLUMNS, *STORED)  # a stored line: the document row and its lot
# A line's extras as one JSON object (NULL for none), stored since layout version 2.
EXTRA = "extra"
STORED_LINE = (*LINE_COLUMNS, EXTRA)


def frame_rows(frame: pd.DataFrame, columns: Iterable[str]) -> list[tuple[object, ...]]:
    """The rows of a frame as stored values, in `columns` order."""
    out: dict[str, np.ndarray] = {}
    for column in columns:
        if column == EXTRA:
            out[column] = extras_json(frame)
            continue
        values = frame[column]
        if column in TIMES:
            micros = values.dt.tz_convert("UTC").dt.tz_localize(None).astype("datetime64[us]")
            out[column] = micros.astype("int64").to_numpy(dtype=object)
        elif column == "previous_document_ids":
            out[column] = np.array(
                [json.dumps(list(v) if v is not None else []) for v in values], dtype=object
            )
        elif column in _WHOLE:  # counted things stay integers (a float column holds NaN)
            out[column] = np.array(
                [None if v is None or v != v else int(v) for v in values], dtype=object
            )
        else:
            out[column] = values.astype(object).where(values.notna(), None).to_numpy(dtype=object)
    return list(zip(*out.values(), strict=True))


def extras_json(frame: pd.DataFrame) -> np.ndarray:
    """Each row's `extra.<name>` columns as one JSON object (None when it has none)."""
    names = extra_columns(frame.columns)
    if not names:
        return np.full(len(frame), None, dtype=object)
    values = frame[names].astype(object).where(frame[names].notna(), None)
    out = np.empty(len(frame), dtype=object)
    for i, row in enumerate(values.itertuples(index=False, name=None)):
        kept = {n.removeprefix(EXTRA_PREFIX): _plain(v) for n, v in zip(names, row, strict=True)
                if v is not None}  # fmt: skip
        out[i] = json.dumps(kept) if kept else None
    return out


def extras_frame(encoded: Iterable[str | None]) -> pd.DataFrame:
    """The inverse of `extras_json`: one `extra.<name>` column per name found (numbers stay
    numbers, text stays text; missing is NaN or None)."""
    rows = [json.loads(e) if isinstance(e, str) and e else {} for e in encoded]
    names = sorted({name for row in rows for name in row})
    columns = {EXTRA_PREFIX + n: [row.get(n) for row in rows] for n in names}
    frame = pd.DataFrame(columns, index=range(len(rows)))
    for name in frame.columns:
        known = frame[name].dropna()
        if len(known) and known.map(lambda v: isinstance(v, int | float)).all():
            frame[name] = frame[name].astype("float64")
        else:
            frame[name] = frame[name].astype("str").where(frame[name].notna(), None)
    return frame


def _plain(value: object) -> object:
    return value.item() if isinstance(value, np.generic) else value


def line_row(row: Mapping[str, Any], stored: Columns, i: int) -> tuple[object, ...]:
    """One `document_rows` row plus line i of the STORED columns and its extras, in
    STORED_LINE order."""
    values: list[object] = []
    for name in DOCUMENT_COLUMNS:
        value = row[name]
        if name == "issued_at":
            value = micros_of(value)
        elif name == "previous_document_ids":
            value = json.dumps(list(value or []))
        elif isinstance(value, str):
            value = str(value)  # plain str, not the schema's StrEnum
        values.append(value)
    for name in STORED:
        lot = stored[name][i]
        values.append(None if lot is None or lot != lot else lot)
    extra = row.get(EXTRA) or {}
    values.append(json.dumps(extra) if extra else None)
    return tuple(values)


def key_row(key: ApiKey) -> tuple[Any, ...]:
    """An API key as stored: roles as JSON text, times as microseconds (None stays None)."""
    times = (None if t is None else micros_of(t) for t in key[4:])
    return (key.key_id, key.caller, json.dumps(list(key.roles)), key.key_hash, *times)


def key_of(row: Sequence[Any]) -> ApiKey:
    """The inverse of `key_row`."""
    created, expires, revoked = (None if t is None else _EPOCH + timedelta(microseconds=int(t))
                                 for t in row[4:7])  # fmt: skip
    assert created is not None
    return ApiKey(str(row[0]), str(row[1]), tuple(json.loads(row[2])), str(row[3]), created,
                  expires, revoked)  # fmt: skip


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
