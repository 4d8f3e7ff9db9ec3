"""A catalogue of bad datasets: each problem is reported by file, row and column."""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Callable
from pathlib import Path

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


def _repeat_item_no(table: pa.Table) -> pa.Table:
    row = next(i for i, n in enumerate(table["item_no"].to_pylist()) if n == 2)
    return _set("item_no", row, 1)(table)


CASES: list[tuple[str, Edit, str, str, int | None]] = [
    ("documents", _set("hs_code", 5, "85423"), "hs_code", "not a 10-digit HS code", 5),
    ("documents", _set("origin_country", 7, "XX"), "origin_country", "not an ISO 3166", 7),
    ("documents", _set("net_mass_kg", 3, -2.0), "net_mass_kg", "is negative", 3),
    ("documents", _set("gross_mass_kg", 4, 0.0), "gross_mass_kg", "below net_mass_kg", 4),
    ("documents", _set("procedure_code", 0, "99"), "procedure_code", "does not fit", 0),
    ("documents", _set("transport_mode", 2, "camel"), "transport_mode", "unknown transport", 2),
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
    ("firms", _set("firm_id", 0, "12345"), "firm_id", "not a 12-digit BIN", 0),
    ("outcomes", _set("finding", 0, "smuggling"), "finding", "given exactly when", 0),
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
