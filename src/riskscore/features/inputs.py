"""What the feature families read: the lines in canonical order, the register and outcomes."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from riskscore.features.columns import Columns, coded, take
from riskscore.features.firms import Register
from riskscore.features.history import segments

_PARTIES = ("consignor_id", "consignee_id", "declarant_id", "subject_id", "partner_id")


@dataclass(frozen=True)
class Inputs:
    """Lines (document columns + `lines.prepare`) sorted by (t, document_id, item_no), so the
    lines of a document are adjacent; the optional register and outcomes (`outcome_columns`).

    `wanted` are the rows whose features are asked for, in the order asked (None: every row).
    History is read from every line; a family answers for the wanted rows only, so a served
    document costs little more than its own lines beyond building its parties' events.
    """

    lines: Columns
    register: Register | None = None
    outcomes: Columns | None = None
    wanted: np.ndarray | None = None
    document_starts: np.ndarray = field(init=False)
    rows: Columns = field(init=False)  # the wanted rows' columns
    _codes: dict[str, np.ndarray] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        starts = segments(self.lines["document_id"])[:-1]
        object.__setattr__(self, "document_starts", starts)
        rows = self.lines if self.wanted is None else take(self.lines, self.wanted)
        object.__setattr__(self, "rows", rows)

    def codes(self, name: str) -> np.ndarray:
        """Integer codes of a text column of the lines, computed once. The party columns
        share one code space, so a subject's code equals its code as consignor."""
        if coded(name) in self.lines:  # given with the lines (the service's codebook)
            return self.lines[coded(name)]
        if name not in self._codes:
            names = _PARTIES if name in _PARTIES else (name,)
            joined = np.concatenate([self.lines[n] for n in names])
            codes = pd.factorize(joined, use_na_sentinel=False)[0].astype(np.int64)
            for n, part in zip(names, np.split(codes, len(names)), strict=True):
                self._codes[n] = part
        return self._codes[name]

    def at(self, values: np.ndarray) -> np.ndarray:
        """A per-line array restricted to the wanted rows."""
        return values if self.wanted is None else values[self.wanted]
