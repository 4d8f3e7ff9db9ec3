"""`riskscore validate`: check a dataset folder against the schema, reporting every problem.

A dataset is a folder of Parquet files named after the tables of `riskscore.schema.TABLES`
(`documents` required; `firms`, `outcomes`, `truth` when present), with its settings in
`dataset.toml` (home country, extra columns; `data.dataset`). Types are lenient (any Arrow type
that holds the values safely, `data.types`), values strict (`data.rules`). Checks are
vectorised, so a 10-million-line file validates in seconds. Each check reports how many rows
fail and the first few by file, row (0-based) and column; unknown but well-formed codes are
counted, not refused; nothing is changed on disk.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from riskscore.data.dataset import DatasetInfo, read_info
from riskscore.data.rules import Rule, document_rules, firm_rules, outcome_rules, unknown_values
from riskscore.data.types import conform_table
from riskscore.errors import ConfigError, Problem
from riskscore.schema import EXTRA_PREFIX, NULLABLE, TABLES

_HEADER_COLUMNS = (
    "doc_type", "flow", "procedure_code", "issued_at", "office", "declarant_id", "consignor_id",
    "consignee_id", "dispatch_country", "destination_country", "transport_mode", "invoice_currency",
)  # fmt: skip


@dataclass
class Report:
    """What validation found: a sample of problems per check and the total count, and how
    many well-formed but unknown values each column holds (kept, not problems)."""

    max_per_check: int = 20
    problems: list[Problem] = field(default_factory=list)
    total: int = 0
    unknown: dict[str, int] = field(default_factory=dict)  # "file column" -> count
    rows: dict[str, int] = field(default_factory=dict)  # file -> rows read

    @property
    def ok(self) -> bool:
        return self.total == 0

    def add(self, problem: Problem) -> None:
        self.problems.append(problem)
        self.total += 1

    def failing(self, file: str, column: str, failing: np.ndarray | pd.Series, message: str,
                offset: int = 0) -> None:  # fmt: skip
        """Record the rows where `failing` is true (a boolean mask over the file's rows,
        the first of which is row `offset` of the file)."""
        where = np.flatnonzero(np.asarray(failing, dtype=bool))
        self.total += len(where)
        self.problems.extend(
            Problem(file, int(r) + offset, column, message) for r in where[: self.max_per_check]
        )
        if len(where) > self.max_per_check:
            more = len(where) - self.max_per_check
            self.problems.append(Problem(file, None, column, f"... {more} more rows: {message}"))

    def rules(self, file: str, rules: Iterable[Rule], offset: int = 0) -> None:
        for column, failing, message in rules:
            self.failing(file, column, failing, message, offset)

    def count_unknown(self, file: str, counts: dict[str, int]) -> None:
        for column, n in counts.items():
            key = f"{file} {column}"
            self.unknown[key] = self.unknown.get(key, 0) + n

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-ready values (`riskscore ingest` writes it beside the data)."""
        return {
            "ok": self.ok,
            "problems_total": self.total,
            "problems": [
                {"file": p.file, "row": p.row, "column": p.column, "reason": p.message}
                for p in self.problems
            ],
            "unknown_values": self.unknown,
            "rows": self.rows,
        }


def validate(directory: Path, max_per_check: int = 20) -> Report:
    """Validate every table found in `directory` (with its `dataset.toml` settings)."""
    report = Report(max_per_check)
    directory = Path(directory)
    if not directory.is_dir():
        report.add(Problem(str(directory), None, None, "is not a folder"))
        return report
    try:
        info = read_info(directory)
    except ConfigError as error:
        report.add(Problem("dataset.toml", None, None, str(error).split(": ", 1)[-1]))
        return report
    frames: dict[str, pd.DataFrame] = {}
    for name in TABLES:
        path = directory / f"{name}.parquet"
        if not path.exists():
            if name == "documents":
                report.add(Problem(path.name, None, None, "missing: a dataset needs documents"))
            continue
        frame = _read(path, name, report, info)
        if frame is not None:
            frames[name] = frame
    for name, check in _CHECKS.items():
        if name in frames:
            check(frames, report, info)
    return report


def _read(path: Path, name: str, report: Report, info: DatasetInfo) -> pd.DataFrame | None:
    """Read one table, taking any Arrow type that holds the schema's values safely."""
    try:
        table = pq.read_table(path)
    except (pa.ArrowInvalid, OSError) as error:
        report.add(Problem(path.name, None, None, f"cannot be read as Parquet: {error}"))
        return None
    conformed, problems = conform_table(table, TABLES[name],
                                        info.extras if name == "documents" else None)  # fmt: skip
    for column, message in problems.items():
        report.add(Problem(path.name, None, column, message))
    if problems:
        return None
    frame: pd.DataFrame = conformed.to_pandas()
    for column in frame.columns:
        if pa.types.is_string(conformed.schema.field(column).type):
            frame[column] = frame[column].astype(object)  # hash-based isin, fast at 10M rows
    for column in TABLES[name]:
        if column not in NULLABLE:
            report.failing(path.name, column, frame[column].isna().to_numpy(), "is empty")
    report.rows[path.name] = len(frame)
    return frame


