"""The firms register, indexed once for the register features of the party family."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from riskscore.features.columns import SECONDS_PER_DAY, Columns, text
from riskscore.features.history import Events, key_codes, seconds
from riskscore.reference import INVASION

_INVASION = (INVASION - date(1970, 1, 1)).days * SECONDS_PER_DAY  # in seconds since 1970
SHARED = {"firm_address_shared_count": "address_id", "firm_director_shared_count": "director_id"}
REGISTER_FEATURES = ("firm_age_days", "firm_registered_after_invasion", "firm_founder_russian",
                     *SHARED)  # fmt: skip


class Register:
    """The firms register, indexed once: when each firm was registered, its founder, and who
    shares its address or director. The service builds it once at start-up."""

    def __init__(self, firms: pd.DataFrame) -> None:
        self.row = {firm: i for i, firm in enumerate(firms["firm_id"].to_numpy(dtype=object))}
        self.registered = seconds(firms["registered_at"])
        founder = text(firms["founder_country"])
        self.founder_russian = np.where(pd.isna(founder), np.nan, founder == "RU")
        self.shared: dict[str, tuple[np.ndarray, Events]] = {}
        for name, column in SHARED.items():
            values = text(firms[column])
            key = np.where(pd.isna(values), -1, key_codes(values))  # -1 shares with nobody
            kept = key >= 0
            self.shared[name] = (key, Events.build(key[kept], self.registered[kept]))

    def features(self, subject: np.ndarray, t: np.ndarray) -> Columns:
        """Register features of subject firms at times t (NaN for firms not in the register)."""
        if not len(self.registered):
            return {name: np.full(len(t), np.nan) for name in REGISTER_FEATURES}
        get = self.row.get
        rows = np.fromiter((get(f, -1) for f in subject), dtype=np.int64, count=len(t))
        known = rows >= 0
        rows = np.where(known, rows, 0)
        at = np.where(known, self.registered[rows], np.nan)
        out = {
            "firm_age_days": np.where(at <= t, (t - at) / SECONDS_PER_DAY, np.nan),
            "firm_registered_after_invasion": np.where(known, at >= _INVASION, np.nan),
            "firm_founder_russian": np.where(known, self.founder_russian[rows], np.nan),
        }
        for name, (key, events) in self.shared.items():
            firm_key = np.where(known, key[rows], -1)
            count, _ = events.before(np.maximum(firm_key, 0), t)
            # The firm itself is one of the firms registered at its address before t.
            shared = np.maximum(count - (at <= t), 0)
            out[name] = np.where(firm_key >= 0, shared, np.nan)
        return out
