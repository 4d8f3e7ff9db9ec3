"""What build_features reads: the lines (documents + derived columns), firms and outcomes."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd


@dataclass(frozen=True)
class Inputs:
    """Documents joined with `lines.prepare`, and the optional register and outcomes."""

    lines: pd.DataFrame
    firms: pd.DataFrame | None = None
    outcomes: pd.DataFrame | None = None
