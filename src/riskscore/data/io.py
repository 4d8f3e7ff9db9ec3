"""Loading a dataset folder into frames with the dtypes the rest of the code relies on.

Dtypes are cast once, here, where data enters: strings as pandas `str`, times as
`datetime64[us, UTC]`, nullable integers as float64 (NaN for none).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from riskscore.data.validate import validate
from riskscore.errors import DatasetError
from riskscore.schema import TABLES

# The tables a model is fitted from; their files' bytes make the dataset's digest.
FITTED_FROM = ("documents", "firms", "outcomes")


@dataclass(frozen=True)
class World:
    """A dataset: documents, and the firms register, outcomes and truth when present.

    `digest` is the SHA-256 of the files of FITTED_FROM as read (None for a dataset built in
    memory); `source` the folder it came from.
    """

    documents: pd.DataFrame
    firms: pd.DataFrame | None = None
    outcomes: pd.DataFrame | None = None
    truth: pd.DataFrame | None = None
    digest: str | None = None
    source: Path | None = None

    def without_truth(self) -> World:
        """The same dataset as a customs service would hold it: no ground truth."""
        return replace(self, truth=None)


def read_table(path: Path, name: str) -> pd.DataFrame:
    """One table of the schema, columns in schema order, production dtypes."""
    spec = TABLES[name]
    frame: pd.DataFrame = pq.read_table(path, columns=list(spec)).to_pandas()
    for column, kind in spec.items():
        if str(kind) == "string":
            frame[column] = frame[column].astype("str")
        elif str(kind) == "int32" and frame[column].isna().any():
            frame[column] = frame[column].astype("float64")
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
    tables: dict[str, pd.DataFrame] = {}
    for name in TABLES:
        path = directory / f"{name}.parquet"
        if path.exists() and (with_truth or name != "truth"):
            tables[name] = read_table(path, name)
    digest = hashlib.sha256()
    for name in FITTED_FROM:
        path = directory / f"{name}.parquet"
        if path.exists():
            digest.update(path.read_bytes())
    return World(**tables, digest=digest.hexdigest(), source=directory.resolve())
