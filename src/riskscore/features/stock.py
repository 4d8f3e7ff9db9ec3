"""What a Kazakh firm holds: lots of goods bought, and the takes sales make from them.

The chain pass (`chain.py`) keeps every firm's stock as lots, first in, first out. The online
state stores the same lots (with what remains of each) and the takes, so that a served
document's sales take from the stock a batch pass over every earlier line would have left.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

LotId = tuple[str, int]  # the bought line: (document_id, item_no)


@dataclass(slots=True)
class Lot:
    """Goods a firm holds, with the chain they came through.

    `order` (time, document, item) is the firm's first-in-first-out order; `source` is the lot
    the goods were sold from when they were bought from another Kazakh firm (None when the
    chain starts here).
    """

    id: LotId
    holder: str
    hs_code: str
    hs4: str
    t: int
    chain_start: int
    firms: int
    origin: str
    hs6: str
    unit_value: float
    remaining: float
    source: LotId | None = None

    @property
    def order(self) -> tuple[int, str, int]:
        return (self.t, self.id[0], self.id[1])


class Take(NamedTuple):
    """What one sale line took: from which lot, how much, and whether by its declared link."""

    lot: LotId
    amount: float
    by_link: bool
