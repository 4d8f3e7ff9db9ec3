"""Commands about datasets: generate a synthetic world, validate a dataset, describe a world."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError

from riskscore.cli.app import app, fail, field_errors, parse_date
from riskscore.errors import RiskscoreError


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
    if not report.ok:
        raise fail(f"{report.total} problem(s) in {directory}", code=1)
    typer.echo(f"{directory}: valid")


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
