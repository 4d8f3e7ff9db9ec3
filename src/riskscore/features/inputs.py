"""What the feature families read: the lines in canonical order, the register, outcomes and
the answers to their questions about the past (`aggregates`)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from riskscore.features.aggregates import (
    KEY_SEPARATOR,
    BatchFirst,
    First,
    FirstAnswers,
    KeySpec,
    Past,
    Running,
    RunningAnswers,
    running_events,
)
from riskscore.features.columns import Columns, take
from riskscore.features.firms import RegisterAnswers
from riskscore.features.history import key_codes, segments
from riskscore.reference import HOME_COUNTRY

_PARTIES = ("consignor_id", "consignee_id", "declarant_id", "subject_id", "partner_id")


@dataclass(frozen=True)
class Inputs:
    """Lines (document columns + `lines.prepare`) sorted by (t, document_id, item_no), so the
    lines of a document are adjacent; the optional register and outcomes (`outcome_columns`).

    `wanted` are the rows whose features are asked for, in the order asked (None: every row).
    History is read from every line; a family answers for the wanted rows only, so a served
    document costs little more than its own lines beyond building its parties' events.

    With `past` (the online state's answers for one document) the lines are that document's
    only, and every question about history goes to `past`; keys are then text (`key`), as the
    store keeps them. `text_keys` gives text keys without a past (to fill a store in bulk).
    """

    lines: Columns
    register: RegisterAnswers | None = None
    outcomes: Columns | None = None
    wanted: np.ndarray | None = None
    past: Past | None = None
    text_keys: bool = False
    home: str = HOME_COUNTRY  # the dataset's home country: its firms keep stock
    document_starts: np.ndarray = field(init=False)
    rows: Columns = field(init=False)  # the wanted rows' columns
    _codes: dict[str, np.ndarray] = field(init=False, default_factory=dict)
    _keys: dict[KeySpec, np.ndarray] = field(init=False, default_factory=dict)
    _answers: dict[str, object] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        starts = segments(self.lines["document_id"])[:-1]
        object.__setattr__(self, "document_starts", starts)
        rows = self.lines if self.wanted is None else take(self.lines, self.wanted)
        object.__setattr__(self, "rows", rows)

    def codes(self, name: str) -> np.ndarray:
        """Integer codes of a text column of the lines, computed once. The party columns
        share one code space, so a subject's code equals its code as consignor."""
        if name not in self._codes:
            names = _PARTIES if name in _PARTIES else (name,)
            joined = np.concatenate([self.lines[n] for n in names])
            codes = pd.factorize(joined, use_na_sentinel=False)[0].astype(np.int64)
            for n, part in zip(names, np.split(codes, len(names)), strict=True):
                self._codes[n] = part
        return self._codes[name]

    def key(self, spec: KeySpec) -> np.ndarray:
        """Each line's key made of the `spec` columns: integer codes over these lines (one
        code space for all party columns), or text when the keys must mean the same in the
        online state (`past` or `text_keys`)."""
        if spec not in self._keys:
            if self.past is not None or self.text_keys:
                parts = [self.lines[name] for name in spec]
                keys = parts[0] if len(parts) == 1 else _joined(parts)
            elif len(spec) == 1:
                keys = self.codes(spec[0])
            else:
                keys = key_codes(*(self.codes(name) for name in spec))
            self._keys[spec] = keys
        return self._keys[spec]

    def running(self, aggregation: Running) -> RunningAnswers:
        """The answers of a `Running`: from the past, or built over these lines once."""
        if self.past is not None:
            return self.past.running(aggregation.name)
        if aggregation.name not in self._answers:
            self._answers[aggregation.name] = running_events(aggregation.measure(self))
        answers: RunningAnswers = self._answers[aggregation.name]  # type: ignore[assignment]
        return answers

    def first(self, aggregation: First) -> FirstAnswers:
        """The answers of a `First`: from the past, or built over these lines once."""
        if self.past is not None:
            return self.past.first(aggregation.name)
        if aggregation.name not in self._answers:
            self._answers[aggregation.name] = BatchFirst(aggregation.occurrences(self))
        answers: FirstAnswers = self._answers[aggregation.name]  # type: ignore[assignment]
        return answers

    def at(self, values: np.ndarray) -> np.ndarray:
        """A per-line array restricted to the wanted rows."""
        return values if self.wanted is None else values[self.wanted]


def _joined(parts: list[np.ndarray]) -> np.ndarray:
    """Composite keys as text: the parts joined by KEY_SEPARATOR (None as empty)."""
    out = np.empty(len(parts[0]), dtype=object)
    out[:] = [
        KEY_SEPARATOR.join("" if v is None else str(v) for v in values)
        for values in zip(*parts, strict=True)
    ]
    return out
