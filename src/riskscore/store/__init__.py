"""The online state: what the service reads and writes as it scores documents.

`Store` (`store/base.py`) is the contract the service and the CLI call; `SqliteStore` is the
embedded backend (one file, WAL mode), `PostgresStore` the one several service processes on
several hosts share; `open_store` picks the backend from a URL. Stored values are encoded by
`store/codec.py` alone; `load_history` warms a store from a dataset and `export_state` writes
what it holds back out as one.

May import: `riskscore.data`, `riskscore.features`, `riskscore.schema`, `riskscore.errors`.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from riskscore.errors import ConfigError
from riskscore.store.base import Answer, Answered, ApiKey, Lookup, Scoring, Store
from riskscore.store.export import export_state
from riskscore.store.load import load_history
from riskscore.store.sqlite import SqliteStore

__all__ = [
    "Answer",
    "Answered",
    "ApiKey",
    "Lookup",
    "Scoring",
    "SqliteStore",
    "Store",
    "export_state",
    "load_history",
    "open_store",
]


def open_store(url: str, horizon_days: float = 7.0) -> Store:
    """The store a URL names: `sqlite:///relative/path.db` or `sqlite:////absolute/path.db`.
    A document issued up to `horizon_days` before its parties' latest stored documents still
    corrects the state; a later one is answered and left for the batch.

    >>> open_store("redis://localhost")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    riskscore.errors.ConfigError: the state URL must start with ... (got scheme 'redis')
    """
    scheme, horizon = urlsplit(url).scheme, round(horizon_days * 86_400)
    if scheme == "sqlite" and url.startswith("sqlite:///"):
        return SqliteStore(Path(url.removeprefix("sqlite:///")), horizon)
    if scheme in ("postgresql", "postgres"):
        from riskscore.store.postgres import PostgresStore  # psycopg only when asked for

        return PostgresStore(url, horizon)
    raise ConfigError(
        f"the state URL must start with sqlite:/// or postgresql:// (got scheme {scheme!r})"
    )
