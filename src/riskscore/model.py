"""The model bundle: booster + fitted feature statistics + feature list + channel thresholds.

`RiskModel.save` / `RiskModel.load` are the only code that knows the bundle's layout:

    booster.txt   LightGBM native text model
    stats.json    vocabularies and value statistics (`FeatureStats.to_dict`)
    model.json    feature names, categorical names, thresholds, metadata

It imports no MLflow: the service loads bundles without it (`registry.py` fetches them).

May import: `riskscore.features`, `riskscore.errors`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd

from riskscore.features import FeatureStats


@dataclass
class RiskModel:
    """A trained re-export risk model and everything needed to score with it."""

    booster: lgb.Booster
    stats: FeatureStats
    feature_names: tuple[str, ...]
    categorical: tuple[str, ...]
    thresholds: dict[str, float]  # red_score, yellow_score, red_share, yellow_share
    metadata: dict[str, Any] = field(default_factory=dict)

    def score(self, features: pd.DataFrame | np.ndarray) -> np.ndarray:
        """Probability-like risk score of each line (features in `feature_names` order)."""
        return np.asarray(self.booster.predict(self._matrix(features)), dtype=float)

    def contributions(self, features: pd.DataFrame | np.ndarray) -> np.ndarray:
        """TreeSHAP contributions in log-odds, one column per feature plus the bias last."""
        matrix = self._matrix(features)
        return np.asarray(self.booster.predict(matrix, pred_contrib=True), dtype=float)

    def channel(self, score: float) -> str:
        """Green, yellow or red, from the thresholds set on the validation window."""
        if score >= self.thresholds["red_score"]:
            return "red"
        return "yellow" if score >= self.thresholds["yellow_score"] else "green"

    def _matrix(self, features: pd.DataFrame | np.ndarray) -> np.ndarray:
        if isinstance(features, pd.DataFrame):
            return features[list(self.feature_names)].to_numpy(dtype=float)
        return np.asarray(features, dtype=float)

    def save(self, folder: Path) -> Path:
        """Write the bundle into `folder` (created) and return it."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        self.booster.save_model(str(folder / "booster.txt"))
        (folder / "stats.json").write_text(json.dumps(self.stats.to_dict()))
        manifest = {
            "feature_names": list(self.feature_names),
            "categorical": list(self.categorical),
            "thresholds": self.thresholds,
            "metadata": self.metadata,
        }
        (folder / "model.json").write_text(json.dumps(manifest, indent=2, default=str))
        return folder

    @classmethod
    def load(cls, folder: Path) -> RiskModel:
        """Read a bundle written by `save`."""
        folder = Path(folder)
        manifest = json.loads((folder / "model.json").read_text())
        return cls(
            booster=lgb.Booster(model_file=str(folder / "booster.txt")),
            stats=FeatureStats.from_dict(json.loads((folder / "stats.json").read_text())),
            feature_names=tuple(manifest["feature_names"]),
            categorical=tuple(manifest["categorical"]),
            thresholds={k: float(v) for k, v in manifest["thresholds"].items()},
            metadata=manifest["metadata"],
        )
