"""Settings of the running product, read from the environment (prefix RISKSCORE_).

Entry points build one `Settings` and pass it down; nothing constructs it at import time.
"""

from __future__ import annotations

from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Where riskscore keeps its data and models."""

    model_config = SettingsConfigDict(env_prefix="RISKSCORE_", extra="ignore")

    data_dir: Path = Path("data")
    models_dir: Path = Path("models")

    @property
    def world_dir(self) -> Path:
        """The demo world written by `riskscore generate` when no --out is given."""
        return self.data_dir / "world"