def _check_documents(frames: dict[str, pd.DataFrame], report: Report, info: DatasetInfo) -> None:
    d, f = frames["documents"], "documents.parquet"
    report.rules(f, document_rules(d))
    for name, kind in info.extras.items():
        if kind == "numeric":
            values = d[EXTRA_PREFIX + name].to_numpy(dtype=float, na_value=np.nan)
            report.failing(f, EXTRA_PREFIX + name, np.isinf(values), "is not a finite number")
    report.count_unknown(f, unknown_values("documents", d))
    report.failing(
        f,
        "item_no",
        d.duplicated(["document_id", "item_no"]).to_numpy(),
        "repeats within its document",
    )
    _check_headers(d, report)
    _check_links(d, report)
    if "firms" in frames:
        firms = set(frames["firms"]["firm_id"])
        for column in ("consignor_id", "consignee_id"):
            domestic = d[column.replace("_id", "_country")] == info.home_country
            report.failing(f, column, domestic & ~d[column].isin(firms),
                           "domestic party not in the firms register")  # fmt: skip


def _check_headers(d: pd.DataFrame, report: Report) -> None:
    """Every line of a document carries the same header: compare each line with the one
    before it in the same document (one sort, no group-by per column)."""
    order = np.argsort(d["document_id"].to_numpy(dtype=object), kind="stable")
    ids = d["document_id"].to_numpy(dtype=object)[order]
    same_document = np.r_[False, ids[1:] == ids[:-1]]
    for column in _HEADER_COLUMNS:
        values = d[column].to_numpy()[order]
        differs = np.r_[False, values[1:] != values[:-1]] & same_document
        failing = np.zeros(len(d), dtype=bool)
        failing[order[differs]] = True
        report.failing(
            "documents.parquet", column, failing, "differs between lines of one document"
        )


def _check_links(d: pd.DataFrame, report: Report) -> None:
    f = "documents.parquet"
    issued = d.groupby("document_id", sort=False)["issued_at"].first()
    linked = d["linked_document_id"]
    has_link = linked.notna()
    report.failing(
        f,
        "linked_document_id",
        has_link & ~linked.isin(issued.index),
        "links to a document that is not in the dataset",
    )
    lines = pd.MultiIndex.from_arrays([d["document_id"], d["item_no"]])
    target = pd.MultiIndex.from_arrays([linked, d["linked_item_no"].astype("Int64")])
    bad_item = (
        has_link & d["linked_item_no"].notna() & linked.isin(issued.index) & ~target.isin(lines)
    )
    report.failing(f, "linked_item_no", bad_item, "links to an item line that does not exist")
    upstream_time = linked.map(issued)
    report.failing(
        f,
        "linked_document_id",
        (upstream_time > d["issued_at"]).fillna(False).to_numpy(),
        "links to a document issued later",
    )
    previous = d["previous_document_ids"].map(lambda ids: 0 if ids is None else len(ids))
    exploded = d["previous_document_ids"].explode()
    missing = exploded.notna() & ~exploded.isin(issued.index)
    bad_rows = np.zeros(len(d), dtype=bool)
    bad_rows[np.unique(np.asarray(missing[missing].index, dtype=np.int64))] = True
    report.failing(
        f,
        "previous_document_ids",
        bad_rows & (previous > 0).to_numpy(),
        "names a document that is not in the dataset",
    )


def _check_firms(frames: dict[str, pd.DataFrame], report: Report, info: DatasetInfo) -> None:
    report.rules("firms.parquet", firm_rules(frames["firms"]))
    report.count_unknown("firms.parquet", unknown_values("firms", frames["firms"]))


def _check_outcomes(frames: dict[str, pd.DataFrame], report: Report, info: DatasetInfo) -> None:
    report.rules("outcomes.parquet", outcome_rules(frames["outcomes"]))
    report.count_unknown("outcomes.parquet", unknown_values("outcomes", frames["outcomes"]))
    _check_lines_exist(frames, "outcomes", report)


def _check_truth(frames: dict[str, pd.DataFrame], report: Report, info: DatasetInfo) -> None:
    t, f = frames["truth"], "truth.parquet"
    report.failing(
        f, "p_evasion", ~t["p_evasion"].between(0.0, 1.0).to_numpy(), "is not a probability"
    )
    report.failing(
        f,
        "typology",
        t["typology"].notna().to_numpy() != t["is_evasion"].to_numpy(dtype=bool),
        "given exactly when is_evasion is true",
    )
    _check_lines_exist(frames, "truth", report)


def _check_lines_exist(frames: dict[str, pd.DataFrame], name: str, report: Report) -> None:
    if "documents" not in frames:
        return
    d, table = frames["documents"], frames[name]
    lines = pd.MultiIndex.from_arrays([d["document_id"], d["item_no"]])
    keys = pd.MultiIndex.from_arrays([table["document_id"], table["item_no"]])
    report.failing(
        f"{name}.parquet",
        "document_id",
        ~keys.isin(lines),
        "refers to a document line that does not exist",
    )


_CHECKS: dict[str, Callable[[dict[str, pd.DataFrame], Report, DatasetInfo], None]] = {
    "documents": _check_documents,
    "firms": _check_firms,
    "outcomes": _check_outcomes,
    "truth": _check_truth,
}
