"""Point-in-time aggregates: what happened to a key strictly before a moment.

Every history feature is built from `before`: for each query (key, t) it counts and sums the
events of the same key whose time is in [t - window, t). Events at the query's own second are
excluded, so the lines of one document never see each other and nothing dated at or after t can
change a feature at t.

Keys and times are packed into one sortable int64 (key code in the high bits, whole seconds
since 1970 in the low 32 bits, so any date from 1970 to 2106), so one `np.searchsorted` answers all
queries at once:
pandas' rolling windows would need a group-by per key and cannot answer queries that are not
themselves events (the service's new document).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from riskscore.features.columns import MICROS_PER_SECOND

_TIME_LIMIT = 1 << 32  # packed times must fit the low 32 bits
_TIME_BITS = 32
_KEY_LIMIT = 1 << 31  # key codes stay below this, so a packed key never reaches the sign bit
_CODE_LIMIT = 1 << 62  # composite codes are compacted before they could overflow int64


def seconds(times: pd.Series) -> np.ndarray:
    """Whole seconds since 1970-01-01 of a tz-aware datetime Series."""
    as_us = times.to_numpy(dtype="datetime64[us]").astype("int64")
    return as_us // MICROS_PER_SECOND


def key_codes(*parts: Sequence[object] | pd.Series | np.ndarray) -> np.ndarray:
    """One int64 code per row for a composite key (tuples of parts, never joined strings),
    below 2^31 (what `Events` packs). Which code a key gets is arbitrary; equal keys get
    equal codes. Parts that are already non-negative integer codes are used as they are.

    >>> key_codes(np.array(["a", "b", "a"], dtype=object), np.array([0, 1, 0])).tolist()
    [0, 3, 0]
    """
    codes = np.zeros(len(parts[0]), dtype=np.int64)
    size = 1  # codes lie in [0, size)
    for part in parts:
        array = np.asarray(part)
        if array.dtype.kind in "iu" and (not len(array) or array.min() >= 0):
            part_codes, cardinality = array.astype(np.int64), int(array.max(initial=0)) + 1
        else:
            part_codes, uniques = pd.factorize(array.astype(object), use_na_sentinel=False)
            cardinality = len(uniques)
        if size * cardinality >= _CODE_LIMIT:
            codes, size = _compact(codes)
        codes, size = codes * cardinality + part_codes, size * cardinality
    return codes if size < _KEY_LIMIT else _compact(codes)[0]


def _compact(codes: np.ndarray) -> tuple[np.ndarray, int]:
    """Codes renumbered 0 .. k-1, and k."""
    compact, uniques = pd.factorize(codes)
    return compact.astype(np.int64), len(uniques)


@dataclass(frozen=True)
class Events:
    """Events sorted by (key, time, value), ready to answer `before` queries.

    Sums accumulate per key, in an order fixed by (time, value): the service, which sees one
    firm's history, adds exactly the same numbers in the same order as the batch pipeline,
    which sees everyone's (a global running sum would lose digits to other firms' totals).
    """

    packed: np.ndarray
    running: np.ndarray  # inclusive running sum of the values within each key (1 or 2 dims)

    @classmethod
    def build(cls, key: np.ndarray, time: np.ndarray, value: np.ndarray | None = None) -> Events:
        """Events of `key` at `time`, carrying `value`: one weight per event, or one column
        per kind of sum (several sums over the same events cost one sort). Missing values
        count as zero; with no value, `before` sums are counts."""
        _check_times(time)
        packed = (key.astype(np.int64) << _TIME_BITS) | time.astype(np.int64)
        if value is None:
            order = np.argsort(packed, kind="stable")
            return cls(packed[order], _positions(key[order]))
        weights = value.astype(float)
        weights[np.isnan(weights)] = 0.0
        columns = [weights] if weights.ndim == 1 else list(weights.T)
        order = np.lexsort((*reversed(columns), packed))
        return cls(packed[order], cumulative(key[order], weights[order]))

    def before(
        self, key: np.ndarray, time: np.ndarray, window: float | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """(count, sum of values) of events with the same key in [time - window, time); the
        sums have one column per value column."""
        _check_times(time)
        first = np.searchsorted(self.packed, key << _TIME_BITS, side="left")
        high = np.searchsorted(self.packed, (key << _TIME_BITS) | time, side="left")
        if window is None:
            low = first
        else:
            start = np.maximum(time - int(window), 0)
            low = np.searchsorted(self.packed, (key << _TIME_BITS) | start, side="left")
        return (high - low).astype(float), self._through(high, first) - self._through(low, first)

    def _through(self, stop: np.ndarray, first: np.ndarray) -> np.ndarray:
        """Running sum of the key's events before index `stop` (0 when there are none)."""
        if not len(self.running):
            return np.zeros((len(stop), *self.running.shape[1:]))
        some = (stop > first).reshape(-1, *[1] * (self.running.ndim - 1))
        return np.where(some, self.running[np.maximum(stop - 1, 0)], 0.0)

    def last_before(self, key: np.ndarray, time: np.ndarray) -> np.ndarray:
        """Time of the latest event of the key strictly before `time` (NaN when none)."""
        high = np.searchsorted(self.packed, (key << _TIME_BITS) | time, side="left")
        prior = np.clip(high - 1, 0, max(len(self.packed) - 1, 0))
        if not len(self.packed):
            return np.full(len(key), np.nan)
        found = (high > 0) & ((self.packed[prior] >> _TIME_BITS) == key)
        last = (self.packed[prior] & ((1 << _TIME_BITS) - 1)).astype(float)
        return np.where(found, last, np.nan)

    def longest_gap_before(self, key: np.ndarray, time: np.ndarray) -> np.ndarray:
        """Longest gap (seconds) between consecutive events of the key before `time`, the open
        gap up to `time` included; NaN for a key with no event before it. Read from the
        events' own (key, time) order: no second sort.

        >>> e = Events.build(np.array([1, 1, 1]), np.array([0, 10, 13]))
        >>> e.longest_gap_before(np.array([1, 1, 2]), np.array([12, 40, 5])).tolist()
        [10.0, 27.0, nan]
        """
        if not len(self.packed):
            return np.full(len(key), np.nan)
        k, s = self.packed >> _TIME_BITS, self.packed & ((1 << _TIME_BITS) - 1)
        rank = np.zeros(len(k), dtype=np.int64)  # 0, 1, 2, ... by key
        rank[segments(k)[1:-1]] = 1
        rank = np.cumsum(rank)
        gap = np.diff(s, prepend=s[0])
        gap[np.diff(rank, prepend=-1) != 0] = 0  # a key's first event opens no gap
        running = _running_max(rank, gap)
        high = np.searchsorted(self.packed, (key << _TIME_BITS) | time, side="left") - 1
        safe = np.maximum(high, 0)
        found = (high >= 0) & (k[safe] == key)
        return np.where(found, np.maximum(running[safe], time - s[safe]), np.nan)


