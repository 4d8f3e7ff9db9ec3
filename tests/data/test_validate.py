"""A catalogue of bad datasets: each problem is reported by file, row and column."""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from riskscore.data import load_world, validate
from riskscore.errors import DatasetError

Edit = Callable[[pa.Table], pa.Table]


def _set(column: str, row: int, value: object) -> Edit:
    def edit(table: pa.Table) -> pa.Table:
        values = table[column].to_pylist()
        values[row] = value
        index = table.column_names.index(column)
        return table.set_column(index, column, pa.array(values, type=table[column].type))

    return edit


def _first_linked_row(table: pa.Table) -> int:
    return int(pc.index(pc.is_valid(table["linked_document_id"]), True).as_py())


def _link_to(target: str) -> Edit:
    def edit(table: pa.Table) -> pa.Table:
        return _set("linked_document_id", _first_linked_row(table), target)(table)

    return edit


def _link_to_the_last_document(table: pa.Table) -> pa.Table:
    last = table["document_id"][table.num_rows - 1].as_py()
    return _link_to(last)(table)


def _drop(column: str) -> Edit:
    return lambda table: table.drop_columns([column])


def _naive_times(table: pa.Table) -> pa.Table:
    index = table.column_names.index("issued_at")
    naive = table["issued_at"].cast(pa.timestamp("us"))
    return table.set_column(index, "issued_at", naive)


def _retype(column: str, kind: pa.DataType, add: float = 0.0) -> Edit:
    """The column stored as another type (plus `add` on its first value: a fraction)."""

    def edit(table: pa.Table) -> pa.Table:
        values = table[column].cast(kind)
        if add:
            first = pa.array([values[0].as_py() + add], kind)
            values = pa.concat_arrays([first, values.combine_chunks()[1:]])
        return table.set_column(table.column_names.index(column), column, values)

    return edit


def _repeat_item_no(table: pa.Table) -> pa.Table:
    row = next(i for i, n in enumerate(table["item_no"].to_pylist()) if n == 2)
    return _set("item_no", row, 1)(table)


CASES: list[tuple[str, Edit, str, str, int | None]] = [
    ("documents", _set("hs_code", 5, "85423"), "hs_code", "not an HS code of 6 to 10", 5),
    ("documents", _set("origin_country", 7, "xx"), "origin_country", "two-letter country", 7),
    ("documents", _set("net_mass_kg", 3, -2.0), "net_mass_kg", "is outside 0..1e+09", 3),
    ("documents", _set("value_usd", 6, float("inf")), "value_usd", "not a finite number", 6),
    ("documents", _set("value_usd", 8, 2e11), "value_usd", "is outside", 8),
    ("documents", _set("gross_mass_kg", 4, 0.0), "gross_mass_kg", "below net_mass_kg", 4),
    ("documents", _set("procedure_code", 0, "99"), "procedure_code", "does not fit", 0),
    ("documents", _set("transport_mode", 2, "camel"), "transport_mode", "not a transport mode", 2),
    (
        "documents",
        _link_to("KZDT-000000-0000000000"),
        "linked_document_id",
        "not in the dataset",
        None,
    ),
    ("documents", _link_to_the_last_document, "linked_document_id", "issued later", None),
    ("documents", _repeat_item_no, "item_no", "repeats", None),
    ("documents", _naive_times, "issued_at", "timestamps without zone", None),
    ("documents", _drop("hs_code"), "hs_code", "missing column", None),
    ("documents", _set("consignee_id", 1, "999999999999"), "consignee_id", "firms register", None),
    ("documents", _retype("item_no", pa.float64(), 0.5), "item_no", "not whole", None),
    ("documents", _retype("value_usd", pa.string()), "value_usd", "expected numbers", None),
    ("firms", _set("firm_id", 0, "12345"), "firm_id", "not a 12-digit BIN", 0),
    ("outcomes", _set("finding", 0, "smuggling"), "finding", "without violation_found", 0),
    ("outcomes", _set("selected_by", 1, "hunch"), "selected_by", "unknown selection", 1),
    ("outcomes", _set("document_id", 1, "NOPE-1"), "document_id", "does not exist", 1),
    ("truth", _set("p_evasion", 2, 1.5), "p_evasion", "not a probability", 2),
]


