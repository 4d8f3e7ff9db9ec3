"""The command that serves the scoring API."""

from __future__ import annotations

import os
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
    """Serve the champion model on HTTP (OpenAPI docs at /docs)."""
    import uvicorn

    _preflight(Settings())
    # One LightGBM thread per worker: with its default threads two workers share the cores
    # badly (docs/decisions.md, "One LightGBM thread per worker").
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    uvicorn.run(
        "riskscore.service.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="info",
    )


def _preflight(settings: Settings) -> None:
    """What would stop the service at start-up, checked first so that it fails with one line
    (a RiskscoreError, printed by `main`) instead of a server's traceback: the champion
    exists and was trained on this code's features, and the state opens."""
    from riskscore import registry
    from riskscore.features import FEATURE_NAMES
    from riskscore.store import open_store

    client = registry.connect(settings.models_dir, create=False)
    champion = registry.require(client, settings.model_name, settings.model_alias,
                                "train and promote first")  # fmt: skip
    registry.check_features(champion, FEATURE_NAMES)
    open_store(settings.store_url).close()
