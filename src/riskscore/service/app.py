"""HTTP entry point: a FastAPI app around a trained RiskModel and the online state."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from riskscore import __version__
from riskscore.config import Settings
from riskscore.features.state import OnlineState
from riskscore.model import RiskModel
from riskscore.service import problems
from riskscore.service.routes import router
from riskscore.service.scoring import Scorer


def create_app(
    settings: Settings | None = None,
    model: RiskModel | None = None,
    state: OnlineState | None = None,
) -> FastAPI:
    """Build the app. Tests pass `model` and `state`; otherwise the champion is loaded from
    the registry and the state opened from the data folder at start-up."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        loaded = model or _champion(settings)
        store = state or OnlineState(settings.state_path)
        app.state.settings = settings
        try:
            app.state.scorer = Scorer(loaded, store, settings)
        except Exception:
            if state is None:
                store.close()
            raise
        if state is None:
            store.checkpoint_in_background()
        # Everything loaded so far (the model, MLflow's modules, the state's mirror) lives as
        # long as the process: move it out of the garbage collector's sight, or a full
        # collection walks all of it and stalls one request for ~150 ms.
        gc.collect()
        gc.freeze()
        yield
        if state is None:
            store.close()

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
    from riskscore.training import tracking

    client = tracking.connect(settings.models_dir)
    registered = tracking.resolve(client, settings.model_name, settings.model_alias)
    if registered is None:
        wanted = f"{settings.model_name}@{settings.model_alias}"
        raise tracking.RegistryError(f"no {wanted} in the registry: train and promote first")
    model = tracking.load_model(registered)
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
