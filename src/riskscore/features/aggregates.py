"""Per-key histories, declared once and answered two ways: what a feature asks about the past.

A history feature asks one of two questions of a key (a firm, a (firm, HS chapter) pair, ...):

- `Running`: how many events of the key happened before T, and what did their values sum to
  (optionally over a window [T - w, T)); when was the last one; what was the longest gap
  between two of them. The events and their values are declared once (`measure`).
- `First`: was an item (a (firm, route) pair, a document's first inspection, ...) seen before
  T; and, counted by a key of the item (a partner, a firm), how many distinct items were first
  seen before T.

Training asks these of every line at once through `history.Events` (sorted, packed keys, one
`searchsorted`). The service asks them of one document through rows the online state keeps
per key: for each event its running count, running sums and longest gap so far, in the order
(time, values) the batch sums in, so that a window is the difference of two "latest row
before" lookups and adds the same numbers in the same order as the batch (`accumulate`).
Both answer through the same methods (`RunningAnswers`, `FirstAnswers`), so the feature
families run one code path; the parity tests hold the two to each other.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple, Protocol

import numpy as np
import pandas as pd

from riskscore.features.history import Events, cumulative, segments
from riskscore.features.stock import Lot

if TYPE_CHECKING:
    from riskscore.features.inputs import Inputs

KeySpec = tuple[str, ...]  # the line columns whose values make a key, e.g. ("subject_id",)
KEY_SEPARATOR = "\x1f"  # joins the parts of a composite key in its text form


class EventSet(NamedTuple):
    """Events of some lines: per event its key (in the inputs' key form), time (seconds),
    values (events x width, or None for counts) and the line that made it."""

    key: np.ndarray
    t: np.ndarray
    values: np.ndarray | None
    line: np.ndarray  # row in the inputs' lines


class Occurrences(NamedTuple):
    """Occurrences of items: per occurrence the item key, time, the keys that count the item
    (one array per counting side) and the line that made it (-1 when it is not a line)."""

    item: np.ndarray
    t: np.ndarray
    counters: tuple[np.ndarray, ...]
    line: np.ndarray


@dataclass(frozen=True)
class Steps:
    """Where a `Running`'s event values come from when they are not a line's own: each event
    of `source` gives an event of the same line worth `step(its running sums, its values)`,
    keyed by part `key_part` of the source's composite key."""

    source: Running
    step: Callable[[np.ndarray, np.ndarray], np.ndarray]
    key_part: int


@dataclass(frozen=True)
class Running:
    """Running count and sums of events per key."""

    name: str
    by: tuple[KeySpec, ...]  # the keys it is asked about
    width: int  # values summed per event (0: counts only)
    measure: Callable[[Inputs], EventSet]
    windows: tuple[int, ...] = ()  # seconds: it is also asked about [T - w, T)
    steps: Steps | None = None  # online, its events follow another's (`measure`: in batch)


@dataclass(frozen=True)
class First:
    """When each item was first seen; with counters, how many distinct items each counting
    key had first seen before T."""

    name: str
    item: KeySpec  # what an item is (the store indexes first times by it)
    counted_by: tuple[KeySpec, ...]  # the keys it is asked to count by (empty: seen only)
    occurrences: Callable[[Inputs], Occurrences]
    from_outcomes: bool = False  # its occurrences are inspection outcomes, not lines


Aggregation = Running | First


class RunningAnswers(Protocol):
    """What a `Running` answers (`history.Events` in batch, `StoredRunning` online)."""

    def before(
        self, key: np.ndarray, time: np.ndarray, window: float | None = None
    ) -> tuple[np.ndarray, np.ndarray]: ...

    def last_before(self, key: np.ndarray, time: np.ndarray) -> np.ndarray: ...

    def longest_gap_before(self, key: np.ndarray, time: np.ndarray) -> np.ndarray: ...


class FirstAnswers(Protocol):
    """What a `First` answers (`BatchFirst` over every line, `StoredFirst` online)."""

    def seen_before(self, item: np.ndarray, time: np.ndarray) -> np.ndarray: ...

    def count_before(self, key: np.ndarray, time: np.ndarray) -> np.ndarray: ...


class Past(Protocol):
    """The online state's answers for one document (built by the store, pure data)."""

    def running(self, name: str) -> RunningAnswers: ...

    def first(self, name: str) -> FirstAnswers: ...

    def stock(self) -> list[Lot]:
        """The lots the document's sellers hold before its second, first in first out."""
        ...

    def copy(self) -> Past:
        """The same answers with lots of its own (the chain pass takes from the lots it is
        given), so that a second model can score from the same reads."""
        ...


def running_events(events: EventSet) -> Events:
    """The batch engine over a `Running`'s events."""
    return Events.build(events.key, events.t, events.values)


class BatchFirst:
    """A `First` answered over every occurrence at once."""

    def __init__(self, found: Occurrences) -> None:
        self._seen = Events.build(found.item, found.t)
        firsts = first_rows(found.item, found.t)
        sides = [side[firsts] for side in found.counters]
        if sides:
            times = np.concatenate([found.t[firsts]] * len(sides))
            self._counted = Events.build(np.concatenate(sides), times)

    def seen_before(self, item: np.ndarray, time: np.ndarray) -> np.ndarray:
        count, _ = self._seen.before(item, time)
        return count > 0

    def count_before(self, key: np.ndarray, time: np.ndarray) -> np.ndarray:
        count, _ = self._counted.before(key, time)
        return count


def first_rows(item: np.ndarray, t: np.ndarray) -> np.ndarray:
    """The occurrence holding each item's earliest time (the earliest given, on ties)."""
    order = np.lexsort((t, item))
    first: np.ndarray = order[segments(item[order])[:-1]]
    return first


# --- the online form -------------------------------------------------------------------------


class Mark(NamedTuple):
    """A key's running state after one of its events (what the store keeps per event)."""

    t: int  # the event's time
    n: int  # events so far
    sums: tuple[float, ...]  # running sums so far
    gap: int  # longest gap between two consecutive events so far (seconds)


class StoredRunning:
    """A `Running` answered from the marks a store looked up: for each (key, moment) it was
    asked for, the key's mark of its latest event strictly before that moment (None: none)."""

    def __init__(self, width: int, marks: Mapping[tuple[object, int], Mark | None]) -> None:
        self.width, self.marks = width, marks

    def _mark(self, key: object, moment: int) -> Mark | None:
        try:
            return self.marks[(key, moment)]
        except KeyError:  # the store looks up what the declaration says is asked
            raise KeyError(f"no stored mark for a moment the declaration does not list: "
                           f"{moment}") from None  # fmt: skip

    def before(
        self, key: np.ndarray, time: np.ndarray, window: float | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        count = np.zeros(len(key))
        sums = np.zeros((len(key), self.width))
        for i, (k, t) in enumerate(zip(key.tolist(), time.tolist(), strict=True)):
            high = self._mark(k, int(t))
            low = None if window is None else self._mark(k, max(int(t) - int(window), 0))
            count[i] = (high.n if high else 0) - (low.n if low else 0)
            if self.width:
                sums[i] = np.subtract(high.sums if high else 0.0, low.sums if low else 0.0)
        return count, sums

    def last_before(self, key: np.ndarray, time: np.ndarray) -> np.ndarray:
        marks = [self._mark(k, int(t)) for k, t in zip(key.tolist(), time.tolist(), strict=True)]
        return np.array([np.nan if m is None else float(m.t) for m in marks])

    def longest_gap_before(self, key: np.ndarray, time: np.ndarray) -> np.ndarray:
        out = np.full(len(key), np.nan)
        for i, (k, t) in enumerate(zip(key.tolist(), time.tolist(), strict=True)):
            mark = self._mark(k, int(t))
            if mark is not None:
                out[i] = float(max(mark.gap, int(t) - mark.t))
        return out


class StoredFirst:
    """A `First` answered from what a store looked up: items' first times, and counting
    keys' marks before the moments asked."""

    def __init__(
        self,
        firsts: Mapping[object, int | None],
        counts: Mapping[tuple[object, int], Mark | None],
    ) -> None:
        self.firsts, self.counts = firsts, counts

    def seen_before(self, item: np.ndarray, time: np.ndarray) -> np.ndarray:
        found = [self.firsts[k] for k in item.tolist()]
        return np.array(
            [f is not None and f < t for f, t in zip(found, time.tolist(), strict=True)]
        )

    def count_before(self, key: np.ndarray, time: np.ndarray) -> np.ndarray:
        marks = [self.counts[(k, int(t))] for k, t in zip(key.tolist(), time.tolist(), strict=True)]
        return np.array([0.0 if m is None else float(m.n) for m in marks])


class StoredPast:
    """The online state's answers for one document (`Past`), as a store looked them up."""

    def __init__(
        self,
        runnings: Mapping[str, StoredRunning],
        firsts: Mapping[str, StoredFirst],
        lots: list[Lot],
    ) -> None:
        self.runnings, self.firsts, self.lots = runnings, firsts, lots

    def running(self, name: str) -> RunningAnswers:
        return self.runnings[name]

    def first(self, name: str) -> FirstAnswers:
        return self.firsts[name]

    def stock(self) -> list[Lot]:
        return self.lots

    def copy(self) -> StoredPast:
        return StoredPast(self.runnings, self.firsts, [copy.copy(lot) for lot in self.lots])


def count_name(aggregation: First) -> str:
    """The name under which a `First`'s counts are kept (as a `Running` of counts)."""
    return f"{aggregation.name}#count"


def marks_of(key: np.ndarray, t: np.ndarray, values: np.ndarray) -> MarkColumns:
    """Every event's mark at once (what a store keeps, filled in bulk): the batch engine's
    order and sums (`history.cumulative`), so they equal what `accumulate` appends one by one."""
    codes = pd.factorize(key, use_na_sentinel=False)[0]
    columns = [values[:, j] for j in range(values.shape[1])]
    order = np.lexsort((*reversed(columns), t, codes))
    sorted_key, sorted_t = codes[order], t[order].astype(np.int64)
    bounds = segments(sorted_key)
    starts = np.repeat(bounds[:-1], np.diff(bounds))
    position = np.arange(len(order)) - starts
    sums = cumulative(sorted_key, values[order]) if values.shape[1] else values[order]
    gap = np.diff(sorted_t, prepend=sorted_t[:1])
    gap[position == 0] = 0  # a key's first event opens no gap
    rank = np.cumsum(position == 0) - 1
    lifted = (rank << 32) + gap
    running_gap = np.maximum.accumulate(lifted) - (rank << 32) if len(gap) else gap
    return MarkColumns(order, position + 1, sums, running_gap)


class MarkColumns(NamedTuple):
    """`marks_of`: the events' order and, in that order, their counts, sums and gaps."""

    order: np.ndarray
    n: np.ndarray
    sums: np.ndarray
    gap: np.ndarray


def moments(aggregation: Running, t: int) -> list[int]:
    """The moments a `Running` is asked about for a document issued at t: t itself and the
    start of each declared window."""
    return [t, *(max(t - w, 0) for w in aggregation.windows)]


def accumulate(previous: Mark | None, t: np.ndarray, values: np.ndarray) -> list[Mark]:
    """The marks of events that follow `previous` (None: the key's first events), in order:
    running counts, running sums added one by one in order (the digits of the batch's per-key
    `cumsum`, which also adds in order) and the running longest gap."""
    width = values.shape[1]
    start = np.asarray(previous.sums if previous else np.zeros(width), dtype=float)
    sums = np.cumsum(np.vstack([start.reshape(1, width), values]), axis=0)[1:]
    marks, count = [], previous.n if previous else 0
    last, gap = (previous.t, previous.gap) if previous else (None, 0)
    for i, moment in enumerate(t.tolist()):
        gap = gap if last is None else max(gap, moment - last)
        count, last = count + 1, moment
        marks.append(Mark(moment, count, tuple(sums[i].tolist()), gap))
    return marks


def event_order(t: np.ndarray, values: np.ndarray) -> np.ndarray:
    """The order a key's events are summed in: by time, then by their values (as
    `history.Events.build` sorts them)."""
    columns = [values[:, j] for j in range(values.shape[1])]
    return np.lexsort((*reversed(columns), t))
