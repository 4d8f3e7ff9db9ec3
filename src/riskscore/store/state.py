"""The online state's logic, written once for every backend (`store/sql.py`).

What is kept, per key, is what the feature families ask of the past (`features.aggregates`):

- `marks`: for every event of a `Running` aggregation (and the counting events of a `First`),
  the key's running count, sums and longest gap after it, in the order the batch sums in. A
  document's question "how much before T" is one indexed lookup: the latest mark before T.
- `firsts`: when each item of a `First` was first seen, and the keys that count it.
- `lots` and `takes`: every Kazakh firm's stock (what remains of each lot bought) and what each
  sale took, so that a document's sales take from the stock a batch pass would have left.
- `lines`, `outcomes`, `firms`, `answers`: what was received and answered, as received.

A document's reads are a bounded number of indexed lookups whatever its parties' history
(`past`); its writes append marks (`_merge`), or, for a document issued before marks already
kept (a late one), recompute the marks after it. Everything runs inside the caller's
transaction: the backend decides how documents that share a party are serialised.
"""

from __future__ import annotations

import json
import struct
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from copy import copy
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from riskscore.features import AGGREGATIONS, STORED
from riskscore.features.aggregates import (
    KEY_SEPARATOR,
    First,
    Mark,
    Running,
    StoredFirst,
    StoredPast,
    StoredRunning,
    accumulate,
    count_name,
    first_rows,
    marks_of,
    moments,
)
from riskscore.features.chain import REEXPORTS, trace
from riskscore.features.columns import MICROS_PER_SECOND, Columns
from riskscore.features.firms import SHARED, Firm, StoredRegister
from riskscore.features.inputs import Inputs
from riskscore.features.stock import Lot, LotId
from riskscore.reference import HOME_COUNTRY
from riskscore.store.sql import Sql
from riskscore.store.stock import COLUMNS as LOTS
from riskscore.store.stock import TAKES, Position, Stock, firms_of, lot_row, take_rows

# The derived tables, emptied and filled again by `rebuild`.
DERIVED_TABLES = ("marks", "firsts", "lots", "takes")
# Rows keep an aggregation as a small code (`aggregations` table), not its name.
MARKS = ("agg", "key", "t", "n", "line", "vals", "sums", "gap")
FIRSTS = ("agg", "item", "t", "counters")
_SELLING, _BUYING = ("domestic", "export"), ("import", "domestic")


# PostgreSQL only: `State.latest` and `State.first_time` for many questions in one statement.
_LATEST_MANY = (
    "SELECT m.t, m.n, m.sums, m.gap FROM unnest(?::int[], ?::text[], ?::bigint[]) "
    "WITH ORDINALITY AS q(agg, key, t, i) LEFT JOIN LATERAL (SELECT t, n, sums, gap FROM "
    "marks WHERE marks.agg = q.agg AND marks.key = q.key AND marks.t < q.t "
    "ORDER BY marks.t DESC, marks.n DESC LIMIT 1) m ON TRUE ORDER BY q.i"
)
_FIRSTS_MANY = (
    "SELECT f.t FROM unnest(?::int[], ?::text[]) WITH ORDINALITY AS q(agg, item, i) "
    "LEFT JOIN firsts f ON f.agg = q.agg AND f.item = q.item ORDER BY q.i"
)


class Event(NamedTuple):
    """One event of a key as stored: time, values (for the order and the sums), its id."""

    t: int
    values: tuple[float, ...]
    line: str


@dataclass
class Read:
    """What `State.past` read for one document, kept for the write that follows."""

    past: StoredPast
    remaining: dict[LotId, float]  # what remained of each lot read, before the pass took
    late: Position | None  # where a late document stands (None: in order)
    lots: list[Lot]  # the lots read, untouched by the document's pass


