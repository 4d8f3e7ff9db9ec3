"""What the feature families read: the lines in canonical order, the register and outcomes."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from riskscore.features.columns import Columns
from riskscore.features.register import Register


@dataclass(frozen=True)
class Inputs:
    """Lines (document columns + `lines.prepare`) sorted by (t, document_id, item_no), so the
    lines of a document are adjacent; the optional register and outcomes (`outcome_columns`)."""

    lines: Columns
    register: Register | None = None
    outcomes: Columns | None = None
    document_starts: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        doc = self.lines["document_id"]
        starts = np.flatnonzero(np.r_[True, doc[1:] != doc[:-1]]) if len(doc) else np.zeros(0)
        object.__setattr__(self, "document_starts", starts.astype(np.int64))
