"""Commands about models: features, the catalogue, train, promote, report."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import pandas as pd
import typer

from riskscore.cli.app import app, fail
from riskscore.config import Settings

if TYPE_CHECKING:
    from riskscore.data import World
    from riskscore.registry import Registered
    from riskscore.training.config import TrainConfig
    from riskscore.training.pipeline import Baselines, TrainingResult

_CONFIG_HELP = "Training config (TOML); default: the one shipped with riskscore."
ConfigOption = Annotated[Path | None, typer.Option(help=_CONFIG_HELP)]
NameOption = Annotated[
    str | None, typer.Option(help="Registered model name (default: RISKSCORE_MODEL_NAME).")
]


def _train_config(config: Path | None, overrides: Mapping[str, object]) -> TrainConfig:
    from riskscore.training.config import load_config

    return load_config(config, {k: v for k, v in overrides.items() if v is not None})


def _resolved(
    config: Path | None, split: str, overrides: dict[str, object], world: World
) -> TrainConfig:
    """The run's config: the file, the flags over it, and windows from the file, the date
    flags (`split.*`) or, with `--split auto`, cut from the data."""
    from riskscore.training.split import auto_split

    flagged = any(v is not None for k, v in overrides.items() if k.startswith("split."))
    if split not in ("config", "auto") or (split == "auto" and flagged):
        raise fail("--split: config or auto (auto takes no date flags)")
    if flagged:
        overrides = overrides | {"split.source": "flags"}
    resolved = _train_config(config, overrides)
    if split == "auto":
        resolved = resolved.model_copy(update={"split": auto_split(world.documents["issued_at"])})
    return resolved


def _baselines(data: Path, world: World) -> Baselines:
    """What evaluation compares with: the truth of a dataset that has one, and the legacy
    rules of a generated world (the generator's own rule model)."""
    from riskscore.synthetic import is_world, legacy_rules
    from riskscore.training.pipeline import Baselines

    return Baselines(truth=world.truth, legacy_rules=legacy_rules if is_world(data) else None)


@app.command()
def features(
    data: Annotated[Path, typer.Option(help="Dataset folder.")],
    out: Annotated[Path, typer.Option(help="Parquet file to write the features to.")],
    config: ConfigOption = None,
) -> None:
    """Build the point-in-time features of every line (statistics fitted on the config's train
    window) and write them as Parquet."""
    from riskscore.data import load_world
    from riskscore.training.pipeline import world_features
    from riskscore.training.split import window_masks

    split = _train_config(config, {}).split
    world = load_world(data, with_truth=False)
    began = time.perf_counter()
    documents = world.documents
    _, table = world_features(world, window_masks(documents, split)["train"])
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
    folder: Annotated[
        Path, typer.Option(help="Where the catalogue lives (the project's features/ folder).")
    ] = Path("features"),
) -> None:
    """Write features/catalogue.md and features/sets/default.json from the code."""
    from riskscore.features import SPECS
    from riskscore.features.catalogue import render_manifest, render_markdown

    files = {folder / "catalogue.md": render_markdown(SPECS),
             folder / "sets" / "default.json": render_manifest(SPECS)}  # fmt: skip
    stale = [p for p, text in files.items() if not p.exists() or p.read_text() != text]
    if check:
        if stale:
            raise fail("stale: " + ", ".join(map(str, stale)) + " (run `riskscore catalogue`)", 1)
        typer.echo("feature catalogue is current")
        return
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    typer.echo(f"wrote {len(files)} files for {len(SPECS)} features")


@app.command()
def train(
    data: Annotated[Path, typer.Option(help="Dataset folder.")],
    config: ConfigOption = None,
    split: Annotated[
        str,
        typer.Option(
            help="config: the config's windows (or the date flags); auto: cut "
            "from the data (last fifth test, the fifth before validation)."
        ),
    ] = "config",
    train_start: Annotated[str | None, typer.Option(help="Override split.train_start.")] = None,
    train_end: Annotated[str | None, typer.Option(help="Override split.train_end.")] = None,
    validation_end: Annotated[
        str | None, typer.Option(help="Override split.validation_end.")
    ] = None,
    test_end: Annotated[str | None, typer.Option(help="Override split.test_end.")] = None,
    seed: Annotated[int | None, typer.Option(help="Override lightgbm.seed.")] = None,
) -> None:
    """Train a LightGBM model, log the run to MLflow and register it as `challenger`."""
    from riskscore import registry
    from riskscore.data import load_world
    from riskscore.report.registry import report_to
    from riskscore.training import tracking
    from riskscore.training.pipeline import train_model

    dates = {"split.train_start": train_start, "split.train_end": train_end,
             "split.validation_end": validation_end, "split.test_end": test_end}  # fmt: skip
    world = load_world(data)
    resolved = _resolved(config, split, dates | {"lightgbm.seed": seed}, world)
    result = train_model(world.without_truth(), resolved, _baselines(data, world),
                         git_commit=tracking.git_commit())  # fmt: skip
    client = registry.connect(Settings().models_dir)
    registered = tracking.log_training(client, result, resolved, resolved.to_toml())
    with tempfile.TemporaryDirectory() as tmp:  # the run carries its own report
        report_to(client, registered.name, "challenger", Path(tmp) / "report.html")
    _summary(result, resolved, registered)


