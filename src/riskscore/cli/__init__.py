"""The `riskscore` command line: the composition root. Each command builds what it needs
(settings, a dataset, a store, a registry client) and passes it down.

Commands live by noun: `data.py` (generate, validate, describe), `model.py` (features,
catalogue, train, promote, report), `state.py` (the online state), `keys.py` (API keys and the
random draw's secret), `audit.py` (verify the audit log), `serve.py` (serve, and score a
dataset offline). Each module registers its commands on the one app in `app.py`, and imports
its heavy dependencies inside the command, so that `riskscore --help` stays fast.

May import: anything of riskscore.
"""

from __future__ import annotations

import logging
import sys

import typer

from riskscore.cli import audit, data, keys, model, serve, state
from riskscore.cli.app import app
from riskscore.errors import RiskscoreError

__all__ = ["app", "audit", "data", "keys", "main", "model", "serve", "state"]


def main() -> None:
    """Console-script entry point: domain errors become one clear line and exit code 2."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        app()
    except RiskscoreError as error:
        typer.secho(f"error: {error}", err=True, fg=typer.colors.RED)
        sys.exit(2)