def _fingerprint(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


@pytest.mark.parametrize(
    ("table", "edit", "column", "message", "row"),
    CASES,
    ids=[f"{c[0]}-{c[2]}-{c[3].split()[0]}" for c in CASES],
)
def test_each_bad_value_is_reported_where_it_is(
    tiny_world: Path, tmp_path: Path, table: str, edit: Edit, column: str, message: str,
    row: int | None,
) -> None:  # fmt: skip
    bad = tmp_path / "bad"
    shutil.copytree(tiny_world, bad)
    path = bad / f"{table}.parquet"
    pq.write_table(edit(pq.read_table(path)), path)
    before = _fingerprint(bad)
    report = validate(bad)
    assert not report.ok
    hits = [p for p in report.problems if p.column == column and message in p.message]
    assert hits, [str(p) for p in report.problems[:5]]
    assert hits[0].file == f"{table}.parquet"
    if row is not None:
        assert hits[0].row == row
    assert _fingerprint(bad) == before, "validation must not touch the files"
    with pytest.raises(DatasetError) as caught:
        load_world(bad)
    assert any(p.column == column for p in caught.value.problems)


def test_unreadable_and_missing_files(tmp_path: Path) -> None:
    (tmp_path / "documents.parquet").write_text("not parquet")
    report = validate(tmp_path)
    assert [p.message.split(":")[0] for p in report.problems] == ["cannot be read as Parquet"]
    (tmp_path / "documents.parquet").unlink()
    assert "missing" in validate(tmp_path).problems[0].message
    assert "not a folder" in validate(tmp_path / "nowhere").problems[0].message


def test_many_bad_rows_are_counted_but_listed_once(tiny_world: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad"
    shutil.copytree(tiny_world, bad)
    path = bad / "documents.parquet"
    table = pq.read_table(path)
    index = table.column_names.index("hs_code")
    table = table.set_column(index, "hs_code", pa.array(["1"] * table.num_rows))
    pq.write_table(table, path)
    report = validate(bad, max_per_check=3)
    hs = [p for p in report.problems if p.column == "hs_code"]
    assert len(hs) == 4 and "more rows" in hs[-1].message
    assert report.total >= table.num_rows


def _lenient(table: pa.Table) -> pa.Table:
    """The same values in other types: large and dictionary strings, whole floats for ints,
    nanosecond times."""
    for column in ("document_id", "hs_code"):
        table = table.set_column(table.column_names.index(column), column,
                                 table[column].cast(pa.large_string()))  # fmt: skip
    table = table.set_column(table.column_names.index("flow"), "flow",
                             table["flow"].dictionary_encode())  # fmt: skip
    table = table.set_column(table.column_names.index("item_no"), "item_no",
                             table["item_no"].cast(pa.float64()))  # fmt: skip
    ns = table["issued_at"].cast(pa.timestamp("ns", tz="Asia/Almaty"))
    return table.set_column(table.column_names.index("issued_at"), "issued_at", ns)


def test_types_are_lenient_where_values_are_kept(tiny_world: Path, tmp_path: Path) -> None:
    lenient = tmp_path / "lenient"
    shutil.copytree(tiny_world, lenient)
    path = lenient / "documents.parquet"
    pq.write_table(_lenient(pq.read_table(path)), path)
    assert validate(lenient).ok
    assert load_world(lenient).documents.equals(load_world(tiny_world).documents)


def test_the_projects_own_parquet_written_back_by_pandas_validates(
    tiny_world: Path, tmp_path: Path
) -> None:
    copy = tmp_path / "pandas"
    copy.mkdir()
    for table in ("documents", "firms", "outcomes", "truth"):
        pd.read_parquet(tiny_world / f"{table}.parquet").to_parquet(copy / f"{table}.parquet")
    assert pa.types.is_large_string(pq.read_schema(copy / "documents.parquet").field("flow").type)
    report = validate(copy)
    assert report.ok, [str(p) for p in report.problems[:5]]
    assert load_world(copy).documents.equals(load_world(tiny_world).documents)


def test_unknown_but_well_formed_codes_are_counted_not_refused(
    tiny_world: Path, tmp_path: Path
) -> None:
    odd = tmp_path / "odd"
    shutil.copytree(tiny_world, odd)
    path = odd / "documents.parquet"
    table = _set("origin_country", 3, "ZZ")(pq.read_table(path))
    table = _set("hs_code", 5, "854231")(table)
    modes = table["transport_mode"].to_pylist()  # every post shipment's mode becomes "other"
    other = pa.array(["other" if m == "post" else m for m in modes])
    table = table.set_column(table.column_names.index("transport_mode"), "transport_mode", other)
    pq.write_table(table, path)
    outcomes = pq.read_table(odd / "outcomes.parquet")
    found = outcomes["violation_found"].to_pylist().index(True)
    pq.write_table(_set("finding", found, "undervaluation")(outcomes), odd / "outcomes.parquet")
    report = validate(odd)
    assert report.ok, [str(p) for p in report.problems[:5]]
    assert report.unknown["documents.parquet origin_country"] == 1
    assert report.unknown["documents.parquet transport_mode"] == modes.count("post") > 0
    assert report.unknown["outcomes.parquet finding"] == 1
