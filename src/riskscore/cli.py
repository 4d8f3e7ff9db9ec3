"""The `riskscore` command line. Each command builds what it needs and passes it down."""

from __future__ import annotations

import json
import logging
import os
import sys
import tempfile
import time
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from pydantic import ValidationError

from riskscore.config import Settings
from riskscore.errors import RiskscoreError
from riskscore.training.config import DEFAULT_CONFIG, TrainConfig

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
        try:
            counts = run(
                config,
                out,
                workers=workers or os.cpu_count() or 1,
                progress=lambda done, _total: bar.update(1),
            )
        except RiskscoreError as error:
            raise _fail(str(error)) from None
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


def _train_config(config: Path, overrides: Mapping[str, object]) -> TrainConfig:
    from riskscore.training.config import load_config

    return load_config(config, {k: v for k, v in overrides.items() if v is not None})


@app.command()
def features(
    data: Annotated[Path, typer.Option(help="Dataset folder.")],
    out: Annotated[Path, typer.Option(help="Parquet file to write the features to.")],
    config: Annotated[
        Path, typer.Option(help="Training config (its train window fits the statistics).")
    ] = DEFAULT_CONFIG,
) -> None:
    """Build the point-in-time features of every line and write them as Parquet."""
    from riskscore.data import load_world
    from riskscore.features import build_features, fit_feature_stats
    from riskscore.training.train import window_masks

    split = _train_config(config, {}).split
    world = load_world(data, with_truth=False)
    began = time.perf_counter()
    documents = world.documents
    stats = fit_feature_stats(documents[window_masks(documents, split)["train"]])
    table = build_features(documents, stats, world.firms, world.outcomes)
    seconds = time.perf_counter() - began
    keys = documents[["document_id", "item_no", "issued_at"]]
    out.parent.mkdir(parents=True, exist_ok=True)
    pd.concat([keys, table], axis=1).to_parquet(out, index=False)
    typer.echo(f"wrote {out}: {len(table):,} lines x {table.shape[1]} features in {seconds:.1f} s "
               f"({len(table) / seconds:,.0f} lines/s)")  # fmt: skip


@app.command()
def catalogue(
    check: Annotated[
        bool, typer.Option(help="Only check the committed files are current.")
    ] = False,
    folder: Annotated[Path, typer.Option(help="Where the catalogue lives.")] = Path("features"),
) -> None:
    """Write features/catalogue.md and features/sets/default.json from the code."""
    from riskscore.features import SPECS
    from riskscore.features.catalogue import render_manifest, render_markdown

    files = {folder / "catalogue.md": render_markdown(SPECS),
             folder / "sets" / "default.json": render_manifest(SPECS)}  # fmt: skip
    stale = [p for p, text in files.items() if not p.exists() or p.read_text() != text]
    if check:
        if stale:
            raise _fail("stale: " + ", ".join(map(str, stale)) + " (run `riskscore catalogue`)", 1)
        typer.echo("feature catalogue is current")
        return
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    typer.echo(f"wrote {len(files)} files for {len(SPECS)} features")


@app.command()
def train(
    data: Annotated[Path, typer.Option(help="Dataset folder.")],
    config: Annotated[Path, typer.Option(help="Training config (TOML).")] = DEFAULT_CONFIG,
    train_end: Annotated[str | None, typer.Option(help="Override split.train_end.")] = None,
    validation_end: Annotated[
        str | None, typer.Option(help="Override split.validation_end.")
    ] = None,
    test_end: Annotated[str | None, typer.Option(help="Override split.test_end.")] = None,
    seed: Annotated[int | None, typer.Option(help="Override lightgbm.seed.")] = None,
) -> None:
    """Train a LightGBM model, log the run to MLflow and register it as `challenger`."""
    from riskscore.report.registry import report_to
    from riskscore.training import tracking
    from riskscore.training.pipeline import train_model

    overrides = {
        "split.train_end": train_end,
        "split.validation_end": validation_end,
        "split.test_end": test_end,
        "lightgbm.seed": seed,
    }
    resolved = _train_config(config, overrides)
    client = tracking.connect(Settings().models_dir)
    result = train_model(data, resolved, git_commit=tracking.git_commit())
    registered = tracking.log_training(client, result, resolved, tomllib_dump(resolved))
    with tempfile.TemporaryDirectory() as tmp:  # the run carries its own report
        report_to(client, registered.name, "challenger", Path(tmp) / "report.html")
    truth = result.evaluation.get("truth", result.evaluation["labels"])
    rows = [r for r in truth["budgets"] if r["ranker"] == "model"]
    red = min(rows, key=lambda r: abs(r["budget"] - resolved.channels.red_share))
    typer.echo(f"registered {registered.name} version {registered.version} as challenger "
               f"(run {registered.run_id}); precision at the red budget on the test window: "
               f"{red['precision']:.3f} (top {red['budget']:.0%})")  # fmt: skip


