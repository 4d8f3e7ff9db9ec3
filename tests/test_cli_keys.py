"""`riskscore keys`: keys shown once, kept as hashes, two live per caller, revoked for good."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from riskscore.cli import app
from riskscore.service.auth import Keyring
from riskscore.store import SqliteStore

runner = CliRunner()


@pytest.fixture
def data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("RISKSCORE_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("RISKSCORE_STATE_URL", raising=False)
    return tmp_path


def _add(*args: str) -> str:
    result = runner.invoke(app, ["keys", "add", *args])
    assert result.exit_code == 0, result.output
    return result.output.strip().splitlines()[-1]


def test_a_key_is_shown_once_on_the_last_line_and_kept_as_a_hash(data: Path) -> None:
    key = _add("customs-dt", "--role", "score", "--role", "read", "--expires", "2099-12-31")
    store = SqliteStore(data / "state.db")
    [record] = store.api_keys()
    assert record.caller == "customs-dt" and record.roles == ("read", "score")
    assert record.expires_at is not None and record.expires_at.year == 2099
    assert key not in (data / "state.db").read_bytes().decode("latin-1")
    caller = Keyring(store, ttl=0).caller(key)
    assert caller is not None and caller.key_id == record.key_id
    listed = runner.invoke(app, ["keys", "list"]).output
    assert record.key_id in listed and "live" in listed and key not in listed
    store.close()


def test_two_live_keys_then_revoke_to_rotate(data: Path) -> None:
    first = _add("customs-dt", "--role", "score")
    _add("customs-dt", "--role", "score")
    third = runner.invoke(app, ["keys", "add", "customs-dt", "--role", "score"])
    assert third.exit_code == 2 and "2 live keys" in third.output
    key_id = first.split("_")[1]
    assert runner.invoke(app, ["keys", "revoke", key_id]).exit_code == 0
    again = runner.invoke(app, ["keys", "revoke", key_id])
    assert again.exit_code == 2 and "no live key" in again.output
    _add("customs-dt", "--role", "score")
    store = SqliteStore(data / "state.db")
    assert Keyring(store, ttl=0).caller(first) is None
    store.close()


@pytest.mark.parametrize(
    ("args", "named"),
    [(["bad name", "--role", "score"], "CALLER"), (["x", "--role", "root"], "--role"),
     (["x", "--role", "score", "--expires", "2020-01-01"], "--expires"),
     (["x", "--role", "score", "--expires", "soon"], "--expires")],
    ids=["caller", "role", "past", "not-a-date"],
)  # fmt: skip
def test_bad_arguments_are_named_and_store_nothing(data: Path, args: list[str], named: str) -> None:
    result = runner.invoke(app, ["keys", "add", *args])
    assert result.exit_code == 2 and named in result.output
    assert not (data / "state.db").exists() or SqliteStore(data / "state.db").api_keys() == []


def test_the_local_key_is_made_once_and_made_again_when_it_stops_working(data: Path) -> None:
    out = data / "local.key"
    assert runner.invoke(app, ["keys", "local", "--out", str(out)]).exit_code == 0
    key = out.read_text().strip()
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert "holds a working key" in runner.invoke(app, ["keys", "local", "--out", str(out)]).output
    assert out.read_text().strip() == key
    runner.invoke(app, ["keys", "revoke", key.split("_")[1]])
    assert runner.invoke(app, ["keys", "local", "--out", str(out)]).exit_code == 0
    assert out.read_text().strip() != key


def test_the_secret_file_is_written_once(data: Path) -> None:
    assert runner.invoke(app, ["keys", "secret"]).exit_code == 0
    secret = (data / "random.secret").read_text()
    assert len(secret.strip()) == 64
    assert stat.S_IMODE((data / "random.secret").stat().st_mode) == 0o600
    assert runner.invoke(app, ["keys", "secret"]).exit_code == 2
    assert runner.invoke(app, ["keys", "secret", "--if-missing"]).exit_code == 0
    assert (data / "random.secret").read_text() == secret
