"""Model reload without a restart: each process follows the registry alias it serves.

Every `reload_every_seconds` (and on POST /v1/admin/reload) a process asks the registry which
version the alias names. A new one is downloaded and built in a worker thread, checked (its
feature list, then one line scored and explained) and only then swapped in: one assignment
on the event loop's thread, so between two requests. A request in flight keeps the runtime it
started with (`Scorer.score` reads it once). A model that fails its checks is refused, logged
and counted, and the old one goes on serving; it is not tried again until the alias moves.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from typing import Literal, NamedTuple, Protocol

from riskscore import registry
from riskscore.config import Settings
from riskscore.errors import ConflictError, RegistryError, RiskscoreError
from riskscore.model import RiskModel
from riskscore.registry import Registered
from riskscore.service.metrics import Metrics
from riskscore.service.runtime import Identity, ModelRuntime
from riskscore.service.schemas import ReloadResult
from riskscore.service.scoring import Scorer

_log = logging.getLogger(__name__)


class Source(Protocol):
    """Where models come from: the version an alias names, and that version's model."""

    def resolve(self) -> Registered | None: ...

    def load(self, registered: Registered) -> RiskModel: ...


class RegistrySource:
    """The MLflow registry the settings name (`MLFLOW_TRACKING_URI` or `models/`)."""

    def __init__(self, settings: Settings, alias: str | None = None) -> None:
        self.settings, self.alias = settings, alias or settings.model_alias
        self._client: registry.Client | None = None

    def resolve(self) -> Registered | None:
        if self._client is None:
            self._client = registry.connect(self.settings.models_dir, create=False)
        return registry.resolve(self._client, self.settings.model_name, self.alias)

    def load(self, registered: Registered) -> RiskModel:
        model = registry.load_model(registered)
        model.metadata["alias"] = self.alias
        return model


_NONE = Identity("", "none", "")  # what a process serves as challenger before it loads one


class _Key(NamedTuple):
    version: str
    run_id: str


class Reloader:
    """Keeps one process's scorer on the model its alias names (or, with `shadow`, its
    challenger on the model the shadow alias names)."""

    def __init__(
        self,
        scorer: Scorer,
        source: Source,
        settings: Settings,
        metrics: Metrics,
        shadow: bool = False,
    ) -> None:
        self.scorer, self.source, self.settings, self.metrics = scorer, source, settings, metrics
        self.shadow = shadow
        self.alias = (settings.shadow_alias if shadow else None) or settings.model_alias
        self._lock = asyncio.Lock()
        self._refused: _Key | None = None

    async def run(self, every: float) -> None:
        """Check every `every` seconds until cancelled; a failed check is logged, not fatal."""
        while True:
            await asyncio.sleep(every)
            if self._lock.locked():
                continue
            try:
                await self.check()
            except Exception:
                _log.exception("model reload check failed")

    async def check(self) -> ReloadResult:
        """Load the version the alias names if it is not the one served (ConflictError while
        another check runs)."""
        if self._lock.locked():
            raise ConflictError("a reload check is running already; try again shortly")
        async with self._lock:
            result = await self._check()
        if not self.shadow:
            self.metrics.reloads.labels(result.outcome).inc()
        # A check that finds the served model is routine: logged at debug, counted in metrics.
        levels = {"refused": logging.WARNING, "loaded": logging.INFO}
        what = "challenger" if self.shadow else "model"
        _log.log(levels.get(result.outcome, logging.DEBUG),
                 "%s reload: %s (%s)", what, result.outcome, result.detail)  # fmt: skip
        return result

    async def _check(self) -> ReloadResult:
        settings = self.settings
        current = self.scorer.shadow if self.shadow else self.scorer.runtime
        served = current.identity if current is not None else _NONE
        alias = f"{settings.model_name}@{self.alias}"
        try:
            registered = await asyncio.to_thread(self.source.resolve)
        except Exception as error:
            raise RegistryError(f"the registry does not answer: {type(error).__name__}") from None
        if registered is None:
            return _result("refused", served.version, f"{alias} is not set; keeping the model")
        key = _Key(registered.version, registered.run_id)
        if key == _Key(served.version, served.run_id):
            return _result("unchanged", served.version, f"{alias} is {served.version}")
        if key == self._refused:
            return _result("refused", served.version, f"version {key.version} was refused before")
        try:
            runtime = await asyncio.to_thread(self._prepare, registered)
        except RiskscoreError as error:
            self._refused = key
            return _result("refused", served.version, str(error))
        self._swap(runtime)
        return _result("loaded", runtime.identity.version,
                       f"{alias} is {runtime.identity.version} (was {served.version})")  # fmt: skip

    def _prepare(self, registered: Registered) -> ModelRuntime:
        """Download, build and check a model (in a worker thread)."""
        try:
            model = self.source.load(registered)
        except RiskscoreError:
            raise
        except Exception as error:  # a broken artifact: refuse it, keep serving
            raise RiskscoreError(f"version {registered.version} cannot be loaded: "
                                 f"{type(error).__name__}") from error  # fmt: skip
        runtime = ModelRuntime(model, self.settings.model_name, self.alias)
        runtime.smoke()
        home, state = model.stats.home_country, self.scorer.store.home_country()
        if home != state:
            raise RiskscoreError(f"version {registered.version} was trained on a dataset of "
                                 f"home country {home}, the state's is {state}")  # fmt: skip
        return runtime

    def _swap(self, runtime: ModelRuntime) -> None:
        """Serve `runtime` from the next request on (runs on the event loop's thread)."""
        if self.shadow:
            self.scorer.shadow = runtime
        else:
            self.scorer.runtime = runtime
            self.metrics.serving(tuple(runtime.identity))
        # The new model lives as long as the process: out of the collector's sight, as at
        # start-up (docs/decisions.md, "A process that serves keeps its latency flat").
        gc.freeze()


def _result(
    outcome: Literal["loaded", "unchanged", "refused"], version: str, detail: str
) -> ReloadResult:
    return ReloadResult(outcome=outcome, model_version=version, detail=detail)


async def stop(task: asyncio.Task[None] | None) -> None:
    """Cancel the periodic check and wait for it."""
    if task is None:
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
