"""API keys: who calls, and what each calling system may do.

A key reads `rsk_<key id>_<secret>`. The key id is public: it names the key in logs and in
`riskscore keys revoke`, and finds the stored record in one indexed lookup. Only the SHA-256
of the whole key is stored (in the online state, so every replica sees a new or revoked key);
the key is shown once, when it is made. A key carries 256 random bits, so a fast hash is
enough: there is nothing to brute-force (docs/decisions.md, "API keys").

`Authenticate` checks the `Authorization: Bearer KEY` header of every request outside
`OPEN_PATHS` before anything reads the body; the routes' `Annotated` dependencies
(`service/deps.py`) then check the role.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Callable
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, NamedTuple

from starlette.types import ASGIApp, Receive, Scope, Send

from riskscore.service.problems import problem
from riskscore.store import ApiKey, Store

# What the network's own tooling reads without a key.
OPEN_PATHS = frozenset({"/livez", "/readyz", "/metrics", "/docs", "/docs/oauth2-redirect",
                        "/redoc", "/openapi.json"})  # fmt: skip
OPEN_PREFIXES = ("/static-offline-docs/",)
_KEY = re.compile(r"^rsk_([0-9a-f]{16})_[A-Za-z0-9_-]{43}$")
_CACHE_MOST = 10_000


class Role(StrEnum):
    """What a calling system may do."""

    SCORE = "score"  # POST /v1/score and /v1/score/batch; read back its own answers
    OUTCOMES = "outcomes"  # POST /v1/outcomes
    REGISTER = "register"  # POST /v1/firms
    READ = "read"  # GET /v1/answers/{document_id} of any document
    ADMIN = "admin"  # POST /v1/admin/reload


class Caller(NamedTuple):
    """The calling system behind a request's key."""

    name: str
    key_id: str
    roles: frozenset[str]


class NewKey(NamedTuple):
    """A key just made: `key` is shown once, `record` is what the store keeps."""

    key: str
    record: ApiKey


def new_key(
    caller: str, roles: list[Role], expires_at: datetime | None = None, now: datetime | None = None
) -> NewKey:
    """A random key for `caller` with `roles`, and the record to store (its hash only)."""
    key_id = secrets.token_hex(8)
    key = f"rsk_{key_id}_{secrets.token_urlsafe(32)}"
    record = ApiKey(key_id, caller, tuple(sorted({str(r) for r in roles})), _digest(key),
                    now or datetime.now(UTC), expires_at)  # fmt: skip
    return NewKey(key, record)


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class Keyring:
    """Checks keys against the store, remembering what it read for `ttl` seconds.

    A revoked key keeps working in a process for at most `ttl` seconds; in return a request
    costs a dictionary lookup and one SHA-256 instead of a query (docs/decisions.md, "API
    keys"). Unknown key ids are remembered too, so a stream of made-up keys costs no query
    either; the memory holds at most 10,000 ids and starts afresh when full.
    """

    def __init__(
        self, store: Store, ttl: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.store, self.ttl, self._clock = store, ttl, clock
        self._seen: dict[str, tuple[float, ApiKey | None]] = {}

    def caller(self, key: str) -> Caller | None:
        """The caller a key names, or None when it is malformed, unknown, revoked or expired."""
        match = _KEY.match(key)
        if match is None:
            return None
        record = self._record(match.group(1))
        if record is None or not hmac.compare_digest(record.key_hash, _digest(key)):
            return None
        if not record.live(datetime.now(UTC)):
            return None
        return Caller(record.caller, record.key_id, frozenset(record.roles))

    def _record(self, key_id: str) -> ApiKey | None:
        now = self._clock()
        seen = self._seen.get(key_id)
        if seen is not None and now - seen[0] < self.ttl:
            return seen[1]
        if len(self._seen) >= _CACHE_MOST:
            self._seen.clear()
        record = self.store.key(key_id)
        self._seen[key_id] = (now, record)
        return record


def is_open(path: str) -> bool:
    """Whether a path is served without a key."""
    return path in OPEN_PATHS or path.startswith(OPEN_PREFIXES)


class Authenticate:
    """401 for a request outside the open paths without a valid key, before its body is read;
    otherwise the caller goes into the request's state (`request.state.caller`)."""

    def __init__(self, app: ASGIApp, keyring: Callable[[], Keyring]) -> None:
        self.app, self.keyring = app, keyring

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or is_open(scope["path"]):
            await self.app(scope, receive, send)
            return
        caller = self._caller(scope)
        if caller is None:
            response = problem(401, "Unauthorized",
                               "send a valid API key as `Authorization: Bearer KEY`")  # fmt: skip
            response.headers["WWW-Authenticate"] = 'Bearer realm="riskscore"'
            await response(scope, receive, send)
            return
        scope.setdefault("state", {})["caller"] = caller
        await self.app(scope, receive, send)

    def _caller(self, scope: Scope) -> Caller | None:
        header = _header(scope, b"authorization")
        scheme, _, key = header.partition(" ")
        if scheme.lower() != "bearer" or not key:
            return None
        return self.keyring().caller(key.strip())


def _header(scope: Scope, name: bytes) -> str:
    headers: list[tuple[bytes, bytes]] = scope.get("headers", [])
    for key, value in headers:
        if key == name:
            return value.decode("latin-1")
    return ""


def caller_of(state: dict[str, Any]) -> Caller | None:
    """The caller `Authenticate` put in a request's state, if any."""
    caller = state.get("caller")
    return caller if isinstance(caller, Caller) else None
