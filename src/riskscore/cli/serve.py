"""The scoring commands: serve the API, and score a dataset offline."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Annotated

import typer

from riskscore.cli.app import app
from riskscore.config import Settings


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes.")] = 1,
) -> None:
    """Serve the champion model on HTTP (OpenAPI docs at /docs). Logs are JSON lines on
    stderr; with several workers /metrics adds up all of them."""
    import uvicorn

    from riskscore.service.logs import configure

    _preflight(Settings())
    # One LightGBM thread per worker: with its default threads two workers share the cores
    # badly (docs/decisions.md, "One LightGBM thread per worker").
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    own_folder = None
    if workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        own_folder = tempfile.mkdtemp(prefix="riskscore-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = own_folder
    try:
        uvicorn.run(
            "riskscore.service.app:create_app",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_config=configure(),
            access_log=False,  # the service logs its own access lines, with the caller
            proxy_headers=False,  # X-Forwarded-For is believed from RISKSCORE_TRUSTED_PROXIES only
        )
    finally:
        if own_folder is not None:
            shutil.rmtree(own_folder, ignore_errors=True)


def _preflight(settings: Settings) -> None:
    """What would stop the service at start-up, checked first so that it fails with one line
    (a RiskscoreError, printed by `main`) instead of a server's traceback: the champion
    exists and was trained on this code's features, the random draw has its secret, and the
    state opens."""
    from riskscore import registry
    from riskscore.features import FEATURE_NAMES
    from riskscore.service.selection import RandomSelection
    from riskscore.store import open_store

    client = registry.connect(settings.models_dir, create=False)
    champion = registry.require(client, settings.model_name, settings.model_alias,
                                "train and promote first")  # fmt: skip
    registry.check_features(champion, FEATURE_NAMES)
    RandomSelection.of(settings)
    open_store(settings.store_url).close()


@app.command()
def score(
    data: Annotated[Path, typer.Option(help="Dataset folder (documents, firms, outcomes).")],
    out: Annotated[Path, typer.Option(help="Parquet file to write, one row per line.")],
) -> None:
    """Score every document of a dataset with the champion, offline: each line's score, its
    document's score and channel, and the reasons of yellow and red documents' lines."""
    from riskscore import registry
    from riskscore.data import load_world
    from riskscore.features import FEATURE_NAMES
    from riskscore.service.offline import score_dataset
    from riskscore.service.runtime import ModelRuntime

    settings = Settings()
    client = registry.connect(settings.models_dir, create=False)
    champion = registry.require(client, settings.model_name, settings.model_alias,
                                "train and promote first")  # fmt: skip
    registry.check_features(champion, FEATURE_NAMES)
    runtime = ModelRuntime(registry.load_model(champion), settings.model_name,
                           settings.model_alias)  # fmt: skip
    world = load_world(data, with_truth=False)
    with typer.progressbar(length=100, label="scoring") as bar:

        def advance(share: float) -> None:
            bar.update(round(share * 100) - bar.pos)

        table = score_dataset(world.documents, world.firms, world.outcomes, runtime, advance)
    out.parent.mkdir(parents=True, exist_ok=True)
    table.to_parquet(out, index=False)
    counts = table.drop_duplicates("document_id")["channel"].value_counts().to_dict()
    shares = ", ".join(f"{c} {counts.get(c, 0):,}" for c in ("red", "yellow", "green"))
    typer.echo(f"wrote {out}: {len(table):,} lines of {sum(counts.values()):,} documents; {shares}")
