"""Commands about the audit log the service writes to the online state (`store/audit.py`)."""

from __future__ import annotations

from pathlib import Path

import typer

from riskscore.cli.app import audit_app, fail
from riskscore.config import Settings


@audit_app.command("verify")
def audit_verify() -> None:
    """Check the audit log of the state RISKSCORE_STATE_URL names: every chain's hashes,
    numbers and sealed head, and every stored answer and outcome against its record. Exit 1
    and name each problem when anything was edited or deleted."""
    from riskscore.service.selection import secret
    from riskscore.store import open_store

    settings = Settings()
    url = settings.store_url
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
        raise fail(f"no online state at {url.removeprefix('sqlite:///')} (RISKSCORE_STATE_URL)")
    key = secret(settings)
    store = open_store(url)
    try:
        verdict = store.verify_audit(key or b"")
    finally:
        store.close()
    how = (
        "HMAC-SHA256 under the service's secret"
        if verdict.keyed
        else ("plain SHA-256: no secret found, so a forger who recomputes the chain is not caught")
    )
    typer.echo(f"{verdict.records:,} records in {verdict.chains} chain(s), "
               f"{verdict.answers:,} answers checked ({how})")  # fmt: skip
    if verdict.problems:
        for problem in verdict.problems[:50]:
            typer.echo(f"  {problem}")
        if len(verdict.problems) > 50:
            typer.echo(f"  ... and {len(verdict.problems) - 50:,} more")
        raise fail(f"the audit log does not verify: {len(verdict.problems):,} problem(s)", 1)
    typer.echo("the audit log verifies: nothing edited or deleted")
