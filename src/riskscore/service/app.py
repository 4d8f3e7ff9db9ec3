"""HTTP entry point: a FastAPI app around a trained RiskModel and the online state."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from riskscore import __version__, registry
from riskscore.config import Settings
from riskscore.model import RiskModel
from riskscore.service import problems
from riskscore.service.routes import router
from riskscore.service.runtime import ModelRuntime
from riskscore.service.scoring import Scorer
from riskscore.store import Store, open_store


def create_app(
    settings: Settings | None = None,
    model: RiskModel | None = None,
    store: Store | None = None,
) -> FastAPI:
    """Build the app. Tests pass `model` and `store`; otherwise the champion is loaded from
    the registry and the store opened from `settings.store_url` at start-up."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime = ModelRuntime(model or _champion(settings), settings.model_name,
                               settings.model_alias)  # fmt: skip
        opened = store or open_store(settings.store_url, settings.late_horizon_days)
        app.state.settings = settings
        try:
            app.state.scorer = Scorer(runtime, opened, settings)
        except Exception:
            if store is None:
                opened.close()
            raise
        if store is None:
            opened.housekeeping()
        # Everything loaded so far (the model, MLflow's modules, the state's mirror) lives as
        # long as the process: move it out of the garbage collector's sight, or a full
        # collection walks all of it and stalls one request for ~150 ms.
        gc.collect()
        gc.freeze()
        yield
        if store is None:
            opened.close()

    app = FastAPI(
        title="riskscore",
        version=__version__,
        summary="Re-export risk scores for Kazakhstan customs and tax documents",
        lifespan=lifespan,
    )
    app.include_router(router)
    problems.install(app)
    app.add_middleware(BodyLimit, limit=settings.max_body_bytes)
    return app


def _champion(settings: Settings) -> RiskModel:
    client = registry.connect(settings.models_dir, create=False)
    hint = "train and promote first"
    registered = registry.require(client, settings.model_name, settings.model_alias, hint)
    model = registry.load_model(registered)
    model.metadata["alias"] = settings.model_alias
    return model


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
            return next(replay, {"type": "http.disconnect"})

        await self.app(scope, replayed, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = problems.problem(413, "Request too large", f"the limit is {self.limit:,} bytes")
        await response(scope, receive, send)
