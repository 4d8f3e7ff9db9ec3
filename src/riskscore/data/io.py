"""Loading a dataset folder into frames with the dtypes the rest of the code relies on.

Dtypes are cast once, here, where data enters: any Arrow type that holds the values safely is
taken (`data.types`), then strings become pandas `str`, times `datetime64[us, UTC]`, nullable
integers float64 (NaN for none). Extra columns (`extra.<name>`) come as float64 (numeric) or
`str` (categorical), as the dataset's `dataset.toml` declares them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from riskscore.data.dataset import DatasetInfo, read_info
from riskscore.data.types import conform_table
from riskscore.data.validate import validate
from riskscore.errors import DatasetError, Problem
from riskscore.schema import TABLES

# The tables a model is fitted from; their files' bytes make the dataset's digest.
FITTED_FROM = ("documents", "firms", "outcomes")


@dataclass(frozen=True)
class World:
    """A dataset: documents, and the firms register, outcomes and truth when present.

    `digest` is the SHA-256 of the files of FITTED_FROM as read (None for a dataset built in
    memory); `source` the folder it came from; `info` its home country and extras.
    """

    documents: pd.DataFrame
    firms: pd.DataFrame | None = None
    outcomes: pd.DataFrame | None = None
    truth: pd.DataFrame | None = None
    digest: str | None = None
    source: Path | None = None
    info: DatasetInfo = field(default_factory=DatasetInfo)

    def without_truth(self) -> World:
        """The same dataset as a customs service would hold it: no ground truth."""
        return replace(self, truth=None)


def read_table(path: Path, name: str, extras: Mapping[str, str] | None = None) -> pd.DataFrame:
    """One table of the schema (and its declared extras), columns in schema order, production
    dtypes. A column whose type cannot hold its values is a DatasetError."""
    raw = pq.read_table(path)
    table, problems = conform_table(raw, TABLES[name], extras)
    if problems:
        raise DatasetError([Problem(path.name, None, c, m) for c, m in problems.items()])
    frame: pd.DataFrame = table.to_pandas()
    for column in table.schema:
        if pa.types.is_string(column.type):
            frame[column.name] = frame[column.name].astype("str")
        elif pa.types.is_integer(column.type) and frame[column.name].isna().any():
            frame[column.name] = frame[column.name].astype("float64")
    return frame


def load_world(directory: Path, check: bool = True, with_truth: bool = True) -> World:
    """Load a dataset folder. With `check`, a dataset with problems raises `DatasetError`.

    Training code passes `with_truth=False`: the ground truth of a synthetic world is for
    evaluation only.
    """
    directory = Path(directory)
    if check:
        report = validate(directory)
        if not report.ok:
            raise DatasetError(report.problems, report.total)
    info = read_info(directory)
    tables: dict[str, pd.DataFrame] = {}
    for name in TABLES:
        path = directory / f"{name}.parquet"
        if path.exists() and (with_truth or name != "truth"):
            tables[name] = read_table(path, name, info.extras if name == "documents" else None)
    digest = hashlib.sha256()
    for name in FITTED_FROM:
        path = directory / f"{name}.parquet"
        if path.exists():
            digest.update(path.read_bytes())
    return World(**tables, digest=digest.hexdigest(), source=directory.resolve(), info=info)
