"""Data in: the dataset loader and the validator (real or synthetic data alike).

A dataset is a folder of Parquet files in the schema's layout (`riskscore.schema`):
`documents`, and optionally `firms`, `outcomes` and `truth`, with its settings in
`dataset.toml` (`DatasetInfo`: home country, extra columns). `load_world` validates and reads
it into a `World` with the dtypes the rest of the code relies on. `ingest` converts a user's
own files (CSV, Parquet, JSON Lines in their own layout) into one, as a `Mapping` says.

May import: `riskscore.schema`, `riskscore.reference`, `riskscore.errors`.
"""

from __future__ import annotations

from riskscore.data.dataset import DatasetInfo, read_info, write_info
from riskscore.data.io import World, load_world
from riskscore.data.validate import Report, validate

__all__ = ["DatasetInfo", "Report", "World", "load_world", "read_info", "validate", "write_info"]
