"""Commands about datasets: generate a synthetic world, validate a dataset, describe a world."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from pydantic import ValidationError

from riskscore.cli.app import app, fail, field_errors, parse_date
from riskscore.errors import RiskscoreError

if TYPE_CHECKING:
    from riskscore.data.ingest import Ingested


@app.command()
def generate(
    out: Annotated[Path, typer.Option(help="Folder to write the world into (replaced).")],
    firms: Annotated[int, typer.Option(help="Number of Kazakh firms; scales the world.")] = 2_500,
    start: Annotated[str, typer.Option(help="First day, YYYY-MM-DD.")] = "2021-01-01",
    end: Annotated[str, typer.Option(help="Last day, YYYY-MM-DD.")] = "2024-12-31",
    seed: Annotated[int, typer.Option(help="Random seed; same seed, same files.")] = 7,
    random_share: Annotated[
        float, typer.Option(help="Share of documents inspected at random.")
    ] = 0.01,
    detection: Annotated[
        float, typer.Option(help="Probability an inspection finds a real violation.")
    ] = 0.85,
    workers: Annotated[int, typer.Option(help="Processes (default: all cores).")] = 0,
) -> None:
    """Generate a synthetic Kazakhstan trade world: firms, documents, outcomes, truth."""
    from riskscore.synthetic import WorldConfig
    from riskscore.synthetic import generate as run

    try:
        config = WorldConfig(
            seed=seed,
            firms=firms,
            start=parse_date("start", start),
            end=parse_date("end", end),
            random_inspection_share=random_share,
            detection_probability=detection,
        )
    except ValidationError as error:
        raise fail(field_errors(error)) from None
    began = time.perf_counter()
    with typer.progressbar(length=config.chunks, label="generating", file=sys.stderr) as bar:
        try:
            counts = run(
                config,
                out,
                workers=workers or os.cpu_count() or 1,
                progress=lambda done, _total: bar.update(1),
            )
        except RiskscoreError as error:
            raise fail(str(error)) from None
    seconds = time.perf_counter() - began
    typer.echo(
        f"wrote {out} in {seconds:.1f} s: " + ", ".join(f"{n:,} {t}" for t, n in counts.items())
    )


@app.command()
def validate(
    directory: Annotated[Path, typer.Argument(help="Dataset folder of Parquet files.")],
    max_per_check: Annotated[int, typer.Option(help="Rows listed per failing check.")] = 20,
) -> None:
    """Check a dataset against the schema; list every problem by file, row and column."""
    from riskscore.data import validate as run

    report = run(directory, max_per_check=max_per_check)
    for problem in report.problems:
        typer.echo(str(problem))
    for where, count in report.unknown.items():
        typer.echo(f"unknown values kept (scored as unseen): {where}: {count:,}")
    if not report.ok:
        raise fail(f"{report.total} problem(s) in {directory}", code=1)
    typer.echo(f"{directory}: valid")


@app.command()
def ingest(
    sources: Annotated[
        list[Path],
        typer.Argument(
            help="Files of document lines (CSV, Parquet, JSON Lines), in your own layout."
        ),
    ],
    mapping: Annotated[
        Path, typer.Option(help="Column mapping (TOML): see docs/examples/foreign/mapping.toml.")
    ],
    out: Annotated[
        Path, typer.Option(help="Dataset folder to write (replaced when it holds a dataset).")
    ],
    on_error: Annotated[
        str,
        typer.Option(
            help="stop: write nothing when a row breaks a rule; "
            "drop: leave such rows out, into rejects.csv."
        ),
    ] = "stop",
) -> None:
    """Convert your own files into a dataset `train` accepts, with a validation report."""
    from riskscore.data.ingest import REPORT
    from riskscore.data.ingest import ingest as run
    from riskscore.data.mapping import load_mapping

    if on_error not in ("stop", "drop"):
        raise fail("--on-error: stop or drop")
    loaded = load_mapping(mapping)

    def progress(file: str, rows: int) -> None:
        typer.echo(f"\r  {file}: {rows:,} rows read", err=True, nl=False)

    began = time.perf_counter()
    try:
        result = run(sources, loaded, out, "drop" if on_error == "drop" else "stop", progress)
    finally:
        typer.echo("", err=True)
    _ingested(result)
    typer.echo(f"wrote {result.out} in {time.perf_counter() - began:.1f} s; "
               f"report: {result.out / REPORT}")  # fmt: skip


def _ingested(result: Ingested) -> None:
    """The terminal summary of an ingest: rows per table, unknown values, rejects."""
    for table, read in result.read.items():
        typer.echo(f"{table}: {read:,} read, {result.kept[table]:,} kept, "
                   f"{result.dropped[table]:,} dropped")  # fmt: skip
    for where, count in result.report.unknown.items():
        typer.echo(f"unknown values kept: {where}: {count:,}")
    if result.rejects is not None:
        typer.echo(f"dropped rows and their reasons: {result.rejects}")


@app.command()
def describe(
    directory: Annotated[Path, typer.Argument(help="A generated world folder.")],
) -> None:
    """Print the proportions of a world (the ones docs/world.md documents)."""
    from riskscore.data import load_world
    from riskscore.synthetic.profile import profile

    world = load_world(directory)
    for name, value in profile(world).items():
        shown = f"{value:,.0f}" if value >= 100 else f"{value:.4f}"
        typer.echo(f"{name:<50} {shown:>10}")
