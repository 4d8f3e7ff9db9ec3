"""Settings of the running product, read from the environment (prefix RISKSCORE_).

Entry points build one `Settings` and pass it down; nothing constructs it at import time.
Relative paths resolve against the current directory, as with any command line tool: run
commands from the project folder, or set RISKSCORE_DATA_DIR and RISKSCORE_MODELS_DIR (and
MLFLOW_TRACKING_URI) to absolute paths.

May import: nothing of riskscore.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_MODEL_NAME = "reexport-risk"


class Settings(BaseSettings):
    """Where riskscore keeps its data, models and online state, and how it serves."""

    model_config = SettingsConfigDict(env_prefix="RISKSCORE_", extra="ignore")

    data_dir: Path = Path("data")
    models_dir: Path = Path("models")
    state_url: str | None = Field(
        None,
        description="the online state: sqlite:///path.db (default: sqlite:///<data_dir>/state.db)",
    )
    model_name: str = DEFAULT_MODEL_NAME
    model_alias: str = "champion"
    random_share: float = Field(0.01, ge=0.0, le=1.0, description="documents sent red at random")
    late_horizon_days: float = Field(
        7.0,
        ge=7.0,
        le=90.0,
        description="a document issued this much before its parties' latest stored documents "
        "still corrects the state; one later than that is answered flagged late",
    )
    random_secret: SecretStr | None = Field(
        None, description="key of the random draw (HMAC); else read from random_secret_file"
    )
    random_secret_file: Path | None = Field(
        None, description="file holding the random draw's key (default: <data_dir>/random.secret)"
    )
    max_body_bytes: int = Field(1_000_000, ge=1_000)
    max_in_flight: int = Field(
        4, ge=1, description="requests a process works on at once; more are shed with a 503"
    )
    retry_after_seconds: int = Field(1, ge=1, description="Retry-After of a shed request")
    key_cache_seconds: float = Field(
        5.0, ge=0.0, description="how long a process trusts what it read of an API key"
    )
    trusted_proxies: list[str] = Field(
        default_factory=list,
        description="addresses or networks whose X-Forwarded-For is believed (JSON list)",
    )
    reload_every_seconds: float = Field(
        30.0, ge=0.0, description="how often each process checks the model alias (0: never)"
    )
    degraded_answers: bool = Field(
        True,
        description="when the model or the state fails at request time, answer on the rules "
        "alone, flagged degraded, instead of an error",
    )
    shadow_alias: str | None = Field(
        None,
        description="score every new document again with the model of this alias (e.g. "
        "challenger) after answering: to the audit log and the metrics, never to the caller",
    )

    @property
    def store_url(self) -> str:
        """The online state's URL: `state_url`, else a SQLite file in the data folder."""
        return self.state_url or f"sqlite:///{self.data_dir / 'state.db'}"

    @property
    def secret_file(self) -> Path:
        """Where the random draw's key is read from when `random_secret` is not set."""
        return self.random_secret_file or self.data_dir / "random.secret"
