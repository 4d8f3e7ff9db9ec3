"""The point-in-time primitive against a deliberately naive loop."""

from __future__ import annotations

import numpy as np
import pytest

from riskscore.features.history import Events


def _naive(key, time, value, qkey, qtime, window):  # type: ignore[no-untyped-def]
    counts, sums = [], []
    for k, t in zip(qkey, qtime, strict=True):
        hit = (key == k) & (time < t)
        if window is not None:
            hit &= time >= t - window
        counts.append(hit.sum())
        sums.append(value[hit].sum())
    return np.array(counts, float), np.array(sums)


@pytest.mark.parametrize("window", [None, 5, 30], ids=["all-history", "5s", "30s"])
def test_before_matches_a_naive_loop(window: int | None) -> None:
    rng = np.random.default_rng(0)
    key, time = rng.integers(0, 5, 300), rng.integers(0, 100, 300)
    value = rng.normal(size=300)
    qkey, qtime = rng.integers(0, 6, 200), rng.integers(0, 110, 200)
    count, total = Events.build(key, time, value).before(qkey, qtime, window)
    naive_count, naive_total = _naive(key, time, value, qkey, qtime, window)
    np.testing.assert_array_equal(count, naive_count)
    np.testing.assert_allclose(total, naive_total, atol=1e-9)


def test_events_at_the_same_second_are_not_before() -> None:
    events = Events.build(np.array([1, 1]), np.array([10, 10]))
    count, _ = events.before(np.array([1, 1]), np.array([10, 11]))
    assert count.tolist() == [0.0, 2.0]


def test_last_before() -> None:
    events = Events.build(np.array([1, 1, 2]), np.array([5, 9, 3]))
    last = events.last_before(np.array([1, 1, 2, 3]), np.array([9, 10, 3, 50]))
    assert last[:2].tolist() == [5.0, 9.0]
    assert np.isnan(last[2]) and np.isnan(last[3])
