"""The Typer app every command registers on, and what commands share: one-line failures."""

from __future__ import annotations

from datetime import date

import typer
from pydantic import ValidationError

app = typer.Typer(
    name="riskscore",
    help="Re-export risk scoring for Kazakhstan customs and tax documents.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
state_app = typer.Typer(help="The online state the service reads and writes.", no_args_is_help=True)
app.add_typer(state_app, name="state")
keys_app = typer.Typer(
    help="API keys of the calling systems, and the random draw's secret.", no_args_is_help=True
)
app.add_typer(keys_app, name="keys")
audit_app = typer.Typer(help="The audit log of decisions and outcomes.", no_args_is_help=True)
app.add_typer(audit_app, name="audit")


def fail(message: str, code: int = 2) -> typer.Exit:
    """One red line on stderr, and the exit to raise (2: bad input, 1: a failed check)."""
    typer.secho(f"error: {message}", err=True, fg=typer.colors.RED)
    return typer.Exit(code)


def field_errors(error: ValidationError) -> str:
    """A pydantic error as `--field: reason; ...`, naming flags, never echoing values."""
    return "; ".join(f"--{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors())


def parse_date(name: str, value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise fail(f"--{name}: not a date like 2024-12-31") from None
