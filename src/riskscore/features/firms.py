"""The firms register: who each Kazakh firm is, for the register features of the party family.

Training indexes a whole register once (`Register`); the service reads the few firms a
document names from the online state (`StoredRegister`). Both answer through `features`, with
the same formulas (`_features`).
"""

from __future__ import annotations

from datetime import date
from typing import NamedTuple, Protocol

import numpy as np
import pandas as pd

from riskscore.features.columns import SECONDS_PER_DAY, Columns, text
from riskscore.features.history import Events, key_codes, seconds
from riskscore.reference import INVASION

_INVASION = (INVASION - date(1970, 1, 1)).days * SECONDS_PER_DAY  # in seconds since 1970
SHARED = {"firm_address_shared_count": "address_id", "firm_director_shared_count": "director_id"}
REGISTER_FEATURES = ("firm_age_days", "firm_registered_after_invasion", "firm_founder_russian",
                     *SHARED)  # fmt: skip


class RegisterAnswers(Protocol):
    """What the party family asks the register."""

    def features(self, subject: np.ndarray, t: np.ndarray) -> Columns: ...


class Register:
    """The firms register, indexed once: when each firm was registered, its founder, and who
    shares its address or director."""

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
        counts = {}
        for name, (key, events) in self.shared.items():
            firm_key = np.where(known, key[rows], -1)
            count, _ = events.before(np.maximum(firm_key, 0), t)
            counts[name] = np.where(firm_key >= 0, count, np.nan)
        return _features(known, at, np.where(known, self.founder_russian[rows], np.nan), counts, t)


class Firm(NamedTuple):
    """One firm as the online state answers for a moment t."""

    registered: int  # seconds since 1970
    founder_russian: float  # 1, 0, or NaN when unknown
    shared: dict[str, float]  # per SHARED feature: firms with the same value registered
    # before t (NaN when the firm has no such value)


class StoredRegister:
    """The register features of the firms a document names, from what the state looked up
    for the document's moment (firms not in the register are absent)."""

    def __init__(self, firms: dict[str, Firm]) -> None:
        self.firms = firms

    def features(self, subject: np.ndarray, t: np.ndarray) -> Columns:
        found = [self.firms.get(f) for f in subject.tolist()]
        known = np.array([f is not None for f in found])
        at = np.array([np.nan if f is None else float(f.registered) for f in found])
        founder = np.array([np.nan if f is None else f.founder_russian for f in found])
        counts = {
            name: np.array([np.nan if f is None else f.shared[name] for f in found])
            for name in SHARED
        }
        return _features(known, at, founder, counts, t)


def _features(
    known: np.ndarray, at: np.ndarray, founder: np.ndarray, counts: dict[str, np.ndarray],
    t: np.ndarray,
) -> Columns:  # fmt: skip
    """The register features from each firm's registration time, founder and shared counts
    (firms registered before t with the same address or director, the firm itself included)."""
    out = {
        "firm_age_days": np.where(at <= t, (t - at) / SECONDS_PER_DAY, np.nan),
        "firm_registered_after_invasion": np.where(known, at >= _INVASION, np.nan),
        "firm_founder_russian": founder,
    }
    for name, count in counts.items():
        # The firm itself is one of the firms registered at its address before t.
        out[name] = np.where(np.isnan(count), np.nan, np.maximum(count - (at <= t), 0))
    return out