def tomllib_dump(config: TrainConfig) -> str:
    """The resolved config as TOML text (logged with the run)."""
    lines = []
    for section, values in config.model_dump(mode="json").items():
        lines.append(f"[{section}]")
        lines += [f"{key} = {json.dumps(value)}" for key, value in values.items()]
        lines.append("")
    return "\n".join(lines)


@app.command()
def promote(
    force: Annotated[
        bool, typer.Option(help="Promote even if the challenger is not better.")
    ] = False,
    data: Annotated[
        Path | None, typer.Option(help="Dataset to compare on (default: the challenger's).")
    ] = None,
    name: Annotated[str, typer.Option(help="Registered model name.")] = "reexport-risk",
) -> None:
    """Make the challenger champion if it beats the champion on the same test window."""
    from riskscore.training import tracking
    from riskscore.training.promote import promote as run

    client = tracking.connect(Settings().models_dir)
    decision = run(client, name, force=force, data_dir=data)
    figures = ", ".join(f"{k} {v:.3f}" for k, v in decision.figures.items())
    verdict = "promoted to champion" if decision.promoted else "not promoted"
    typer.echo(f"version {decision.challenger.version} {verdict}: {decision.reason}. {figures}")


@app.command()
def report(
    out: Annotated[Path, typer.Option(help="HTML file to write.")],
    alias: Annotated[str, typer.Option(help="Which registered version to report on.")] = "champion",
    name: Annotated[str, typer.Option(help="Registered model name.")] = "reexport-risk",
) -> None:
    """Write the managers' report of a registered model (self-contained HTML)."""
    from riskscore.report.registry import report_to
    from riskscore.training import tracking

    client = tracking.connect(Settings().models_dir)
    path = report_to(client, name, alias, out)
    typer.echo(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB); also logged to the run")


state_app = typer.Typer(help="The online state the service reads and writes.", no_args_is_help=True)
app.add_typer(state_app, name="state")


@state_app.command("load")
def state_load(
    directory: Annotated[Path, typer.Argument(help="Dataset folder (documents, firms, outcomes).")],
    until: Annotated[
        str | None, typer.Option(help="Load documents issued before this day.")
    ] = None,
) -> None:
    """Warm the online state with a history: documents, outcomes and the firms register."""
    from riskscore.data import load_world
    from riskscore.features.state import OnlineState, load_history

    settings = Settings()
    cut = None if until is None else pd.Timestamp(_date("until", until), tz="UTC")
    world = load_world(directory, with_truth=False)
    state = OnlineState(settings.state_path)
    if state.count("lines"):
        state.close()
        raise _fail(f"{settings.state_path} already holds documents; remove it to reload")
    began = time.perf_counter()
    counts = load_history(state, world.documents, world.outcomes, world.firms, cut)
    state.close()
    typer.echo(f"loaded {counts['lines']:,} lines and {counts['outcomes']:,} outcomes into "
               f"{settings.state_path} in {time.perf_counter() - began:.1f} s")  # fmt: skip


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes.")] = 1,
) -> None:
    """Serve the champion model on HTTP (OpenAPI docs at /docs)."""
    import uvicorn

    # One LightGBM thread per worker: with its default threads two workers share the cores
    # badly (design.md measured 3,800 -> 252 requests/s).
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    uvicorn.run(
        "riskscore.service.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="info",
    )


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
