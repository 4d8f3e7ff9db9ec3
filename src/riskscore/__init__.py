"""riskscore: re-export risk scoring for Kazakhstan customs and tax documents."""

from __future__ import annotations

__version__ = "0.1.0"
