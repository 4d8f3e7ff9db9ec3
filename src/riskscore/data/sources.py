"""Reading a user's source files in chunks: CSV, Parquet or JSON Lines, whatever their size.

CSV is read as text (every value a string or missing), so that nothing is guessed before the
mapping's transforms run; Parquet and JSON Lines keep their own types. Each chunk comes with
the file row of its first row, so problems are reported by the row a user can find.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq

from riskscore.data.mapping import Source
from riskscore.errors import ConfigError

Progress = Callable[[str, int], None]  # (file name, rows read so far in it)
_FORMATS = {".csv": "csv", ".txt": "csv", ".tsv": "csv", ".parquet": "parquet", ".pq": "parquet",
            ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl"}  # fmt: skip


def read_chunks(
    path: Path, settings: Source, progress: Progress | None
) -> Iterator[tuple[int, pd.DataFrame]]:
    """(row offset, rows) of a source file, chunk by chunk, reporting progress."""
    kind = settings.format or _FORMATS.get(path.suffix.lower())
    if kind is None:
        raise ConfigError(f"{path.name}: cannot tell its format; set [source] format")
    if not path.exists():
        raise ConfigError(f"{path}: no such file")
    size = settings.chunk_rows
    if kind == "parquet":
        with pq.ParquetFile(path) as parquet:
            batches = (b.to_pandas() for b in parquet.iter_batches(batch_size=size))
            yield from _counted(batches, path.name, progress)
        return
    reader: Any = (
        pd.read_csv(path, sep=settings.delimiter, dtype=str, keep_default_na=False,
                    na_values=[""], chunksize=size)
        if kind == "csv"
        else pd.read_json(path, lines=True, chunksize=size, dtype=False)
    )  # fmt: skip
    with reader:
        yield from _counted(reader, path.name, progress)


def _counted(
    chunks: Iterator[pd.DataFrame], name: str, progress: Progress | None
) -> Iterator[tuple[int, pd.DataFrame]]:
    offset = 0
    for chunk in chunks:
        chunk = chunk.reset_index(drop=True)
        yield offset, chunk
        offset += len(chunk)
        if progress is not None:
            progress(name, offset)
