"""The random share of inspections, drawn with a secret key.

A document goes red at random when the HMAC-SHA256 of its id under the secret, read as a
number in [0, 1), falls below the share: nobody without the key can tell which ids are drawn,
the same id always gets the same draw (a repeated document is not re-drawn), and, HMAC being
a pseudo-random function, the share holds over any stream of ids, chosen ones included
(docs/decisions.md, "Keyed random selection"). The key comes from RISKSCORE_RANDOM_SECRET or
a secret file, never from the state's database, which every caller's data passes through.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import stat
from pathlib import Path

from riskscore.config import Settings
from riskscore.errors import ConfigError

_MIN_BYTES = 16


class RandomSelection:
    """Draws documents at random under a secret key."""

    def __init__(self, key: bytes, share: float) -> None:
        if share > 0 and len(key) < _MIN_BYTES:
            raise ConfigError(f"the random draw's secret must hold at least {_MIN_BYTES} bytes")
        self._key, self.share = key, share

    def drawn(self, document_id: str) -> bool:
        """Whether this document is one of the share sent red at random."""
        if self.share <= 0:
            return False
        digest = hmac.new(self._key, document_id.encode(), hashlib.sha256).digest()
        return int.from_bytes(digest[:8], "big") / 2**64 < self.share

    @classmethod
    def of(cls, settings: Settings) -> RandomSelection:
        """The selection `settings` describe: the key from RISKSCORE_RANDOM_SECRET, else from
        the secret file; with a share above 0 and neither, a ConfigError that says what to do."""
        if settings.random_share <= 0:
            return cls(b"", 0.0)
        key = secret(settings)
        if key is None:
            raise ConfigError(
                "no secret for the random draw: set RISKSCORE_RANDOM_SECRET or create "
                f"{settings.secret_file} (`riskscore keys secret`)"
            )
        return cls(key, settings.random_share)


def secret(settings: Settings) -> bytes | None:
    """The service's secret (RISKSCORE_RANDOM_SECRET, else the secret file), or None: the key
    of the random draw, and the one the audit log's hashes are derived from."""
    if settings.random_secret is not None:
        return settings.random_secret.get_secret_value().encode()
    try:
        return settings.secret_file.read_bytes().strip() or None
    except OSError:
        return None


def write_secret(path: Path) -> None:
    """Write a new random secret (64 hex digits) to `path`, readable by its owner only;
    an existing file is never replaced (that would re-draw every document)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        descriptor = os.open(
            path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, stat.S_IRUSR | stat.S_IWUSR
        )
    except FileExistsError:
        raise ConfigError(f"{path} exists already; it is kept") from None
    with os.fdopen(descriptor, "w") as out:
        out.write(secrets.token_hex(32) + "\n")
