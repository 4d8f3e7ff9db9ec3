"""The parameters of a synthetic world and the policy timeline its behaviour follows.

Times inside the generator are float days since 1970-01-01 (UTC): cheap to add dwell times
to and converted to timestamps once, when a chunk is written.
"""

from __future__ import annotations

from datetime import date
from typing import Self

import numpy as np
import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field, model_validator

from riskscore import reference

EPOCH = date(1970, 1, 1)
MICROSECONDS_PER_DAY = 86_400_000_000


def days_of(times: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """Float days since the epoch of an Arrow timestamp column in microseconds."""
    return np.asarray(times.cast(pa.int64()).to_numpy(), dtype=float) / MICROSECONDS_PER_DAY


def day(when: date) -> float:
    """Days since the epoch of a calendar date (midnight UTC)."""
    return float((when - EPOCH).days)


# The policy timeline (docs/world.md); evasion behaviour shifts at each date.
INVASION = day(reference.INVASION)
FINCEN_ALERT = day(date(2022, 6, 28))
SNT_MANDATORY = day(date(2023, 4, 1))
KZ_EXPORT_BAN = day(date(2023, 10, 1))  # "autumn 2023": the 106-item ban; month approximate


class WorldConfig(BaseModel):
    """What `riskscore generate` builds. The same config and seed give identical files."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    seed: int = Field(default=7, ge=0)
    firms: int = Field(default=2_500, ge=60, le=2_000_000, description="Kazakh firms")
    start: date = date(2021, 1, 1)
    end: date = date(2024, 12, 31)
    random_inspection_share: float = Field(default=0.01, ge=0.0, le=1.0)
    detection_probability: float = Field(default=0.85, ge=0.0, le=1.0)
    firms_per_chunk: int = Field(default=1_000, ge=60, le=100_000)

    @model_validator(mode="after")
    def _window(self) -> Self:
        if self.end <= self.start:
            raise ValueError("end must be after start")
        return self

    @property
    def start_day(self) -> float:
        return day(self.start)

    @property
    def end_day(self) -> float:
        """The first day after the window (the window includes `end`)."""
        return day(self.end) + 1.0

    @property
    def chunks(self) -> int:
        """Number of independent communities of firms the world is generated in."""
        return -(-self.firms // self.firms_per_chunk)


def period_factor(t: float) -> float:
    """How much evasion pressure there is at time t, relative to late 2022 (= 1).

    Zero before the invasion (no controls to evade), ramping up after it, easing a little
    once SNT became mandatory and again after Kazakhstan's own export ban.
    """
    if t < INVASION:
        return 0.0
    if t < FINCEN_ALERT:
        return 0.7
    if t < SNT_MANDATORY:
        return 1.0
    if t < KZ_EXPORT_BAN:
        return 0.9
    return 0.85


def import_volume_factor(t: float, electronics: bool) -> float:
    """Seasonality-free trend of import volumes: the 2022 electronics surge, a 2023 fall."""
    if not electronics or t < INVASION:
        return 1.0
    if t < SNT_MANDATORY:
        return 1.6
    return 1.3
