"""Commands about the online state: load a history into it, export what it holds."""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import pandas as pd
import typer

from riskscore.cli.app import fail, parse_date, state_app
from riskscore.config import Settings

if TYPE_CHECKING:
    from riskscore.data import World


@state_app.command("load")
def state_load(
    directory: Annotated[Path, typer.Argument(help="Dataset folder (documents, firms, outcomes).")],
    until: Annotated[
        str | None, typer.Option(help="Load documents issued before this day.")
    ] = None,
    if_empty: Annotated[
        bool, typer.Option(help="Do nothing (and succeed) when the state already holds lines.")
    ] = False,
) -> None:
    """Warm the online state (RISKSCORE_STATE_URL, default data/state.db) with a history:
    documents, outcomes and the firms register."""
    from riskscore.data import load_world
    from riskscore.store import load_history, open_store

    settings = Settings()
    cut = None if until is None else pd.Timestamp(parse_date("until", until), tz="UTC")
    store = open_store(settings.store_url)
    try:
        if store.count("lines"):
            if if_empty:
                typer.echo(f"{settings.store_url} already holds its history")
                return
            raise fail(f"{settings.store_url} already holds documents; remove it to reload")
        world = load_world(directory, with_truth=False)
        began = time.perf_counter()
        with typer.progressbar(length=_estimate(world), label="loading", file=sys.stderr) as bar:
            done = [0]

            def progress(written: int) -> None:
                bar.update(written - done[0])
                done[0] = written

            counts = load_history(store, world.documents, world.outcomes, world.firms, cut,
                                  progress, world.info.home_country)  # fmt: skip
    finally:
        store.close()
    typer.echo(f"loaded {counts['lines']:,} lines and {counts['outcomes']:,} outcomes into "
               f"{settings.store_url} in {time.perf_counter() - began:.1f} s")  # fmt: skip


@state_app.command("rebuild")
def state_rebuild() -> None:
    """Compute every key's state again from the stored lines and outcomes (folds in documents
    that arrived later than the lateness horizon and were answered flagged late)."""
    from riskscore.store import open_store

    settings = Settings()
    store = open_store(settings.store_url)
    began = time.perf_counter()
    try:
        store.rebuild()
        lines = store.count("lines")
    finally:
        store.close()
    typer.echo(f"rebuilt the state of {lines:,} lines in {settings.store_url} "
               f"in {time.perf_counter() - began:.1f} s")  # fmt: skip


def _estimate(world: World) -> int:
    """Rows a load writes, roughly: each line makes about four (its row, its marks, its lot)."""
    return 4 * len(world.documents)


@state_app.command("export")
def state_export(
    out: Annotated[
        Path, typer.Option(help="Dataset folder to write (replaced when it holds a dataset).")
    ],
    since: Annotated[
        str | None, typer.Option(help="Only documents issued on or after this day.")
    ] = None,
    home_country: Annotated[str, typer.Option(help="The dataset's home country.")] = "KZ",
) -> None:
    """Write everything the service stored (documents, outcomes, register, served feature
    vectors) as a dataset `riskscore train` accepts."""
    from riskscore.schema import COUNTRY_PATTERN
    from riskscore.store import export_state, open_store

    if not re.fullmatch(COUNTRY_PATTERN, home_country):
        raise fail("--home-country: a two-letter country code such as KZ")
    settings = Settings()
    cut = None if since is None else pd.Timestamp(parse_date("since", since), tz="UTC")
    store = open_store(settings.store_url)
    try:
        counts = export_state(store, out, None if cut is None else cut.to_pydatetime(),
                              home_country)  # fmt: skip
    finally:
        store.close()
    typer.echo(f"wrote {out}: " + ", ".join(f"{n:,} {table}" for table, n in counts.items()))
