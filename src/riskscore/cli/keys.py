"""Commands about API keys (kept, hashed, in the online state) and the random draw's secret."""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime, time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from riskscore.cli.app import fail, keys_app, parse_date
from riskscore.config import Settings

if TYPE_CHECKING:
    from riskscore.service.auth import Role
    from riskscore.store import ApiKey, Store

_CALLER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_ROLES = ("score", "outcomes", "register", "read", "admin")
LOCAL = "local"


@keys_app.command("add")
def keys_add(
    caller: Annotated[str, typer.Argument(help="The calling system, e.g. customs-dt.")],
    role: Annotated[list[str], typer.Option(help=f"A role ({', '.join(_ROLES)}); repeat it.")],
    expires: Annotated[
        str | None, typer.Option(help="Last day the key works (UTC), e.g. 2027-06-30.")
    ] = None,
) -> None:
    """Make a key for a calling system. It is shown once, on the last line printed: only its
    hash is kept. A caller may have two live keys (while it rotates)."""
    if not _CALLER.match(caller):
        raise fail("CALLER: letters, digits, '.', '_' or '-', at most 64, starting with a "
                   "letter or digit")  # fmt: skip
    roles = _roles(role)
    until = None
    if expires is not None:
        until = datetime.combine(parse_date("expires", expires), time.max, UTC)
        if until <= datetime.now(UTC):
            raise fail("--expires: the day is past")
    key = _add(Settings(), caller, roles, until)
    key_id = key.split("_")[1]
    typer.echo(f"key {key_id} for {caller}: roles {', '.join(sorted(role))}; expires "
               f"{_day(until)}. Shown once, on the next line: keep it now.")  # fmt: skip
    typer.echo(key)


@keys_app.command("list")
def keys_list() -> None:
    """Every key: id, caller, roles, when made, until when, and whether it is live."""
    store = _store()
    try:
        rows = store.api_keys()
    finally:
        store.close()
    now = datetime.now(UTC)
    typer.echo(f"{'key id':<18}{'caller':<20}{'state':<9}{'created':<12}{'expires':<12}roles")
    for key in rows:
        typer.echo(f"{key.key_id:<18}{key.caller:<20}{_state(key, now):<9}"
                   f"{key.created_at:%Y-%m-%d}  {_day(key.expires_at):<12}"
                   f"{','.join(key.roles)}")  # fmt: skip


@keys_app.command("revoke")
def keys_revoke(
    key_id: Annotated[str, typer.Argument(help="The key id `keys list` shows.")],
) -> None:
    """Revoke a key; every process refuses it within RISKSCORE_KEY_CACHE_SECONDS."""
    store = _store()
    try:
        revoked = store.revoke_key(key_id, datetime.now(UTC))
    finally:
        store.close()
    if not revoked:
        raise fail(f"no live key with id {key_id!r}")
    typer.echo(f"revoked {key_id}")


@keys_app.command("local")
def keys_local(
    out: Annotated[Path, typer.Option(help="File to keep the key in.")] = Path("data/local.key"),
) -> None:
    """A key with every role for this machine (what `make run` uses): kept in `out`, made
    again only when the key there no longer works."""
    from riskscore.service.auth import Keyring, Role

    store = _store()
    try:
        if out.exists() and Keyring(store, ttl=0).caller(out.read_text().strip()) is not None:
            typer.echo(f"{out} holds a working key")
            return
        now = datetime.now(UTC)
        for key in store.api_keys():
            if key.caller == LOCAL and key.live(now):
                store.revoke_key(key.key_id, now)
    finally:
        store.close()
    made = _add(Settings(), LOCAL, list(Role), None)
    out.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(made + "\n")
    typer.echo(f"wrote a new key with every role to {out}")


@keys_app.command("secret")
def keys_secret(
    out: Annotated[
        Path | None, typer.Option(help="File to write (default: RISKSCORE_RANDOM_SECRET_FILE).")
    ] = None,
    if_missing: Annotated[bool, typer.Option(help="Succeed when the file exists.")] = False,
) -> None:
    """Write the random draw's secret key to a file readable by its owner only. It must stay
    the same for as long as documents are scored (a new one re-draws every document)."""
    from riskscore.errors import ConfigError
    from riskscore.service.selection import write_secret

    path = out or Settings().secret_file
    try:
        write_secret(path)
    except ConfigError as error:
        if not if_missing:
            raise fail(str(error)) from None
        typer.echo(f"{path} exists already")
        return
    typer.echo(f"wrote the random draw's secret to {path}")


def _roles(given: list[str]) -> list[Role]:
    from riskscore.service.auth import Role

    unknown = [r for r in given if r not in _ROLES]
    if unknown or not given:
        raise fail(f"--role: one or more of {', '.join(_ROLES)}")
    return [Role(r) for r in given]


def _add(settings: Settings, caller: str, roles: list[Role], until: datetime | None) -> str:
    """Store a new key and return it (the store keeps its hash only)."""
    from riskscore.errors import ApiKeyError
    from riskscore.service.auth import new_key

    made = new_key(caller, roles, until)
    store = _store(settings)
    try:
        store.add_key(made.record)
    except ApiKeyError as error:
        raise fail(str(error)) from None
    finally:
        store.close()
    return made.key


def _store(settings: Settings | None = None) -> Store:
    from riskscore.store import open_store

    return open_store((settings or Settings()).store_url)


def _state(key: ApiKey, now: datetime) -> str:
    if key.revoked_at is not None:
        return "revoked"
    return "live" if key.live(now) else "expired"


def _day(moment: datetime | None) -> str:
    return "never" if moment is None else f"{moment:%Y-%m-%d}"
