"""The online state's housekeeping: checkpoints of its write-ahead log off the request path."""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd

from riskscore.features.state import OnlineState


def _outcomes(n: int) -> pd.DataFrame:
    at = pd.Timestamp("2024-01-01", tz="UTC")
    return pd.DataFrame(
        {"document_id": [f"D{i:06d}" for i in range(n)], "item_no": 1, "selected_by": "rule",
         "inspected_at": at, "recorded_at": at, "violation_found": False, "finding": None}
    )  # fmt: skip


def test_the_background_checkpoint_moves_the_log_into_the_database(tmp_path: Path) -> None:
    state = OnlineState(tmp_path / "state.db")
    state.checkpoint_in_background(every=0.05)
    empty = (tmp_path / "state.db").stat().st_size
    state.add_outcomes(_outcomes(5_000))
    deadline = time.monotonic() + 10
    while (tmp_path / "state.db").stat().st_size <= empty and time.monotonic() < deadline:
        time.sleep(0.05)
    grown = (tmp_path / "state.db").stat().st_size
    state.close()  # stops and joins the checkpoint thread
    assert grown > empty
    assert OnlineState(tmp_path / "state.db").count("outcomes") == 5_000


def test_without_it_commits_leave_the_database_file_alone(tmp_path: Path) -> None:
    """The control: with automatic checkpoints off and no thread, nothing reaches the file."""
    state = OnlineState(tmp_path / "state.db")
    state._db.execute("PRAGMA wal_autocheckpoint=0")
    empty = (tmp_path / "state.db").stat().st_size
    state.add_outcomes(_outcomes(5_000))
    time.sleep(0.2)
    assert (tmp_path / "state.db").stat().st_size == empty
    state.close()