class State:
    """The online state over one connection (inside the caller's transaction)."""

    def __init__(self, sql: Sql, home: str = HOME_COUNTRY, codes: dict[str, int] | None = None):
        self.sql, self.home, self.stock = sql, home, Stock(sql, home)
        self.codes: dict[str, int] = {} if codes is None else codes
        # What one document's transaction looked up (its read phase), for its write phase.
        self._latest: dict[tuple[str, object, int], Mark | None] = {}
        self._firsts: dict[tuple[str, object], int | None] = {}

    def share(self, codes: dict[str, int]) -> None:
        """Keep aggregation codes in `codes` (one dict per store, shared by its connections)."""
        self.codes = codes

    def name_codes(self) -> None:
        """Give every declared aggregation its code now (the backend calls this when it opens
        the store, in a transaction of its own), so that scoring never writes the table."""
        for aggregation in AGGREGATIONS:
            self.code(aggregation.name)
            if isinstance(aggregation, First):
                self.code(count_name(aggregation))

    def code(self, name: str) -> int:
        """The code rows keep for an aggregation name; given once, the same in every process
        (a new name gets the next code; codes never change)."""
        if name not in self.codes:
            row = self.sql.one("SELECT code FROM aggregations WHERE name = ?", (name,))
            if row is None:
                self.sql.run("INSERT INTO aggregations (name, code) SELECT ?, "
                             "COALESCE(MAX(code), 0) + 1 FROM aggregations", (name,))  # fmt: skip
                row = self.sql.one("SELECT code FROM aggregations WHERE name = ?", (name,))
            assert row is not None
            self.codes[name] = int(row[0])
        return self.codes[name]

    # --- reads for one document ----------------------------------------------------------

    def past(self, new: Inputs, late: Position | None = None, own: bool = False) -> Read:
        """Everything the document's features ask of the past (`new`: its lines, text keys),
        looked up per key: a bounded number of rows whatever the history. A `late` document
        (at this position, within the horizon) gets its firms' stock as it stood there;
        with `own`, a document already kept gets the stock as it stood before its own takes."""
        t = int(new.lines["t"][0])
        self.begin()
        asked: dict[str, set[tuple[object, int]]] = {}  # per Running: (key, moment)
        items: dict[str, list[object]] = {}  # per First: its items, and the keys counting them
        counters: dict[str, list[object]] = {}
        for aggregation in AGGREGATIONS:
            if isinstance(aggregation, Running) and aggregation.by:
                asked[aggregation.name] = {(k, m) for spec in aggregation.by
                                           for k in _distinct(new.key(spec))
                                           for m in moments(aggregation, t)}  # fmt: skip
            elif isinstance(aggregation, First):
                items[aggregation.name] = _distinct(new.key(aggregation.item))
                counters[aggregation.name] = [k for spec in aggregation.counted_by
                                              for k in _distinct(new.key(spec))]  # fmt: skip
        firsts_asked = [a for a in AGGREGATIONS if isinstance(a, First)]
        self._look_up(
            [(name, k, m) for name, pairs in asked.items() for k, m in pairs]
            + [(count_name(a), k, t) for a in firsts_asked for k in counters[a.name]],
            [(a.name, item) for a in firsts_asked for item in items[a.name]],
        )
        runnings, firsts = {}, {}
        for aggregation in AGGREGATIONS:
            if aggregation.name in asked:
                assert isinstance(aggregation, Running)
                marks = {(k, m): self.latest(aggregation.name, k, m)
                         for k, m in asked[aggregation.name]}  # fmt: skip
                runnings[aggregation.name] = StoredRunning(aggregation.width, marks)
            elif isinstance(aggregation, First):
                found = {item: self.first_time(aggregation, item)
                         for item in items[aggregation.name]}  # fmt: skip
                counted = {(k, t): self.latest(count_name(aggregation), k, t)
                           for k in counters[aggregation.name]}  # fmt: skip
                firsts[aggregation.name] = StoredFirst(found, counted)
        if late is None:
            lots = self.stock.for_document(new.lines, t)
        else:
            lots = self.stock.rewound(firms_of(new.lines, self.home), late, own)
        past = StoredPast(runnings, firsts, [copy(lot) for lot in lots])
        return Read(past, {lot.id: lot.remaining for lot in lots}, late, lots)

    def _look_up(
        self, marks: list[tuple[str, object, int]], firsts: list[tuple[str, object]]
    ) -> None:
        """Read at once the marks and first times `latest` and `first_time` will be asked
        for. On PostgreSQL every statement is a round trip (~0.1 ms), so the read phase asks
        two questions of the server instead of ~25; SQLite answers in process, one by one."""
        if self.sql.dialect != "postgres":
            return
        new_marks = [a for a in dict.fromkeys(marks) if a not in self._latest]
        if new_marks:
            codes = [self.code(name) for name, _, _ in new_marks]
            keys, times = [k for _, k, _ in new_marks], [m for *_, m in new_marks]
            rows = self.sql.all(_LATEST_MANY, (codes, keys, times))
            for question, row in zip(new_marks, rows, strict=True):
                self._latest[question] = None if row[0] is None else Mark(
                    int(row[0]), int(row[1]), _floats(row[2]), int(row[3]))  # fmt: skip
        new_firsts = [a for a in dict.fromkeys(firsts) if a not in self._firsts]
        if new_firsts:
            codes = [self.code(name) for name, _ in new_firsts]
            rows = self.sql.all(_FIRSTS_MANY, (codes, [item for _, item in new_firsts]))
            for asked, row in zip(new_firsts, rows, strict=True):
                self._firsts[asked] = None if row[0] is None else int(row[0])

    def latest(self, name: str, key: object, moment: int) -> Mark | None:
        """The key's mark after its latest event strictly before `moment` (as this
        transaction last read or wrote it)."""
        asked = (name, key, moment)
        if asked not in self._latest:
            row = self.sql.one(
                "SELECT t, n, sums, gap FROM marks WHERE agg = ? AND key = ? AND t < ? "
                "ORDER BY t DESC, n DESC LIMIT 1",
                (self.code(name), key, moment),
            )
            found = None if row is None else Mark(int(row[0]), int(row[1]), _floats(row[2]),
                                                  int(row[3]))  # fmt: skip
            self._latest[asked] = found
        return self._latest[asked]

    def first_time(self, aggregation: First, item: object) -> int | None:
        asked = (aggregation.name, item)
        if asked not in self._firsts:
            row = self.sql.one("SELECT t FROM firsts WHERE agg = ? AND item = ?",
                               (self.code(aggregation.name), item))  # fmt: skip
            self._firsts[asked] = None if row is None else int(row[0])
        return self._firsts[asked]

    def lateness(self, parties: Iterable[str], second: int, document_id: str) -> int | None:
        """None when the document comes after every stored document of its parties (in the
        canonical order: second, document id); else how many seconds before the latest of
        them it was issued."""
        latest: tuple[int, str] | None = None
        for party in set(parties):
            for column in ("consignor_id", "consignee_id"):
                # The lines of the party's last second: their ids, the largest taken here.
                # Written as max() in SQL, PostgreSQL may walk the primary key backwards
                # instead of this index range (76 ms a document beside a 200,000-line firm).
                rows = self.sql.all(
                    f"SELECT issued_at, document_id FROM lines WHERE {column} = ? AND "
                    f"issued_at >= (SELECT max(issued_at) / {MICROS_PER_SECOND} * "
                    f"{MICROS_PER_SECOND} FROM lines WHERE {column} = ?)",
                    (party, party),
                )
                if not rows:
                    continue
                found = (max(int(r[0]) for r in rows) // MICROS_PER_SECOND,
                         max(str(r[1]) for r in rows))  # fmt: skip
                latest = found if latest is None or found > latest else latest
        if latest is None or latest <= (second, document_id):
            return None
        return latest[0] - second

    def register(self, firms: Iterable[str], t: int) -> StoredRegister:
        """The register entries of `firms`, with their shared counts at second t."""
        out = {}
        before_us = t * MICROS_PER_SECOND
        for firm in set(firms):
            row = self.sql.one(
                f"SELECT registered_at, founder_country, {', '.join(SHARED.values())} "
                "FROM firms WHERE firm_id = ?",
                (firm,),
            )
            if row is None:
                continue
            shared = {}
            for (name, column), value in zip(SHARED.items(), row[2:], strict=True):
                shared[name] = np.nan if value is None else float(self.sql.one(
                    f"SELECT count(*) FROM firms WHERE {column} = ? AND registered_at < ?",
                    (value, before_us),
                )[0])  # type: ignore[index]  # fmt: skip
            founder = np.nan if row[1] is None else float(row[1] == "RU")
            out[firm] = Firm(int(row[0]) // MICROS_PER_SECOND, founder, shared)
        return StoredRegister(out)

    # --- writes for one document ---------------------------------------------------------

    def write(self, written: Inputs, read: Read) -> None:
        """What the document changes: the marks and first times of its events, and the
        stock its sales took from and its purchases added to (`written`: its lines, text
        keys, with the STORED columns and MOVES the chain pass gave them). A late document's
        firms have everything after it traced again, and the re-exports that changed dwell
        are counted again."""
        self._events(written)
        if read.late is None:
            self.stock.apply(written.lines, read.past.lots, read.remaining)
            return
        retraced = self.stock.retrace(written.lines, read.lots, read.late)
        changed = np.flatnonzero(retraced.dwell_changed)
        if len(changed):
            self._recount(Inputs({k: v[changed] for k, v in retraced.lines.items()},
                                 text_keys=True))  # fmt: skip

    def _recount(self, lines: Inputs) -> None:
        """Re-export events of lines whose dwell changed: made again (or dropped, when the
        line no longer counts), from each line's time on."""
        events = REEXPORTS.measure(lines)
        ids = _event_ids(lines.lines, events.line)
        kept = set(events.line.tolist())
        subjects = lines.key(REEXPORTS.by[0])
        values = _values(events.values, len(ids))
        grouped: defaultdict[object, list[Event]] = defaultdict(list)
        for row, line, value in zip(events.line.tolist(), ids, values.tolist(), strict=True):
            grouped[subjects[row]].append(Event(int(lines.lines["t"][row]), tuple(value), line))
        dropped: defaultdict[object, list[tuple[int, str]]] = defaultdict(list)
        for row in range(len(lines.lines["t"])):
            if row not in kept:
                line = _event_ids(lines.lines, np.array([row]))[0]
                dropped[subjects[row]].append((int(lines.lines["t"][row]), line))
        for key in set(grouped) | set(dropped):
            self.merge(REEXPORTS.name, key, grouped.get(key, []), dropped.get(key, []))

    def _events(self, inputs: Inputs) -> None:
        """Merge the events `inputs` make into every aggregation's marks and first times:
        all events of one key in one merge, the values that follow other marks (`Steps`) and
        the counting events of first times after the marks they follow."""
        later: defaultdict[tuple[str, object], list[Event]] = defaultdict(list)
        for aggregation in AGGREGATIONS:
            if isinstance(aggregation, Running) and aggregation.steps is None:
                events = aggregation.measure(inputs)
                ids = _event_ids(inputs.lines, events.line)
                values = _values(events.values, len(ids))
                grouped: defaultdict[object, list[Event]] = defaultdict(list)
                for key, t, row, line in zip(events.key.tolist(), events.t.tolist(),
                                             values.tolist(), ids, strict=True):  # fmt: skip
                    grouped[key].append(Event(int(t), tuple(row), line))
                for key, found in grouped.items():
                    merged = self.merge(aggregation.name, key, found)
                    self._stepped(aggregation, key, merged, later)
            elif isinstance(aggregation, First) and not aggregation.from_outcomes:
                self._firsts_of(aggregation, inputs, later)
        for (name, key), found in later.items():
            self.merge(name, key, found)

    def _stepped(
        self,
        source: Running,
        key: object,
        merged: list[tuple[Event, Mark]],
        later: defaultdict[tuple[str, object], list[Event]],
    ) -> None:
        """The events of the aggregations whose values follow `source`'s marks (`Steps`),
        for every source event whose mark was computed again (merged `later`)."""
        for aggregation in AGGREGATIONS:
            steps = aggregation.steps if isinstance(aggregation, Running) else None
            if steps is None or steps.source is not source or not merged:
                continue
            sums = np.array([m.sums for _, m in merged], dtype=float)
            values = np.array([e.values for e, _ in merged], dtype=float)
            stepped = steps.step(sums[:, 0], values[:, 0])
            target = str(key).split(KEY_SEPARATOR)[steps.key_part]
            later[(aggregation.name, target)] += [
                Event(e.t, (float(v),), e.line) for (e, _), v in zip(merged, stepped, strict=True)
            ]

    def record(self, inputs: Inputs, aggregations: tuple[First, ...]) -> None:
        """Merge the occurrences `inputs` make (outcomes, with their documents' first lines)
        into the first times of `aggregations`."""
        later: defaultdict[tuple[str, object], list[Event]] = defaultdict(list)
        for aggregation in aggregations:
            self._firsts_of(aggregation, inputs, later)
        for (name, key), found in later.items():
            self.merge(name, key, found)

    def _firsts_of(
        self,
        aggregation: First,
        inputs: Inputs,
        later: defaultdict[tuple[str, object], list[Event]],
    ) -> None:
        """Items seen for the first time (or earlier than they were): their first time, and
        their counting events (merged `later`)."""
        found = aggregation.occurrences(inputs)
        if not len(found.t):
            return
        code = self.code(aggregation.name)
        for row in first_rows(found.item, found.t).tolist():
            item, t = found.item[row], int(found.t[row])
            known = self.first_time(aggregation, item)
            if known is not None and known <= t:
                continue
            counters = [str(side[row]) for side in found.counters]
            if known is not None:
                self.sql.run("DELETE FROM firsts WHERE agg = ? AND item = ?", (code, item))
            self.sql.run("INSERT INTO firsts VALUES (?, ?, ?, ?)",
                         (code, item, t, json.dumps(counters)))  # fmt: skip
            self._firsts[(aggregation.name, item)] = t
            for side, counter in enumerate(counters):
                line = f"{item}{KEY_SEPARATOR}{side}"
                later[(count_name(aggregation), counter)].append(Event(t, (), line))

    def merge(
        self, name: str, key: object, new: list[Event], dropped: Sequence[tuple[int, str]] = ()
    ) -> list[tuple[Event, Mark]]:
        """Put events into a key's marks, and return the marks computed (with their events).

        An event whose id is already kept, at or after the earliest new event's time, replaces
        it (events made again keep their time); `dropped` (time, id) events are removed. The
        marks from the earliest of them on are computed again from the mark before it, in
        order, as the batch sums: for events that arrive in time order that is the new events
        alone.
        """
        code = self.code(name)
        start = min([e.t for e in new] + [t for t, _ in dropped])
        previous = self.latest(name, key, start)
        self._forget(name, key)  # what this key's lookups answered changes now
        later = self.sql.all(
            "SELECT t, vals, line FROM marks WHERE agg = ? AND key = ? AND t >= ?",
            (code, key, start),
        )
        replacing = {e.line for e in new} | {line for _, line in dropped}
        events = [Event(int(t), _floats(v), line) for t, v, line in later if line not in replacing]
        events = sorted(events + new)  # time, then values, then id: the batch's order
        if later:
            self.sql.run(
                "DELETE FROM marks WHERE agg = ? AND key = ? AND t >= ?", (code, key, start)
            )
        if not events:
            return []
        times = np.array([e.t for e in events], dtype=np.int64)
        width = len(events[0].values)
        values = np.array([e.values for e in events], dtype=float).reshape(len(events), width)
        marks = accumulate(previous, times, values)
        if later:
            self.sql.run(
                "DELETE FROM marks WHERE agg = ? AND key = ? AND t >= ?", (code, key, start)
            )
        rows = [(code, key, m.t, m.n, e.line, _blob(e.values), _blob(m.sums), m.gap)
                for e, m in zip(events, marks, strict=True)]  # fmt: skip
        self.sql.append("marks", rows, MARKS)
        return list(zip(events, marks, strict=True))

    def begin(self) -> None:
        """Start a transaction's work: forget what earlier transactions looked up."""
        self._latest, self._firsts = {}, {}

    def _forget(self, name: str, key: object) -> None:
        for asked in [a for a in self._latest if a[0] == name and a[1] == key]:
            del self._latest[asked]

    # --- bulk ----------------------------------------------------------------------------

    def fill(self, inputs: Inputs) -> Iterator[int]:
        """Fill the derived tables for every line of `inputs` (text keys, outcomes included)
        with the batch engine over all of them at once; the lines get the STORED columns the
        pass gives them. Yields the rows written so far."""
        traced = trace(inputs.lines, home=self.home)
        for name in STORED:  # the re-export events read each line's dwell
            inputs.lines[name] = traced.columns[name]
        written = 0
        for aggregation in AGGREGATIONS:
            for table, rows in _bulk_rows(aggregation, inputs, self.code):
                self.sql.append(table, rows, MARKS if table == "marks" else FIRSTS)
                written += len(rows)
                yield written
        made = [lot_row(lot) for lot in traced.made if lot is not None]
        for chunk in _chunks(made):
            self.sql.append("lots", chunk, LOTS)
            written += len(chunk)
            yield written
        for chunk in _chunks(take_rows(inputs.lines, traced.taken)):
            self.sql.append("takes", chunk, TAKES)
            written += len(chunk)
            yield written


def _bulk_rows(
    aggregation: Running | First, inputs: Inputs, code: Callable[[str], int]
) -> Iterator[tuple[str, list[Any]]]:
    """An aggregation's marks (and first times) for every line at once, in chunks."""
    if isinstance(aggregation, Running):
        events = aggregation.measure(inputs)
        ids = _event_ids(inputs.lines, events.line)
        values = _values(events.values, len(ids))
        yield from _mark_rows(code(aggregation.name), events.key, events.t, values, ids)
        return
    found = aggregation.occurrences(inputs)
    firsts = first_rows(found.item, found.t)
    item, t = found.item[firsts], found.t[firsts]
    counters = [side[firsts] for side in found.counters]
    rows = [(code(aggregation.name), i, int(m), json.dumps([str(c[j]) for c in counters]))
            for j, (i, m) in enumerate(zip(item.tolist(), t.tolist(), strict=True))]  # fmt: skip
    for chunk in _chunks(rows):
        yield "firsts", chunk
    if counters:
        keys = np.concatenate(counters)
        ids = [f"{i}{KEY_SEPARATOR}{side}" for side in range(len(counters)) for i in item.tolist()]
        times = np.concatenate([t] * len(counters))
        counts = code(count_name(aggregation))
        yield from _mark_rows(counts, keys, times, np.zeros((len(keys), 0)), ids)


def _mark_rows(
    code: int, key: np.ndarray, t: np.ndarray, values: np.ndarray, ids: Sequence[str]
) -> Iterator[tuple[str, list[Any]]]:
    if not len(key):
        return
    columns = marks_of(key, t, values)
    rows = []
    for j, i in enumerate(columns.order.tolist()):
        rows.append((code, key[i], int(t[i]), int(columns.n[j]), ids[i], _blob(values[i]),
                     _blob(columns.sums[j]), int(columns.gap[j])))  # fmt: skip
    for chunk in _chunks(rows):
        yield "marks", chunk


def _chunks(rows: list[Any], size: int = 50_000) -> Iterator[list[Any]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


def _event_ids(lines: Columns, rows: np.ndarray) -> list[str]:
    """An id per event that stays the same whenever the event is made again: its line, and
    how many events of the same line came before it in the same set."""
    seen: defaultdict[int, int] = defaultdict(int)
    ids = []
    documents, items = lines["document_id"], lines["item_no"]
    for row in rows.tolist():
        ids.append(f"{documents[row]}{KEY_SEPARATOR}{items[row]}{KEY_SEPARATOR}{seen[row]}")
        seen[row] += 1
    return ids


def _values(values: np.ndarray | None, count: int) -> np.ndarray:
    """Event values as the batch sums them: missing as zero (`history.Events.build`)."""
    if values is None:
        return np.zeros((count, 0))
    return np.asarray(np.nan_to_num(np.asarray(values, dtype=float)), dtype=float)


def _distinct(keys: np.ndarray) -> list[object]:
    return list(dict.fromkeys(keys.tolist()))


def _blob(values: Iterable[float]) -> bytes:
    """Float64 values as bytes (exact), the way marks keep values and sums."""
    numbers = [float(v) for v in values]
    return struct.pack(f"<{len(numbers)}d", *numbers)


def _floats(blob: bytes | memoryview | None) -> tuple[float, ...]:
    if blob is None:
        return ()
    data = bytes(blob)
    return struct.unpack(f"<{len(data) // 8}d", data)
