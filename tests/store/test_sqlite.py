"""The SQLite store's own behaviour: WAL checkpoints off the request path, its layout versions."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from riskscore.data import World
from riskscore.errors import StateError
from riskscore.features import FeatureStats, trace_lots
from riskscore.schema import OUTCOME_COLUMNS
from riskscore.store import SqliteStore
from riskscore.store.codec import LINE_COLUMNS, frame_rows
from riskscore.store.sqlite import MIGRATIONS, VERSION

from .conftest import CUT, history, score


def _firms(n: int) -> pd.DataFrame:
    registered = pd.Timestamp("2020-01-01", tz="UTC")
    return pd.DataFrame(
        {"firm_id": [f"{i:012d}" for i in range(n)], "registered_at": registered,
         "activity_code": "46.52", "region": "ALA", "address_id": [f"A{i}" for i in range(n)],
         "director_id": [f"D{i}" for i in range(n)], "founder_country": "KZ"}
    )  # fmt: skip


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
    """A state file as riskscore wrote it before layouts were versioned (state-v2.db), its
    lines with the given columns."""
    with sqlite3.connect(path) as db:
        for statement in filter(str.strip, MIGRATIONS[1].split(";")):
            if "lines" not in statement:
                db.execute(statement)
        db.execute(f"CREATE TABLE lines ({', '.join(columns)})")


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


def test_a_version_one_file_with_history_is_upgraded_and_scores_as_a_fresh_load(
    tmp_path: Path, tiny: World, stats: FeatureStats
) -> None:
    """A state written before per-key state existed: its lines are kept and the new tables are
    filled from them, so it answers as a state loaded from the same history today."""
    loaded = history(tiny)
    assert loaded.outcomes is not None
    lines = pd.concat([loaded.documents, trace_lots(loaded.documents)], axis=1)
    with sqlite3.connect(tmp_path / "old.db") as db:
        for statement in filter(str.strip, MIGRATIONS[1].split(";")):
            db.execute(statement)
        db.executemany(f"INSERT INTO lines VALUES ({', '.join('?' * len(LINE_COLUMNS))})",
                       frame_rows(lines, LINE_COLUMNS))  # fmt: skip
        db.executemany(f"INSERT INTO outcomes VALUES ({', '.join('?' * 7)})",
                       frame_rows(loaded.outcomes, OUTCOME_COLUMNS))  # fmt: skip
    upgraded = SqliteStore(tmp_path / "old.db")
    fresh = SqliteStore(tmp_path / "fresh.db")
    fresh.load(loaded.documents, loaded.outcomes, None)
    assert upgraded.count("lines") == len(lines) and upgraded.count("marks") == fresh.count("marks")
    d = tiny.documents
    probes = d[(d["issued_at"] >= CUT) & (d["issued_at"] < CUT + pd.Timedelta(days=3))]
    for _, document in probes.groupby("document_id", sort=False):
        np.testing.assert_array_equal(
            score(upgraded, document, stats), score(fresh, document, stats)
        )
    upgraded.close()
    fresh.close()
