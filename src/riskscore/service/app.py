"""HTTP entry point: a FastAPI app around a trained RiskModel and the online state."""

from __future__ import annotations

import asyncio
import gc
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi_offline import FastAPIOffline
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from riskscore import __version__
from riskscore.config import Settings
from riskscore.errors import RegistryError
from riskscore.model import RiskModel
from riskscore.service import problems
from riskscore.service.access import Access, Templates
from riskscore.service.auth import Authenticate, Keyring
from riskscore.service.logs import Proxies
from riskscore.service.metrics import Metrics, process_died
from riskscore.service.reload import RegistrySource, Reloader, Source, stop
from riskscore.service.routes import router
from riskscore.service.runtime import ModelRuntime
from riskscore.service.scoring import Scorer
from riskscore.service.shedding import Shedding
from riskscore.store import Store, open_store
from riskscore.store.base import TABLES


def create_app(
    settings: Settings | None = None,
    model: RiskModel | None = None,
    store: Store | None = None,
    source: Source | None = None,
    shadow: RiskModel | None = None,
) -> FastAPI:
    """Build the app. Tests pass `model` and `store` (and a `shadow` challenger); otherwise
    the champion is loaded from `source` (the registry by default) and the store opened from
    `settings.store_url` at start-up. A model from a source is followed: reloaded when its
    alias moves; so is the challenger of `settings.shadow_alias`, from the registry."""
    settings = settings or Settings()
    metrics = Metrics()
    if model is None:
        source = source or RegistrySource(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime = ModelRuntime(model or _champion(settings, source), settings.model_name,
                               settings.model_alias)  # fmt: skip
        runtime.smoke()
        opened = store or open_store(settings.store_url, settings.late_horizon_days)
        try:
            scorer = Scorer(runtime, opened, settings)
        except Exception:
            if store is None:
                opened.close()
            raise
        app.state.settings, app.state.scorer, app.state.metrics = settings, scorer, metrics
        app.state.keyring = Keyring(opened, settings.key_cache_seconds)
        reloader = None if source is None else Reloader(scorer, source, settings, metrics)
        app.state.reloader = reloader
        metrics.serving(tuple(runtime.identity))
        challenger = None
        if shadow is not None:
            scorer.shadow = ModelRuntime(shadow, settings.model_name,
                                         settings.shadow_alias or "challenger")  # fmt: skip
            scorer.shadow.smoke()
        elif settings.shadow_alias and model is None:
            challenger = Reloader(scorer, RegistrySource(settings, settings.shadow_alias),
                                  settings, metrics, shadow=True)  # fmt: skip
            await challenger.check()  # a challenger that is missing or refused: no shadow
        if store is None:
            opened.housekeeping()
        # Everything loaded so far (the model, MLflow's modules, the state's mirror) lives as
        # long as the process: move it out of the garbage collector's sight, or a full
        # collection walks all of it and stalls one request for ~150 ms.
        gc.collect()
        gc.freeze()
        every = settings.reload_every_seconds
        tasks = [asyncio.create_task(r.run(every)) for r in (reloader, challenger)
                 if r is not None and every > 0]  # fmt: skip
        yield
        for task in tasks:
            await stop(task)
        scorer.close()
        if store is None:
            opened.close()
        process_died(os.getpid())

    app = FastAPIOffline(
        title="riskscore",
        version=__version__,
        summary="Re-export risk scores for Kazakhstan customs and tax documents",
        description=_DESCRIPTION,
        lifespan=lifespan,
    )
    app.include_router(router)
    problems.install(app)
    app.add_route("/metrics", metrics.endpoint(lambda: _sizes(app)), include_in_schema=False)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    templates = Templates([*app.routes, *router.routes])
    # Innermost first: the body limit, then the key, then shedding, then the access log.
    app.add_middleware(BodyLimit, limit=settings.max_body_bytes)
    app.add_middleware(Authenticate, keyring=lambda: app.state.keyring)
    app.add_middleware(Shedding, most=settings.max_in_flight,
                       retry_after=settings.retry_after_seconds, metrics=metrics,
                       templates=templates)  # fmt: skip
    app.add_middleware(Access, metrics=metrics, proxies=Proxies(settings.trusted_proxies),
                       templates=templates)  # fmt: skip
    return app


_DESCRIPTION = """Scores customs declarations (DT), accompanying invoices (SNT) and e-invoices
(ESF) for the risk that they belong to a chain re-exporting sanctioned goods.

Every operation but the health checks, `/metrics` and these docs needs an API key
(`riskscore keys add`), sent as `Authorization: Bearer KEY`; each key carries roles
(`score`, `outcomes`, `register`, `read`, `admin`). Errors are RFC 9457 problem details that
name each bad field and never echo the request. Every answer carries `X-Request-ID` (the
caller's, when it sends a short plain one)."""


def _openapi(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema is None:
        schema = get_openapi(title=app.title, version=app.version, summary=app.summary,
                             description=app.description, routes=app.routes)  # fmt: skip
        app.openapi_schema = problems.tidy(schema)
    return app.openapi_schema


def _champion(settings: Settings, source: Source | None) -> RiskModel:
    assert source is not None
    registered = source.resolve()
    if registered is None:
        alias = f"{settings.model_name}@{settings.model_alias}"
        raise RegistryError(f"no {alias} in the registry: train and promote first")
    return source.load(registered)


def _sizes(app: FastAPI) -> dict[str, int]:
    store: Store = app.state.scorer.store
    return {table: store.count(table) for table in TABLES}


class BodyLimit:
    """413 for bodies over `limit` bytes, by Content-Length or by counting a streamed body."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope.get("headers", [])).get(b"content-length")
        if length is not None and int(length) > self.limit:
            await self._refuse(scope, receive, send)
            return
        # Read and count the whole body first: an error raised while FastAPI reads it would
        # come back as a 400 parse error, not as 413.
        messages: list[Message] = []
        seen = 0
        while True:
            message = await receive()
            messages.append(message)
            seen += len(message.get("body", b""))
            if seen > self.limit:
                await self._refuse(scope, receive, send)
                return
            if message["type"] != "http.request" or not message.get("more_body", False):
                break
        replay = iter(messages)

        async def replayed() -> Message:
            # After the body, wait for what the server says next (a disconnect): a streamed
            # answer (a static file) listens for it and stops when it arrives.
            return next(replay, None) or await receive()

        await self.app(scope, replayed, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = problems.problem(413, "Request too large", f"the limit is {self.limit:,} bytes")
        await response(scope, receive, send)
