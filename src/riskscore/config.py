"""Settings of the running product, read from the environment (prefix RISKSCORE_).

Entry points build one `Settings` and pass it down; nothing constructs it at import time.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Where riskscore keeps its data and models."""

    model_config = SettingsConfigDict(env_prefix="RISKSCORE_", extra="ignore")

    data_dir: Path = Path("data")
    models_dir: Path = Path("models")
    model_name: str = "reexport-risk"
    model_alias: str = "champion"
    random_share: float = Field(0.01, ge=0.0, le=1.0, description="documents sent red at random")
    max_body_bytes: int = Field(1_000_000, ge=1_000)

    @property
    def state_path(self) -> Path:
        """The online state (SQLite, WAL mode)."""
        # The version changes with the layout of what is stored, so that an older file is
        # left alone and a new one is built (OnlineState refuses a file of another layout).
        return self.data_dir / "state-v2.db"

    @property
    def world_dir(self) -> Path:
        """The demo world written by `riskscore generate` when no --out is given."""
        return self.data_dir / "world"
