"""Windows from the data, and the one-line refusals of a split that cannot train."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from riskscore.cli import app
from riskscore.errors import TrainingError
from riskscore.training.config import Split
from riskscore.training.split import auto_split, check_split, labels_outside


def test_auto_split_cuts_the_last_fifths_for_validation_and_test() -> None:
    issued = pd.Series(pd.date_range("2023-01-01", "2023-12-31 12:00", freq="6h", tz="UTC"))
    split = auto_split(issued)
    windows = split.windows()
    assert split.source == "auto"
    assert windows["train"][0] == date(2023, 1, 1) and windows["test"][1] == date(2023, 12, 31)
    days = {name: (last - first).days + 1 for name, (first, last) in windows.items()}
    assert days == {"train": 219, "validation": 73, "test": 73}


def test_too_short_a_dataset_is_refused_in_one_line() -> None:
    issued = pd.Series(pd.date_range("2023-01-01", periods=10, freq="D", tz="UTC"))
    with pytest.raises(TrainingError, match="spans 10 day"):
        auto_split(issued)


SPLIT = Split(train_start=date(2023, 1, 1), train_end=date(2023, 6, 30),
              validation_end=date(2023, 9, 30), test_end=date(2023, 12, 31))  # fmt: skip


@pytest.mark.parametrize(
    ("masks", "positives", "message"),
    [
        (
            {"train": [1], "validation": [0], "test": [1]},
            {"train": 9, "validation": 9},
            "validation window 2023-07-01..2023-09-30 holds no documents",
        ),
        (
            {"train": [1], "validation": [1], "test": [1]},
            {"train": 4, "validation": 9},
            "train window 2023-01-01..2023-06-30 has 4 positive",
        ),
        (
            {"train": [1], "validation": [1], "test": [1]},
            {"train": 9, "validation": 0},
            "validation window .* has 0 positive",
        ),
    ],
    ids=["empty-window", "few-train-positives", "no-validation-positive"],
)
def test_a_split_that_cannot_train_is_one_line(
    masks: dict[str, list[int]], positives: dict[str, int], message: str
) -> None:
    arrays = {name: np.array(v, dtype=bool) for name, v in masks.items()}
    with pytest.raises(TrainingError, match=message) as caught:
        check_split(arrays, positives, SPLIT, (date(2023, 1, 1), date(2023, 12, 31)))
    assert "\n" not in str(caught.value)


def test_labels_left_out_are_counted_per_window() -> None:
    inspected = np.array([True, True, True, True, False])
    windows = {"train": np.array([1, 1, 0, 0, 0], bool), "test": np.array([0, 0, 1, 0, 1], bool)}
    usable = {"train": np.array([1, 0, 0, 0, 0], bool), "test": np.array([0, 0, 1, 0, 0], bool)}
    assert labels_outside(inspected, windows, usable) == {
        "train_labels_recorded_too_late": 1,
        "test_labels_recorded_too_late": 0,
        "labels_outside_every_window": 1,
    }


def test_train_outside_the_data_says_what_to_do(
    foreign_dataset: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RISKSCORE_MODELS_DIR", str(tmp_path / "models"))
    flags = ["--train-start", "2019-01-01", "--train-end", "2019-06-30",
             "--validation-end", "2019-12-31", "--test-end", "2020-06-30"]  # fmt: skip
    result = CliRunner().invoke(app, ["train", "--data", str(foreign_dataset), *flags])
    assert result.exit_code != 0
    assert isinstance(result.exception, TrainingError)
    assert "--split auto" in str(result.exception) and "holds no documents" in str(result.exception)
