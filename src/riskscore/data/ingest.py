"""`riskscore ingest`: a user's files (CSV, Parquet, JSON Lines, in their own layout) into a
dataset folder in the schema's layout, as a mapping (`data.mapping`) says.

Sources are read in chunks, so memory stays bounded whatever their size; each chunk is
converted (`data.transforms`) and judged by the same value rules as `riskscore validate`
(`data.rules`). A row that breaks a rule is listed by file, row and field; `on_error="stop"`
then writes nothing, `"drop"` leaves the row out and copies it to `rejects.csv` with its
reasons, so nothing is lost silently. The dataset is written into a folder beside `out` and
takes its place only once the whole of it validates, so a failed run leaves `out` as it was.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from riskscore.data.dataset import staged, write_info
from riskscore.data.mapping import Labels, Mapping, Table
from riskscore.data.rules import Rule, document_rules, firm_rules, outcome_rules
from riskscore.data.sources import Progress, read_chunks
from riskscore.data.transforms import (
    DEFAULTS,
    Converted,
    as_text,
    derive_flow,
    fields,
    parse,
    source,
    to_usd,
)
from riskscore.data.types import to_arrow
from riskscore.data.validate import Report, validate
from riskscore.errors import ConfigError, DatasetError
from riskscore.schema import (
    DOCUMENT_COLUMNS,
    EXTRA_PREFIX,
    FIRM_COLUMNS,
    OUTCOME_COLUMNS,
    arrow_schema,
)

OnError = Literal["stop", "drop"]
REJECTS = "rejects.csv"
REPORT = "validation.json"


@dataclass
class Ingested:
    """What an ingest did: rows read, kept and dropped per table, and the validation report
    of the dataset written (also in `validation.json` beside it)."""

    out: Path
    read: dict[str, int] = field(default_factory=dict)
    kept: dict[str, int] = field(default_factory=dict)
    dropped: dict[str, int] = field(default_factory=dict)
    report: Report = field(default_factory=Report)
    rejects: Path | None = None


@dataclass
class _Run:
    """State carried across the chunks of one ingest."""

    mapping: Mapping
    staging: Path
    on_error: OnError
    progress: Progress | None
    problems: Report
    result: Ingested
    writers: dict[str, pq.ParquetWriter] = field(default_factory=dict)
    item_numbers: dict[str, int] = field(default_factory=dict)
    rejected_header: bool = False


def ingest(
    sources: list[Path],
    mapping: Mapping,
    out: Path,
    on_error: OnError = "stop",
    progress: Progress | None = None,
) -> Ingested:
    """Convert `sources` (the documents' files) into a dataset folder `out`.

    Raises DatasetError (nothing written) when a row breaks a rule and `on_error` is "stop",
    or when the converted dataset does not validate; ConfigError for a mapping that does not
    fit the files.
    """
    with staged(out) as staging:
        run = _Run(mapping, staging, on_error, progress, Report(), Ingested(Path(out).resolve()))
        try:
            _ingest_all(run, sources)
        finally:
            _close(run)
    return run.result


def _ingest_all(run: _Run, sources: list[Path]) -> None:
    mapping = run.mapping
    list(fields(mapping.documents, DOCUMENT_COLUMNS, "documents"))  # a mapping error first
    for path in sources:
        for offset, chunk in read_chunks(path, run.mapping.source, run.progress):
            _documents(run, path.name, offset, chunk)
    labels = mapping.labels
    if labels is not None and labels.file is not None:
        for offset, chunk in read_chunks(labels.file, run.mapping.source, run.progress):
            _outcomes_file(run, labels, labels.file.name, offset, chunk)
    firms = mapping.firms
    if firms is not None:
        if firms.file is None:
            raise ConfigError("mapping [firms]: give the register's file")
        for offset, chunk in read_chunks(firms.file, run.mapping.source, run.progress):
            _table(run, "firms", firms, (firms.file.name, offset, chunk))
    _finish(run)


def _convert(
    chunk: pd.DataFrame, table: Table, spec: dict[str, pa.DataType], label: str
) -> Converted:
    """The fields of `spec` a column, constant or default gives (derived ones are left out)."""
    columns: dict[str, pd.Series] = {}
    problems: list[Rule] = []
    for name, how in fields(table, spec, label):
        if how == "column":
            column = table.columns[name]
            raw = source(chunk, column.column, f"[{label}] columns.{name}")
            converted = parse(raw, spec[name], column, name)
        elif how == "constant":
            raw = pd.Series([table.constants[name]] * len(chunk), dtype=object)
            converted = parse(raw, spec[name], None, name)
        elif how == "default":
            raw = pd.Series([DEFAULTS.get(name)] * len(chunk), dtype=object)
            converted = parse(raw, spec[name], None, name)
        else:
            continue
        columns[name] = converted.frame[name]
        problems += converted.problems
    return Converted(pd.DataFrame(columns, index=chunk.index), problems)


def _documents(run: _Run, file: str, offset: int, chunk: pd.DataFrame) -> None:
    """Convert, judge and write one chunk of document lines (and their labels)."""
    mapping = run.mapping
    converted = _convert(chunk, mapping.documents, DOCUMENT_COLUMNS, "documents")
    frame, problems = converted.frame, converted.problems
    for name, column in mapping.documents.columns.items():
        if column.rate is not None or column.rates is not None:
            usd = to_usd(frame[name], column, chunk, frame["issued_at"])
            frame[name] = usd.frame["usd"].to_numpy()
            problems += [(name, bad, reason) for _, bad, reason in usd.problems]
    if "flow" not in frame:
        frame["flow"] = derive_flow(frame, mapping.dataset.home_country)
    if "item_no" not in frame:
        frame["item_no"] = _numbered(frame["document_id"], run.item_numbers)
    problems += _extras(run, chunk, frame)
    problems += list(document_rules(frame))
    keep = _judge(run, "documents", (file, offset, chunk), problems)
    frame = frame[list(DOCUMENT_COLUMNS) + [EXTRA_PREFIX + n for n in mapping.extras]]
    _write(run, "documents", frame[keep])
    labels = mapping.labels
    if labels is not None and labels.column is not None:
        _write(run, "outcomes", _labelled(labels, chunk[keep], frame[keep]))


def _extras(run: _Run, chunk: pd.DataFrame, frame: pd.DataFrame) -> list[Rule]:
    problems: list[Rule] = []
    for name, extra in run.mapping.extras.items():
        raw = source(chunk, extra.column, f"[extras] {name}")
        column = EXTRA_PREFIX + name
        if extra.kind == "categorical":
            frame[column] = as_text(raw, extra)
            continue
        converted = parse(raw, pa.float64(), extra, column)
        values = converted.frame[column]
        if extra.rate is not None or extra.rates is not None:
            usd = to_usd(values, extra, chunk, frame["issued_at"])
            values = usd.frame["usd"]
            problems += [(column, bad, reason) for _, bad, reason in usd.problems]
        frame[column] = values.to_numpy(dtype=float)
        problems += converted.problems
        inf = np.isinf(frame[column].to_numpy())
        problems.append((column, inf, "is not a finite number"))
    return problems


def _numbered(document_id: pd.Series, seen: dict[str, int]) -> pd.Series:
    """Item numbers 1, 2, ... in order of appearance within each document, across chunks."""
    numbers = []
    for document in document_id.tolist():
        seen[document] = seen.get(document, 0) + 1
        numbers.append(seen[document])
    return pd.Series(numbers, index=document_id.index, dtype="float64")


def _labelled(labels: Labels, chunk: pd.DataFrame, lines: pd.DataFrame) -> pd.DataFrame:
    """Outcomes of fully inspected lines from a label column: a line with a label counts as
    inspected when issued and recorded `lag_days` later; an empty label is no inspection."""
    assert labels.column is not None
    label = as_text(source(chunk, labels.column.column, "[labels] column"), labels.column)
    inspected = label.notna().to_numpy()
    found = label.isin(labels.positive).to_numpy()
    finding = pd.Series([None] * len(chunk), index=chunk.index, dtype=object)
    if labels.finding is not None:
        raw = source(chunk, labels.finding.column, "[labels] finding")
        finding = as_text(raw, labels.finding).where(found, None)
    issued = lines["issued_at"]
    outcomes = pd.DataFrame({
        "document_id": lines["document_id"], "item_no": lines["item_no"],
        "selected_by": labels.selected_by.value, "inspected_at": issued,
        "recorded_at": issued + pd.Timedelta(days=labels.lag_days),
        "violation_found": found, "finding": finding,
    })  # fmt: skip
    return outcomes[inspected]


def _outcomes_file(run: _Run, labels: Labels, file: str, offset: int, chunk: pd.DataFrame) -> None:
    table = Table(columns=labels.columns, constants=labels.constants)
    spec = {k: v for k, v in OUTCOME_COLUMNS.items() if k != "violation_found"}
    converted = _convert(chunk, table, spec, "labels")
    frame = converted.frame
    found = labels.columns.get("violation_found")
    if found is None:
        raise ConfigError("mapping [labels] columns: violation_found has no column")
    text = as_text(source(chunk, found.column, "[labels] columns.violation_found"), found)
    frame["violation_found"] = text.isin(labels.positive).to_numpy()
    frame = frame[list(OUTCOME_COLUMNS)]
    problems = converted.problems + list(outcome_rules(frame))
    keep = _judge(run, "outcomes", (file, offset, chunk), problems)
    _write(run, "outcomes", frame[keep])


def _table(run: _Run, name: str, table: Table, where: tuple[str, int, pd.DataFrame]) -> None:
    converted = _convert(where[2], table, FIRM_COLUMNS, name)
    frame = converted.frame[list(FIRM_COLUMNS)]
    keep = _judge(run, name, where, converted.problems + list(firm_rules(frame)))
    _write(run, name, frame[keep])


def _judge(
    run: _Run, table: str, where: tuple[str, int, pd.DataFrame], problems: list[Rule]
) -> np.ndarray:
    """Which rows of the chunk to keep; the others are listed, and copied to the rejects file
    when dropping."""
    file, offset, chunk = where
    failing = np.zeros(len(chunk), dtype=bool)
    reasons: dict[int, list[str]] = {}
    for column, bad, reason in problems:
        bad = np.asarray(bad, dtype=bool)
        failing |= bad
        for row in np.flatnonzero(bad):
            reasons.setdefault(int(row), []).append(f"{column}: {reason}")
    run.problems.rules(file, problems, offset)
    result = run.result
    result.read[table] = result.read.get(table, 0) + len(chunk)
    result.dropped[table] = result.dropped.get(table, 0) + int(failing.sum())
    result.kept[table] = result.kept.get(table, 0) + int((~failing).sum())
    if failing.any() and run.on_error == "drop":
        _reject(run, (file, offset, chunk), failing, reasons)
    return ~failing


def _reject(run: _Run, where: tuple[str, int, pd.DataFrame], failing: np.ndarray,
            reasons: dict[int, list[str]]) -> None:  # fmt: skip
    """Append the failing rows, as they were read, with file, row and reasons."""
    file, offset, chunk = where
    rows = np.flatnonzero(failing)
    rejected = chunk.iloc[rows].astype(object).copy()
    rejected.insert(0, "_file", file)
    rejected.insert(1, "_row", rows + offset)
    rejected.insert(2, "_problems", ["; ".join(reasons[int(r)]) for r in rows])
    path = run.staging / REJECTS
    rejected.to_csv(path, mode="a", header=not path.exists(), index=False)
    run.result.rejects = run.result.out / REJECTS


def _schema(run: _Run, table: str) -> pa.Schema:
    schema = arrow_schema(table)
    if table == "documents":
        for name, extra in run.mapping.extras.items():
            kind = pa.float64() if extra.kind == "numeric" else pa.string()
            schema = schema.append(pa.field(EXTRA_PREFIX + name, kind, nullable=True))
    return schema


def _write(run: _Run, table: str, frame: pd.DataFrame) -> None:
    """Append rows to the table's Parquet file (nothing while a stop-on-error run has met a
    problem: its files are thrown away)."""
    if run.on_error == "stop" and run.problems.total:
        return
    schema = _schema(run, table)
    if table not in run.writers:
        run.writers[table] = pq.ParquetWriter(run.staging / f"{table}.parquet", schema,
                                              compression="zstd")  # fmt: skip
    run.writers[table].write_table(to_arrow(frame, schema))


def _close(run: _Run) -> None:
    for writer in run.writers.values():
        writer.close()
    run.writers.clear()


def _finish(run: _Run) -> None:
    """Stop on listed problems, else validate the whole written dataset and put it in place."""
    _close(run)
    if run.on_error == "stop" and run.problems.total:
        raise DatasetError(run.problems.problems, run.problems.total)
    if not (run.staging / "documents.parquet").exists():
        raise ConfigError("no document line was kept: the sources hold no rows, or every row "
                          "broke a rule")  # fmt: skip
    write_info(run.staging, run.mapping.info())
    report = validate(run.staging)
    if not report.ok:
        raise DatasetError(report.problems, report.total)
    run.result.report = report
    summary: dict[str, Any] = {
        "read": run.result.read,
        "kept": run.result.kept,
        "dropped": run.result.dropped,
        "dropped_rows": [p.__dict__ for p in run.problems.problems],
    }
    body = {"ingest": summary, "validation": report.to_dict()}
    (run.staging / REPORT).write_text(json.dumps(body, indent=2, default=str))
