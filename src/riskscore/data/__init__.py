"""Data in: the dataset loader and the validator (real or synthetic data alike).

A dataset is a folder of Parquet files in the schema's layout (`riskscore.schema`):
`documents`, and optionally `firms`, `outcomes` and `truth`. `load_world` validates and reads
it into a `World` with the dtypes the rest of the code relies on.

May import: `riskscore.schema`, `riskscore.reference`, `riskscore.errors`.
"""

from __future__ import annotations

from riskscore.data.io import World, load_world
from riskscore.data.validate import validate

__all__ = ["World", "load_world", "validate"]
