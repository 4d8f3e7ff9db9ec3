"""Windows from the data: which lines each window holds, the automatic split, and the checks
a split must pass before training.

`window_masks` lives here rather than in `train` so that callers which only cut windows (the
features benchmark) do not import LightGBM (~90 MB of the benchmark's peak).

`auto_split` cuts a dataset's own span of issue dates: the last fifth of its days for test, the
fifth before for validation, the rest for training. `check_split` refuses, in one line, a
window with no documents or too few labels to fit and stop on; `labels_outside` counts the
labels a split cannot use (recorded after their window's cut-off, or on lines outside every
window), so that none is dropped silently.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd

from riskscore.errors import TrainingError
from riskscore.training.config import Split

TEST_SHARE = 0.2  # of the dataset's days, the last ones
VALIDATION_SHARE = 0.2  # the days just before test
MIN_DAYS = 15  # a dataset shorter than this has no room for three windows
# Below these a booster cannot be fitted or stopped at all (a warning comes far earlier:
# `Guard.min_train_positives`).
MIN_TRAIN_POSITIVES = 5
MIN_VALIDATION_POSITIVES = 1


def in_window(issued: pd.Series, first: date, last: date) -> np.ndarray:
    """Which times fall on the days first .. last (inclusive, UTC)."""
    return ((issued >= _utc(first)) & (issued < _utc(last + timedelta(days=1)))).to_numpy()


def window_masks(lines: pd.DataFrame, split: Split) -> dict[str, np.ndarray]:
    """Which lines were issued in each window."""
    return {
        name: in_window(lines["issued_at"], first, last)
        for name, (first, last) in split.windows().items()
    }


def _utc(day: date) -> pd.Timestamp:
    return pd.Timestamp(day, tz="UTC")


def auto_split(issued: pd.Series) -> Split:
    """Train, validation and test windows cut from the span of `issued` (aware datetimes).

    >>> days = pd.Series(pd.date_range("2024-01-01", "2024-10-26", freq="D", tz="UTC"))
    >>> auto_split(days).windows()["test"]
    (datetime.date(2024, 8, 28), datetime.date(2024, 10, 26))
    """
    first, last = issued.min().date(), issued.max().date()
    days = (last - first).days + 1
    if days < MIN_DAYS:
        raise TrainingError(f"the data spans {days} day(s) ({first}..{last}); --split auto "
                            f"needs {MIN_DAYS} to cut train, validation and test")  # fmt: skip
    test_days = max(1, round(days * TEST_SHARE))
    validation_days = max(1, round(days * VALIDATION_SHARE))
    validation_end = last - timedelta(days=test_days)
    train_end = validation_end - timedelta(days=validation_days)
    return Split(train_start=first, train_end=train_end, validation_end=validation_end,
                 test_end=last, source="auto")  # fmt: skip


def check_split(
    masks: dict[str, np.ndarray], positives: dict[str, int], split: Split, span: tuple[date, date]
) -> None:
    """Refuse, with one line that says what to do, a split whose window has no documents or
    too few positive labels to fit (train) or stop (validation) on."""
    windows = split.windows()
    for name, mask in masks.items():
        if not mask.any():
            first, last = windows[name]
            raise TrainingError(f"the {name} window {first}..{last} holds no documents (the data "
                                f"spans {span[0]}..{span[1]}): pass --split auto or other "
                                "dates")  # fmt: skip
    floors = {"train": MIN_TRAIN_POSITIVES, "validation": MIN_VALIDATION_POSITIVES}
    for name, floor in floors.items():
        if positives[name] < floor:
            first, last = windows[name]
            raise TrainingError(f"the {name} window {first}..{last} has {positives[name]} "
                                f"positive label(s) known in time, fewer than the {floor} needed "
                                "to train: widen it or bring more labels")  # fmt: skip


def labels_outside(
    inspected: np.ndarray, in_window: dict[str, np.ndarray], usable: dict[str, np.ndarray]
) -> dict[str, int]:
    """Labels a split leaves out, per window: lines inspected in a window whose result was
    recorded after the window's cut-off, and inspected lines issued outside every window."""
    counts = {
        f"{name}_labels_recorded_too_late": int((mask & inspected & ~usable[name]).sum())
        for name, mask in in_window.items()
    }
    anywhere = np.logical_or.reduce(list(in_window.values()))
    counts["labels_outside_every_window"] = int((inspected & ~anywhere).sum())
    return counts
