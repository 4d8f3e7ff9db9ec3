"""`riskscore generate`: write a synthetic Kazakhstan trade world as Parquet.

The world is built in independent communities of `firms_per_chunk` firms, each from its own
random stream `(seed, chunk)`, and written chunk by chunk: memory stays bounded at any size,
chunks can be built on several processes, and the same seed gives identical files.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from riskscore import __version__
from riskscore.errors import ConfigError
from riskscore.reference import hs_catalogue, offices
from riskscore.schema import arrow_schema
from riskscore.synthetic.activity import active_window, run_firm
from riskscore.synthetic.chains import ChainEngine
from riskscore.synthetic.goods import Catalogue
from riskscore.synthetic.inspections import inspect
from riskscore.synthetic.parties import make_firms, make_foreign_parties
from riskscore.synthetic.routes import Offices
from riskscore.synthetic.world import MICROSECONDS_PER_DAY, WorldConfig, days_of

TABLE_NAMES = ("firms", "documents", "outcomes", "truth")
MANIFEST = "world.json"


@dataclass(frozen=True)
class Chunk:
    """The four tables of one community."""

    index: int
    tables: dict[str, pa.Table]

    @property
    def lines(self) -> int:
        return int(self.tables["documents"].num_rows)


def build_chunk(config: WorldConfig, index: int) -> Chunk:
    """Generate community `index` of the world. Pure: same config and index, same tables."""
    rng = np.random.default_rng([config.seed, index])
    count = min(config.firms_per_chunk, config.firms - index * config.firms_per_chunk)
    window = (config.start_day, config.end_day)
    first_serial = index * config.firms_per_chunk
    firms = make_firms(rng, count, first_serial, window)
    foreign = make_foreign_parties(rng, count, first_serial)
    engine = ChainEngine(
        rng, Catalogue.from_frame(hs_catalogue()), Offices(offices()), firms, foreign, index
    )
    engine.start, engine.end = window
    for firm in firms:
        active_window(rng, firm, *window)
        run_firm(engine, firm, size=float(rng.lognormal(-0.32, 0.8)))
    documents, truth = _in_window(
        engine.ledger.documents_table(), engine.ledger.truth_table(), config
    )
    outcomes = inspect(
        rng, documents, truth, config.random_inspection_share, config.detection_probability
    )
    recorded = days_of(outcomes["recorded_at"])
    outcomes = outcomes.filter(pa.array(recorded < config.end_day))
    firm_table = pa.table(
        {
            "firm_id": [f.firm_id for f in firms],
            "registered_at": [round(f.registered * MICROSECONDS_PER_DAY) for f in firms],
            "activity_code": [f.activity_code for f in firms],
            "region": [f.region for f in firms],
            "address_id": [f.address_id for f in firms],
            "director_id": [f.director_id for f in firms],
            "founder_country": [f.founder_country for f in firms],
        },
        schema=arrow_schema("firms"),
    )
    tables = {"firms": firm_table, "documents": documents, "outcomes": outcomes, "truth": truth}
    return Chunk(index, tables)


def _in_window(
    documents: pa.Table, truth: pa.Table, config: WorldConfig
) -> tuple[pa.Table, pa.Table]:
    """Keep documents issued inside the window, sorted by time, with truth in the same order."""
    t = days_of(documents["issued_at"])
    keep = (t >= config.start_day) & (t < config.end_day)
    documents, truth = documents.filter(pa.array(keep)), truth.filter(pa.array(keep))
    order = pc.sort_indices(
        documents,
        sort_keys=[
            ("issued_at", "ascending"),
            ("document_id", "ascending"),
            ("item_no", "ascending"),
        ],
    )
    return documents.take(order), truth.take(order)


def _chunks(config: WorldConfig, workers: int) -> Iterator[Chunk]:
    indices = range(config.chunks)
    if workers <= 1 or config.chunks == 1:
        yield from (build_chunk(config, i) for i in indices)
        return
    with ProcessPoolExecutor(max_workers=workers) as pool:
        # map() yields in submission order, so files do not depend on which process was faster.
        yield from pool.map(build_chunk, [config] * config.chunks, indices)


def is_world(folder: Path) -> bool:
    """Whether a dataset folder was written by `generate` (it carries the world's manifest)."""
    return (Path(folder) / MANIFEST).exists()


def generate(
    config: WorldConfig,
    out: Path,
    workers: int = 1,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, int]:
    """Write firms, documents, outcomes and truth Parquet files and a manifest into `out`.

    Writes into a temporary folder beside `out` and renames it at the end, so an interrupted
    run never leaves a half-written world behind. Returns row counts per table.
    """
    out = Path(out).resolve()
    if out.exists() and any(out.iterdir()) and not (out / MANIFEST).exists():
        raise ConfigError(f"--out {out} is a folder that holds something other than a world")
    staging = out.with_name(out.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    writers = {
        name: pq.ParquetWriter(staging / f"{name}.parquet", arrow_schema(name), compression="zstd")
        for name in TABLE_NAMES
    }
    counts = dict.fromkeys(TABLE_NAMES, 0)
    try:
        for chunk in _chunks(config, workers):
            for name, table in chunk.tables.items():
                writers[name].write_table(table, row_group_size=256_000)
                counts[name] += table.num_rows
            if progress:
                progress(chunk.index + 1, config.chunks)
    finally:
        for writer in writers.values():
            writer.close()
    manifest = {"generator": f"riskscore {__version__}", "config": config.model_dump(mode="json")}
    (staging / MANIFEST).write_text(json.dumps(manifest | {"rows": counts}, indent=2) + "\n")
    if out.exists():
        shutil.rmtree(out)
    os.replace(staging, out)
    return counts