def segments(sorted_key: np.ndarray) -> np.ndarray:
    """Start of each run of equal keys in a sorted key array, plus its length at the end.

    >>> segments(np.array([3, 3, 5, 7, 7])).tolist()
    [0, 2, 3, 5]
    """
    bounds = np.ones(len(sorted_key) + 1, dtype=bool)
    np.not_equal(sorted_key[1:], sorted_key[:-1], out=bounds[1:-1])
    return np.flatnonzero(bounds)


def _running_max(rank: np.ndarray, gap: np.ndarray) -> np.ndarray:
    """Running maximum of non-negative gaps (whole seconds, < 2^32) within each key, for keys
    ranked 0, 1, 2, ... in order.

    Each key's run is lifted by its rank << 32, so one global running maximum never carries a
    value across keys: every lifted value of a later key exceeds all of an earlier one's.
    """
    lifted = (rank << _TIME_BITS) + gap.astype(np.int64)
    return np.asarray(np.maximum.accumulate(lifted) - (rank << _TIME_BITS), dtype=float)


def _positions(sorted_key: np.ndarray) -> np.ndarray:
    """1, 2, 3, ... within each run of equal keys (a running count, exact)."""
    bounds = segments(sorted_key)
    starts = np.repeat(bounds[:-1], np.diff(bounds))
    return np.asarray(np.arange(len(sorted_key)) - starts + 1, dtype=float)


def cumulative(sorted_key: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Inclusive running sum of the weights within each run of equal keys.

    Each key's sum runs on its own (`np.cumsum` adds in order), so it depends only on that
    key's events: the service, which sees one firm's history, gets the batch pipeline's digits.
    A cumulative sum over all keys minus each key's start would lose a small firm's digits to
    the large totals before it. pandas' group-by cumsum does this too, at ~100 us a call: a
    large share of a served document's budget.

    >>> cumulative(np.array([1, 1, 2]), np.array([0.5, 0.25, 4.0])).tolist()
    [0.5, 0.75, 4.0]
    """
    bounds = segments(sorted_key)
    if _whole(weights):  # every partial sum is an exact integer: any order gives the same
        running = np.cumsum(weights, axis=0)
        before = np.concatenate([np.zeros((1, *weights.shape[1:])), running])[bounds[:-1]]
        return np.asarray(running - np.repeat(before, np.diff(bounds), axis=0), dtype=float)
    out = weights.astype(float)  # a key with one event is its own sum
    longer = np.flatnonzero(np.diff(bounds) > 1)
    for start, stop in zip(bounds[longer].tolist(), bounds[longer + 1].tolist(), strict=True):
        out[start:stop] = np.cumsum(weights[start:stop], axis=0)
    return out


def _whole(weights: np.ndarray) -> bool:
    """Whether the weights are integers whose every sum float64 holds exactly."""
    total = float(np.abs(weights).sum())
    return total < 2**53 and bool((weights == np.round(weights)).all())


def _check_times(time: np.ndarray) -> None:
    """A time outside [1970, 2106) would spill into the key bits and corrupt every count."""
    if len(time) and (time.min() < 0 or time.max() >= _TIME_LIMIT):
        raise ValueError("event times must lie between 1970 and 2106")
