"""The online state: what the service reads and writes as it scores documents.

`Store` (`store/base.py`) is the contract the service and the CLI call; `SqliteStore` is the
embedded backend (one file, WAL mode); `open_store` picks the backend from a URL. Stored
values are encoded by `store/codec.py` alone; `load_history` warms a store from a dataset.

May import: `riskscore.features`, `riskscore.schema`, `riskscore.errors`.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from riskscore.errors import ConfigError
from riskscore.store.base import Answer, ApiKey, History, Scoring, Store
from riskscore.store.load import load_history
from riskscore.store.sqlite import SqliteStore

__all__ = [
    "Answer",
    "ApiKey",
    "History",
    "Scoring",
    "SqliteStore",
    "Store",
    "load_history",
    "open_store",
]


def open_store(url: str) -> Store:
    """The store a URL names: `sqlite:///relative/path.db` or `sqlite:////absolute/path.db`.

    >>> open_store("redis://localhost")
    Traceback (most recent call last):
    ...
    riskscore.errors.ConfigError: the state URL must start with sqlite:/// (got scheme 'redis')
    """
    scheme = urlsplit(url).scheme
    if scheme == "sqlite" and url.startswith("sqlite:///"):
        return SqliteStore(Path(url.removeprefix("sqlite:///")))
    raise ConfigError(f"the state URL must start with sqlite:/// (got scheme {scheme!r})")
