"""Types lenient, values strict: any Arrow type that holds a column's values safely is taken
and cast to the schema's type, once, where data enters.

A dataset written by other tools rarely has exactly the schema's Arrow types: pandas writes
`large_string`, a column of integers with a gap comes back as float, dictionary encoding
saves space, timestamps come in seconds or nanoseconds. None of that changes a value, so none
of it is refused. What is refused is a cast that would change a value: a fraction where a
whole number is expected, a number too large for its type, a time without a zone.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from riskscore.schema import EXTRA_PREFIX


class TypeProblem(ValueError):
    """A column whose values cannot be taken as the schema's type (the message says why)."""


def conform_column(column: pa.ChunkedArray, expected: pa.DataType) -> pa.ChunkedArray:
    """`column` cast to `expected` when that changes no value; TypeProblem otherwise.

    >>> conform_column(pa.chunked_array([[1.0, None, 3.0]]), pa.int32()).to_pylist()
    [1, None, 3]
    >>> conform_column(pa.chunked_array([[1.5]]), pa.int32())
    Traceback (most recent call last):
    ...
    riskscore.data.types.TypeProblem: holds numbers that are not whole (type double)
    """
    actual = column.type
    if actual.equals(expected):
        return column
    if pa.types.is_dictionary(actual):
        column = pa.chunked_array(
            [chunk.dictionary_decode() for chunk in column.chunks], actual.value_type
        )
        return conform_column(column, expected)
    for accepts, cast in _RULES:
        if accepts(expected):
            return cast(column, expected)
    raise TypeProblem(f"type {actual}, expected {expected}")


def _is_text(kind: pa.DataType) -> bool:
    return bool(pa.types.is_string(kind) or pa.types.is_large_string(kind)
                or pa.types.is_string_view(kind) or pa.types.is_null(kind))  # fmt: skip


def _text(column: pa.ChunkedArray, expected: pa.DataType) -> pa.ChunkedArray:
    if not _is_text(column.type):
        raise TypeProblem(f"type {column.type}, expected text")
    return column.cast(expected)


def _integer(column: pa.ChunkedArray, expected: pa.DataType) -> pa.ChunkedArray:
    kind = column.type
    if pa.types.is_floating(kind):
        finite = pc.is_finite(column)
        whole = pc.equal(pc.floor(column), column)
        if not (pc.all(finite).as_py() in (True, None) and pc.all(whole).as_py() in (True, None)):
            raise TypeProblem(f"holds numbers that are not whole (type {kind})")
    elif not (pa.types.is_integer(kind) or pa.types.is_null(kind)):
        raise TypeProblem(f"type {kind}, expected whole numbers")
    try:
        return column.cast(expected, safe=True)
    except (pa.ArrowInvalid, OverflowError):
        raise TypeProblem(f"holds numbers too large for {expected}") from None


def _floating(column: pa.ChunkedArray, expected: pa.DataType) -> pa.ChunkedArray:
    kind = column.type
    if not (pa.types.is_integer(kind) or pa.types.is_floating(kind)
            or pa.types.is_decimal(kind) or pa.types.is_null(kind)):  # fmt: skip
        raise TypeProblem(f"type {kind}, expected numbers")
    return column.cast(expected, safe=False)  # integers and decimals as the nearest double


def _timestamp(column: pa.ChunkedArray, expected: pa.DataType) -> pa.ChunkedArray:
    kind = column.type
    if pa.types.is_null(kind):
        return column.cast(expected)
    if not pa.types.is_timestamp(kind):
        raise TypeProblem(f"type {kind}, expected timestamps with a time zone")
    if not kind.tz:
        raise TypeProblem(f"timestamps without zone ({kind})")
    # Any unit: nanoseconds below the microsecond are dropped, seconds and millis are exact.
    return column.cast(expected, safe=False)


def _boolean(column: pa.ChunkedArray, expected: pa.DataType) -> pa.ChunkedArray:
    if not (pa.types.is_boolean(column.type) or pa.types.is_null(column.type)):
        raise TypeProblem(f"type {column.type}, expected true/false")
    return column.cast(expected)


def _list(column: pa.ChunkedArray, expected: pa.DataType) -> pa.ChunkedArray:
    kind = column.type
    if pa.types.is_null(kind):
        return column.cast(expected)
    listed = pa.types.is_list(kind) or pa.types.is_large_list(kind) or pa.types.is_list_view(kind)
    if not listed or not _is_text(kind.value_type):
        raise TypeProblem(f"type {kind}, expected a list of text")
    return column.cast(expected)


_RULES: tuple[tuple[Callable[[pa.DataType], bool], Callable[..., pa.ChunkedArray]], ...] = (
    (pa.types.is_string, _text),
    (pa.types.is_integer, _integer),
    (pa.types.is_floating, _floating),
    (pa.types.is_timestamp, _timestamp),
    (pa.types.is_boolean, _boolean),
    (pa.types.is_list, _list),
)


def conform_table(
    table: pa.Table, spec: dict[str, pa.DataType], extras: Mapping[str, str] | None = None
) -> tuple[pa.Table, dict[str, str]]:
    """The spec's columns (and the declared extras, `extra.<name>`: "numeric" as float64,
    "categorical" as text) cast to their types, and a problem per column that cannot be:
    missing, or of a type that would change its values."""
    wanted = dict(spec)
    for name, kind in (extras or {}).items():
        wanted[EXTRA_PREFIX + name] = pa.float64() if kind == "numeric" else pa.string()
    columns, problems = {}, {}
    for name, kind in wanted.items():
        if name not in table.column_names:
            problems[name] = "missing column"
            continue
        column = table.column(name)
        if name.startswith(EXTRA_PREFIX) and pa.types.is_integer(column.type):
            column = column.cast(pa.string())  # a categorical coded as whole numbers
        try:
            columns[name] = conform_column(column, kind)
        except TypeProblem as problem:
            problems[name] = str(problem)
    return pa.table(columns) if not problems else table, problems


def to_arrow(frame: pd.DataFrame, schema: pa.Schema) -> pa.Table:
    """The frame as an Arrow table of `schema`, built column by column (pyarrow's
    from_pandas reads tz-aware columns through an API pandas deprecates)."""
    arrays = []
    for column in schema:
        values = frame[column.name]
        if pa.types.is_timestamp(column.type):
            micros = values.astype("datetime64[us, UTC]").dt.tz_convert(None).astype("int64")
            arrays.append(pa.array(micros.to_numpy(), pa.int64()).cast(column.type))
        elif pa.types.is_integer(column.type):
            arrays.append(pa.array(values.to_numpy(dtype=float), pa.float64(), from_pandas=True)
                          .cast(column.type))  # fmt: skip
        else:
            arrays.append(pa.array(values.tolist(), column.type, from_pandas=True))
    return pa.Table.from_arrays(arrays, schema=schema)
