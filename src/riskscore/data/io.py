"""Loading a dataset folder into frames with the dtypes the rest of the code relies on.

Dtypes are cast once, here, where data enters: strings as pandas `str`, times as
`datetime64[us, UTC]`, nullable integers as float64 (NaN for none).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from riskscore.data.validate import validate
from riskscore.errors import DatasetError
from riskscore.schema import TABLES


@dataclass(frozen=True)
class World:
    """A dataset: documents, and the firms register, outcomes and truth when present."""

    documents: pd.DataFrame
    firms: pd.DataFrame | None = None
    outcomes: pd.DataFrame | None = None
    truth: pd.DataFrame | None = None


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
    return World(**tables)
