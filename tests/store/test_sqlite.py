"""The SQLite store's own behaviour: WAL checkpoints off the request path, its layout versions."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pandas as pd
import pytest

from riskscore.errors import StateError
from riskscore.store import SqliteStore
from riskscore.store.codec import LINE_COLUMNS
from riskscore.store.sqlite import MIGRATIONS, VERSION

from .conftest import firm


def _firms(n: int) -> pd.DataFrame:
    return pd.DataFrame([firm(f"{i:012d}", address=f"A{i}") for i in range(n)])


def test_the_background_checkpoint_moves_the_log_into_the_database(tmp_path: Path) -> None:
    state = SqliteStore(tmp_path / "state.db")
    state.housekeeping(every=0.05)
    empty = (tmp_path / "state.db").stat().st_size
    state.set_firms(_firms(5_000))
    deadline = time.monotonic() + 10
    while (tmp_path / "state.db").stat().st_size <= empty and time.monotonic() < deadline:
        time.sleep(0.05)
    grown = (tmp_path / "state.db").stat().st_size
    state.close()  # stops and joins the checkpoint thread
    assert grown > empty
    assert SqliteStore(tmp_path / "state.db").count("firms") == 5_000


def test_without_it_commits_leave_the_database_file_alone(tmp_path: Path) -> None:
    """The control: with automatic checkpoints off and no thread, nothing reaches the file."""
    state = SqliteStore(tmp_path / "state.db")
    with sqlite3.connect(tmp_path / "state.db") as other:
        other.execute("PRAGMA wal_autocheckpoint=0")
    state._db.execute("PRAGMA wal_autocheckpoint=0")
    empty = (tmp_path / "state.db").stat().st_size
    state.set_firms(_firms(5_000))
    time.sleep(0.2)
    assert (tmp_path / "state.db").stat().st_size == empty
    state.close()


def _legacy(path: Path, columns: tuple[str, ...]) -> None:
    """A state file as riskscore wrote it before layouts were versioned (state-v2.db)."""
    with sqlite3.connect(path) as db:
        db.execute(f"CREATE TABLE lines ({', '.join(columns)})")
        for table in ("outcomes", "firms", "answers"):
            db.execute(f"CREATE TABLE {table} (x)")


def test_a_file_from_before_versions_is_taken_as_version_one(tmp_path: Path) -> None:
    _legacy(tmp_path / "state-v2.db", LINE_COLUMNS)
    SqliteStore(tmp_path / "state-v2.db").close()
    with sqlite3.connect(tmp_path / "state-v2.db") as db:
        versions = [row[0] for row in db.execute("SELECT version FROM schema_version")]
    assert versions == list(range(1, VERSION + 1))


@pytest.mark.parametrize(
    "columns", [LINE_COLUMNS[:-1], ("document_id", "whatever")], ids=["v1-layout", "foreign"]
)
def test_a_file_of_another_layout_is_refused_and_left_alone(
    tmp_path: Path, columns: tuple[str, ...]
) -> None:
    _legacy(tmp_path / "old.db", columns)
    before = (tmp_path / "old.db").read_bytes()
    with pytest.raises(StateError, match="another layout"):
        SqliteStore(tmp_path / "old.db")
    assert (tmp_path / "old.db").read_bytes() == before


def test_a_file_from_a_newer_riskscore_is_refused(tmp_path: Path) -> None:
    SqliteStore(tmp_path / "state.db").close()
    with sqlite3.connect(tmp_path / "state.db") as db:
        db.execute("INSERT INTO schema_version VALUES (?, 'later')", (VERSION + 1,))
    with pytest.raises(StateError, match="newer riskscore"):
        SqliteStore(tmp_path / "state.db")


def test_a_file_that_is_not_a_database_is_refused(tmp_path: Path) -> None:
    (tmp_path / "state.db").write_text("not sqlite")
    with pytest.raises(StateError, match="cannot be opened"):
        SqliteStore(tmp_path / "state.db")


def test_a_version_one_file_keeps_its_answers_and_gains_keys(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied_at)")
        db.execute("INSERT INTO schema_version VALUES (1, 'then')")
        for statement in filter(str.strip, MIGRATIONS[1].split(";")):
            db.execute(statement)
        db.execute("INSERT INTO answers VALUES ('D1', '{}', '[]')")
    state = SqliteStore(path)
    assert state.answer("D1") == "{}" and state.caller_of("D1") == ""
    assert state.api_keys() == []
    state.close()
