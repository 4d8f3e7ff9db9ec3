"""The online form of a running aggregate (marks per event) answers exactly as the batch one."""

from __future__ import annotations

import bisect

import numpy as np
import pytest

from riskscore.features.aggregates import (
    BatchFirst,
    Mark,
    Occurrences,
    StoredFirst,
    StoredRunning,
    accumulate,
    event_order,
)
from riskscore.features.history import Events


def _marks(key: np.ndarray, t: np.ndarray, values: np.ndarray) -> dict[int, list[Mark]]:
    """Each key's marks, accumulated a few events at a time, as the store appends them."""
    out: dict[int, list[Mark]] = {}
    for k in np.unique(key):
        mine = np.flatnonzero(key == k)
        order = mine[event_order(t[mine], values[mine])]
        marks: list[Mark] = []
        for chunk in np.array_split(order, 3):
            marks += accumulate(marks[-1] if marks else None, t[chunk], values[chunk])
        out[int(k)] = marks
    return out


def _stored(
    marks: dict[int, list[Mark]], queries: list[tuple[int, int]], width: int
) -> StoredRunning:
    found: dict[tuple[object, int], Mark | None] = {}
    for k, moment in queries:
        mine = marks.get(k, [])
        i = bisect.bisect_left([m.t for m in mine], moment)  # marks before the moment
        found[(k, moment)] = mine[i - 1] if i else None
    return StoredRunning(width, found)


@pytest.mark.parametrize("window", [None, 7, 40], ids=["all-history", "7s", "40s"])
def test_marks_answer_with_the_batch_digits(window: int | None) -> None:
    rng = np.random.default_rng(5)
    key, t = rng.integers(0, 6, 400), rng.integers(0, 120, 400)
    values = np.round(rng.lognormal(3, 2, (400, 2)), 3)  # sums whose digits depend on order
    qkey, qt = rng.integers(0, 7, 300), rng.integers(0, 130, 300)
    batch = Events.build(key, t, values)
    moments = [(int(k), int(m)) for k, m in zip(qkey, qt, strict=True)]
    if window is not None:
        moments += [(int(k), max(int(m) - window, 0)) for k, m in zip(qkey, qt, strict=True)]
    stored = _stored(_marks(key, t, values), moments, 2)
    count, sums = batch.before(qkey, qt, window)
    stored_count, stored_sums = stored.before(qkey, qt, window)
    np.testing.assert_array_equal(stored_count, count)
    np.testing.assert_array_equal(stored_sums, sums)  # exactly, not approximately
    np.testing.assert_array_equal(stored.last_before(qkey, qt), batch.last_before(qkey, qt))
    np.testing.assert_array_equal(
        stored.longest_gap_before(qkey, qt), batch.longest_gap_before(qkey, qt)
    )


def test_an_undeclared_moment_is_a_loud_error() -> None:
    stored = StoredRunning(0, {("k", 100): None})
    with pytest.raises(KeyError, match="does not list"):
        stored.before(np.array(["k"], dtype=object), np.array([100]), window=30)


def test_first_seen_and_counted_online_as_in_batch() -> None:
    """Items a, b, c first seen at 2, 1 and 9, counted by P (a, b) and Q (c)."""
    item, t = np.array([0, 1, 0, 2, 1]), np.array([5, 3, 2, 9, 1])
    counter = np.array([10, 10, 10, 11, 10])
    batch = BatchFirst(Occurrences(item, t, (counter,), np.arange(5)))
    online = StoredFirst(
        {0: 2, 1: 1, 2: 9, 3: None},
        {(10, 3): Mark(2, 2, (), 1), (11, 3): None, (10, 1): None},
    )
    ask, at = np.array([0, 1, 2, 3]), np.array([3, 1, 10, 4])
    np.testing.assert_array_equal(online.seen_before(ask, at), batch.seen_before(ask, at))
    assert online.seen_before(ask, at).tolist() == [True, False, True, False]
    ask, at = np.array([10, 11, 10]), np.array([3, 3, 1])
    np.testing.assert_array_equal(online.count_before(ask, at), batch.count_before(ask, at))
    assert online.count_before(ask, at).tolist() == [2.0, 0.0, 0.0]
