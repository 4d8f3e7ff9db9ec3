"""Data in: the synthetic world generator, the dataset loader and the validator."""

from __future__ import annotations

from riskscore.data.generate import generate
from riskscore.data.io import World, load_world
from riskscore.data.validate import validate
from riskscore.data.world import WorldConfig

__all__ = ["World", "WorldConfig", "generate", "load_world", "validate"]
