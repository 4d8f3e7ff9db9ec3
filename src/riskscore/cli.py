"""The `riskscore` command line. Each command builds what it needs and passes it down."""

from __future__ import annotations

import logging
import os
import sys
import time
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError

from riskscore.errors import RiskscoreError

app = typer.Typer(
    name="riskscore",
    help="Re-export risk scoring for Kazakhstan customs and tax documents.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
log = logging.getLogger("riskscore")


def _fail(message: str, code: int = 2) -> typer.Exit:
    typer.secho(f"error: {message}", err=True, fg=typer.colors.RED)
    return typer.Exit(code)


def _field_errors(error: ValidationError) -> str:
    return "; ".join(f"--{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors())


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
    from riskscore.data.generate import generate as run
    from riskscore.data.world import WorldConfig

    try:
        config = WorldConfig(
            seed=seed,
            firms=firms,
            start=_date("start", start),
            end=_date("end", end),
            random_inspection_share=random_share,
            detection_probability=detection,
        )
    except ValidationError as error:
        raise _fail(_field_errors(error)) from None
    began = time.perf_counter()
    with typer.progressbar(length=config.chunks, label="generating", file=sys.stderr) as bar:
        counts = run(
            config,
            out,
            workers=workers or os.cpu_count() or 1,
            progress=lambda done, _total: bar.update(1),
        )
    seconds = time.perf_counter() - began
    typer.echo(
        f"wrote {out} in {seconds:.1f} s: " + ", ".join(f"{n:,} {t}" for t, n in counts.items())
    )


def _date(name: str, value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise _fail(f"--{name}: {value!r} is not a date like 2024-12-31") from None


@app.command()
def validate(
    directory: Annotated[Path, typer.Argument(help="Dataset folder of Parquet files.")],
    max_per_check: Annotated[int, typer.Option(help="Rows listed per failing check.")] = 20,
) -> None:
    """Check a dataset against the schema; list every problem by file, row and column."""
    from riskscore.data.validate import validate as run

    report = run(directory, max_per_check=max_per_check)
    for problem in report.problems:
        typer.echo(str(problem))
    if not report.ok:
        raise _fail(f"{report.total} problem(s) in {directory}", code=1)
    typer.echo(f"{directory}: valid")


@app.command()
def describe(
    directory: Annotated[Path, typer.Argument(help="A generated world folder.")],
) -> None:
    """Print the proportions of a world (the ones docs/world.md documents)."""
    from riskscore.data.io import load_world
    from riskscore.data.profile import profile

    world = load_world(directory)
    for name, value in profile(world).items():
        shown = f"{value:,.0f}" if value >= 100 else f"{value:.4f}"
        typer.echo(f"{name:<50} {shown:>10}")


def main() -> None:
    """Console-script entry point: domain errors become one clear line and exit code 2."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        app()
    except RiskscoreError as error:
        typer.secho(f"error: {error}", err=True, fg=typer.colors.RED)
        sys.exit(2)


if __name__ == "__main__":
    main()
