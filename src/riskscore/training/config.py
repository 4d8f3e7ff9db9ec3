"""Training configuration: a versioned TOML file parsed into a frozen model; flags override it."""

from __future__ import annotations

import json
import tomllib
from datetime import date, timedelta
from importlib import resources
from pathlib import Path
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from riskscore.config import DEFAULT_MODEL_NAME
from riskscore.errors import ConfigError


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Split(_Frozen):
    """Train, validation and test windows by issue date (inclusive); `source` says where they
    came from: this file, flags, or cut from the data (`--split auto`)."""

    train_start: date
    train_end: date
    validation_end: date
    test_end: date
    source: Literal["config", "flags", "auto"] = "config"

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        days = [self.train_start, self.train_end, self.validation_end, self.test_end]
        if days != sorted(days) or len(set(days)) != len(days):
            raise ValueError("windows must follow each other: train_start < train_end < "
                             "validation_end < test_end")  # fmt: skip
        return self

    def windows(self) -> dict[str, tuple[date, date]]:
        """Name -> (first day, last day)."""
        one = timedelta(days=1)
        return {
            "train": (self.train_start, self.train_end),
            "validation": (self.train_end + one, self.validation_end),
            "test": (self.validation_end + one, self.test_end),
        }


class LightGBMParams(_Frozen):
    """Booster parameters; `seed` is threaded into LightGBM's own seeds."""

    num_leaves: int = Field(31, ge=2)
    max_depth: int = Field(-1, ge=-1)  # -1: no limit (LightGBM's default)
    learning_rate: float = Field(0.03, gt=0, le=1)
    min_data_in_leaf: int = Field(20, ge=1)
    feature_fraction: float = Field(0.8, gt=0, le=1)
    bagging_fraction: float = Field(0.8, gt=0, le=1)
    bagging_freq: int = Field(1, ge=0)
    lambda_l2: float = Field(1.0, ge=0)
    num_boost_round: int = Field(2000, ge=1)
    early_stopping_rounds: int = Field(100, ge=1)
    seed: int = 42


class Channels(_Frozen):
    """Inspection capacity as shares of documents."""

    red_share: float = Field(0.02, gt=0, lt=1)
    yellow_share: float = Field(0.08, gt=0, lt=1)


class Guard(_Frozen):
    """When a trained model is registered with a warning (and cannot be promoted without
    `--force`): it saw fewer positive labels than this in training, or it does not beat
    random selection at the red budget on validation."""

    min_train_positives: int = Field(50, ge=1)


class ModelName(_Frozen):
    name: str = Field(DEFAULT_MODEL_NAME, pattern=r"^[a-z0-9][a-z0-9\-]*$")


class TrainConfig(_Frozen):
    """The whole training run."""

    split: Split
    lightgbm: LightGBMParams = LightGBMParams()
    channels: Channels = Channels()
    guard: Guard = Guard()
    model: ModelName = ModelName()

    def to_toml(self) -> str:
        """The resolved config as TOML text (logged with the run; `load_config` reads it)."""
        lines = []
        for section, values in self.model_dump(mode="json").items():
            lines.append(f"[{section}]")
            lines += [f"{key} = {json.dumps(value)}" for key, value in values.items()]
            lines.append("")
        return "\n".join(lines)


def default_config_text() -> str:
    """The default config shipped inside the package."""
    return resources.files(__package__).joinpath("default.toml").read_text()


def load_config(path: Path | None = None, overrides: dict[str, Any] | None = None) -> TrainConfig:
    """Parse a TOML config (None: the packaged default); `overrides` maps "section.key" to a
    value (from CLI flags)."""
    try:
        raw = tomllib.loads(default_config_text() if path is None else Path(path).read_text())
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise ConfigError(f"{path}: {error}") from None
    for dotted, value in (overrides or {}).items():
        section, key = dotted.split(".")
        raw.setdefault(section, {})[key] = value
    try:
        return TrainConfig.model_validate(raw)
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors())
        raise ConfigError(f"{path}: {problems}") from None