def _summary(result: TrainingResult, config: TrainConfig, registered: Registered) -> None:
    """What a user reads after `train`: windows, labels left out, the red-budget figure and
    any warning."""
    windows = config.split.windows()
    shown = ", ".join(f"{name} {a}..{b}" for name, (a, b) in windows.items())
    typer.echo(f"windows ({config.split.source}): {shown}")
    left = {k: v for k, v in result.counts.items() if "labels_" in k and v}
    if left:
        typer.echo("labels not used: " + ", ".join(f"{k.replace('_', ' ')} {v:,}"
                                                   for k, v in left.items()))  # fmt: skip
    view = "truth" if "truth" in result.evaluation else "labels"
    rows = [r for r in result.evaluation[view]["budgets"] if r["ranker"] == "model"]
    red = min(rows, key=lambda r: abs(r["budget"] - config.channels.red_share))
    typer.echo(f"registered {registered.name} version {registered.version} as challenger "
               f"(run {registered.run_id}); precision at the red budget on the test window "
               f"({'simulated truth' if view == 'truth' else 'inspected labels'}): "
               f"{red['precision']:.3f} (top {red['budget']:.0%})")  # fmt: skip
    for warning in result.warnings:
        typer.secho(f"warning: {warning}; `riskscore promote` will need --force",
                    err=True, fg=typer.colors.YELLOW)  # fmt: skip


@app.command()
def tune(
    data: Annotated[Path, typer.Option(help="Dataset folder.")],
    out: Annotated[Path, typer.Option(help="TOML file to write the best config to.")],
    config: ConfigOption = None,
    split: Annotated[str, typer.Option(help="config or auto (as for train).")] = "config",
    trials: Annotated[
        int, typer.Option(help="At most this many trials (trial 0: the config as given).", min=1)
    ] = 20,
    timeout: Annotated[
        float, typer.Option(help="Stop starting trials after this many seconds.", min=1)
    ] = 600,
) -> None:
    """Search LightGBM parameters on the validation window (Optuna, nested MLflow runs) and
    write the best config; judge it afterwards with `riskscore train --config OUT`."""
    import optuna

    from riskscore import registry
    from riskscore.data import load_world
    from riskscore.training import tracking
    from riskscore.training.tune import tune as search

    world = load_world(data, with_truth=False)
    resolved = _resolved(config, split, {}, world)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    client = registry.connect(Settings().models_dir)

    def progress(number: int, score: float, best: float) -> None:
        typer.echo(f"trial {number + 1}/{trials}: validation average precision {score:.4f} "
                   f"(best {best:.4f})", err=True)  # fmt: skip

    tuned, run_id = tracking.log_tuning(
        client, resolved,
        lambda hook: search(world, resolved, trials, timeout, hook), progress,
    )  # fmt: skip
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(tuned.config.to_toml())
    typer.echo(f"{tuned.trials} trials (run {run_id}): best validation average precision "
               f"{tuned.best_score:.4f}, the given config {tuned.default_score:.4f}; "
               f"wrote {out}")  # fmt: skip


@app.command()
def promote(
    force: Annotated[
        bool, typer.Option(help="Promote even if the challenger is not better.")
    ] = False,
    data: Annotated[
        Path | None, typer.Option(help="Dataset to compare on (default: the challenger's).")
    ] = None,
    name: NameOption = None,
) -> None:
    """Make the challenger champion if it beats the champion on the same test window."""
    from riskscore import registry
    from riskscore.training.promote import promote as run

    settings = Settings()
    client = registry.connect(settings.models_dir, create=False)
    decision = run(client, name or settings.model_name, force=force, data_dir=data)
    figures = ", ".join(f"{k} {v:.3f}" for k, v in decision.figures.items())
    verdict = "promoted to champion" if decision.promoted else "not promoted"
    typer.echo(f"version {decision.challenger.version} {verdict}: {decision.reason}. {figures}")


@app.command()
def report(
    out: Annotated[Path, typer.Option(help="HTML file to write.")],
    alias: Annotated[str, typer.Option(help="Which registered version to report on.")] = "champion",
    name: NameOption = None,
) -> None:
    """Write the managers' report of a registered model (self-contained HTML)."""
    from riskscore import registry
    from riskscore.report.registry import report_to

    settings = Settings()
    client = registry.connect(settings.models_dir, create=False)
    path = report_to(client, name or settings.model_name, alias, out)
    typer.echo(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB); also logged to the run")
