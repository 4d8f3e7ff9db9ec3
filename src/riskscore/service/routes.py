"""Routes: parse, score, answer. Scoring runs off the event loop, so that the loop goes on
accepting, shedding and answering health checks while a document is scored: on the scorer's
one worker thread for a SQLite state (one writer), on the thread pool for a PostgreSQL state,
where one document's waits on the database let others run (docs/decisions.md, "Scoring routes
are async def")."""

from __future__ import annotations

import asyncio
import functools
import json
import logging
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Path, Request, Response
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool

from riskscore import __version__
from riskscore.errors import ConflictError, NotFoundError, RiskscoreError
from riskscore.schema import ID_PATTERN, Document
from riskscore.service.auth import Caller, Role
from riskscore.service.deps import (
    AdminCaller,
    AnswerCaller,
    CallerDep,
    MetricsDep,
    OutcomesCaller,
    RegisterCaller,
    ScoreCaller,
    ScorerDep,
)
from riskscore.service.metrics import Metrics
from riskscore.service.problems import invalid, of_error, problem, responses
from riskscore.service.schemas import (
    MAX_BATCH,
    BatchRequest,
    BatchResponse,
    FirmBatch,
    FirmReceipt,
    OutcomeBatch,
    OutcomeReceipt,
    ReloadResult,
    ScoreResponse,
    VersionInfo,
)
from riskscore.service.scoring import Scored, Scorer

_log = logging.getLogger(__name__)
_T = TypeVar("_T")
router = APIRouter()
_POST = responses(400, 401, 403, 405, 413, 422, 503)
_SCORE = responses(400, 401, 403, 405, 409, 413, 422, 503)  # 409: reused id, other content


@router.post("/v1/score", response_model=ScoreResponse, responses=_SCORE,
             summary="Score one document (role: score)")  # fmt: skip
async def score(
    document: Document,
    scorer: ScorerDep,
    caller: ScoreCaller,
    metrics: MetricsDep,
    request: Request,
) -> Response:
    """Score a DT, SNT or ESF; the same document_id scored again gets the same answer."""
    scored = await _scored(scorer, document, caller, request.state.request_id)
    _note(request, scored, metrics, document.document_id)
    timing = ", ".join(f"{stage};dur={ms:.2f}" for stage, ms in scored.stages.items())
    shadow = None if scored.shadow is None else BackgroundTask(_shadow, scorer, [scored], metrics)
    return Response(scored.body, media_type="application/json",
                    headers={"Server-Timing": timing}, background=shadow)  # fmt: skip


@router.post("/v1/score/batch", response_model=BatchResponse, responses=_POST,
             summary=f"Score up to {MAX_BATCH} documents in order (role: score)")  # fmt: skip
async def score_batch(
    batch: BatchRequest,
    scorer: ScorerDep,
    caller: ScoreCaller,
    metrics: MetricsDep,
    request: Request,
) -> Response:
    """Each document is checked and scored on its own, in the order given: one answer or one
    problem per document. Other requests are served between two documents."""
    results, shadows = [], []
    for index, raw in enumerate(batch.documents):
        if index:
            await asyncio.sleep(0)
        text, scored = await _one(index, raw, scorer, caller,
                                  f"{request.state.request_id}-{index}", metrics)  # fmt: skip
        results.append(text)
        if scored is not None and scored.shadow is not None:
            shadows.append(scored)
    later = BackgroundTask(_shadow, scorer, shadows, metrics) if shadows else None
    return Response('{"results":[' + ",".join(results) + "]}", media_type="application/json",
                    background=later)  # fmt: skip


async def _scored(scorer: Scorer, document: Document, caller: Caller, request_id: str) -> Scored:
    """Score off the event loop, so that it goes on accepting, refusing and answering."""
    return await _off_loop(scorer, scorer.score, document, caller, request_id)


async def _off_loop(scorer: Scorer, work: Callable[..., _T], *args: Any) -> _T:
    """Run scoring work on a worker thread: any of the pool's where the store runs
    transactions in parallel (PostgreSQL), else the scorer's one thread (SQLite: one writer),
    in the order asked."""
    if scorer.store.parallel:
        return await run_in_threadpool(work, *args)
    return await asyncio.get_running_loop().run_in_executor(
        scorer.serial, functools.partial(work, *args)
    )


async def _shadow(scorer: Scorer, done: list[Scored], metrics: Metrics) -> None:
    """The challenger's turn, after the answer was sent, off the event loop as scoring is. A
    failure is logged; the caller has its answer."""
    for scored in done:
        assert scored.shadow is not None
        try:
            shadowed = await _off_loop(scorer, scorer.shadow_score, scored.shadow)
        except Exception:
            _log.exception("shadow scoring failed")
            metrics.shadow_failed.inc()
            continue
        if shadowed is not None:
            metrics.shadowed(shadowed.channel, shadowed.agrees)


async def _one(
    index: int, raw: dict[str, Any], scorer: ScorerDep, caller: Caller, request_id: str,
    metrics: MetricsDep,
) -> tuple[str, Scored | None]:  # fmt: skip
    """One document of a batch as its result, in JSON (and what scoring it gave)."""
    try:
        document = Document.model_validate(raw)
        scored = await _scored(scorer, document, caller, request_id)
    except ValidationError as error:
        return _failed(index, invalid(error.errors())), None
    except RiskscoreError as error:
        return _failed(index, of_error(error)), None
    _count(scored, metrics)
    return f'{{"index":{index},"status":200,"answer":{scored.body}}}', scored


def _failed(index: int, found: dict[str, Any]) -> str:
    return json.dumps({"index": index, "status": found["status"], "problem": found})


@router.get("/v1/answers/{document_id}", response_model=ScoreResponse,
            responses=responses(401, 403, 404, 405, 422, 503),
            summary="The stored answer to a scored document (role: read, or score for its "
            "own documents)")  # fmt: skip
async def answer(
    document_id: Annotated[str, Path(pattern=ID_PATTERN, description="the document's id")],
    scorer: ScorerDep,
    caller: AnswerCaller,
) -> Response:
    """The decision as it was sent. A `score` caller sees only the documents it sent."""
    found = scorer.store.answer(document_id)
    mine = Role.READ in caller.roles or scorer.store.caller_of(document_id) == caller.name
    if found is None or not mine:
        raise NotFoundError("no answer to that document for this caller")
    return Response(found.body, media_type="application/json")


@router.post("/v1/outcomes", response_model=OutcomeReceipt, responses=_SCORE,
             summary="Record inspection results (role: outcomes)")  # fmt: skip
async def outcomes(
    batch: OutcomeBatch, scorer: ScorerDep, caller: OutcomesCaller, request: Request
) -> OutcomeReceipt:
    """Results of inspections of scored documents; they count from their `recorded_at` on."""
    accepted = await _off_loop(scorer, scorer.record_outcomes, batch.outcomes, caller,
                               request.state.request_id)  # fmt: skip
    return OutcomeReceipt(accepted=accepted)


@router.post("/v1/firms", response_model=FirmReceipt, responses=_POST,
             summary="Register or update firms (role: register)")  # fmt: skip
async def firms(batch: FirmBatch, scorer: ScorerDep, caller: RegisterCaller) -> FirmReceipt:
    """Entries of the firms register (upserted by firm_id); documents scored afterwards read
    them, so a firm registered after the state was loaded does not score as unknown."""
    return FirmReceipt(accepted=await _off_loop(scorer, scorer.register_firms, batch.firms))


@router.post("/v1/admin/reload", response_model=ReloadResult,
             responses=responses(401, 403, 405, 409, 503),
             summary="Load the model the alias names now (role: admin)")  # fmt: skip
async def reload(request: Request, caller: AdminCaller) -> ReloadResult:
    """What every process also does on its own every `reload_every_seconds`: this process
    checks the alias and swaps in a new model that passes its checks."""
    reloader = request.app.state.reloader
    if reloader is None:
        raise ConflictError("this process serves a model it was given at start-up, not one "
                            "from the registry")  # fmt: skip
    result: ReloadResult = await reloader.check()
    return result


@router.get("/livez", summary="The process is up (no key)")
async def livez() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="Model loaded and state store reachable (no key)",
            responses=responses(503))  # fmt: skip
async def readyz(scorer: ScorerDep) -> Response:
    if not scorer.store.ping():
        return problem(503, "Not ready", "the online state does not answer")
    return JSONResponse({"status": "ready"})


@router.get("/version", response_model=VersionInfo, responses=responses(401, 405),
            summary="Service and model versions (any key)")  # fmt: skip
async def version(scorer: ScorerDep, caller: CallerDep) -> VersionInfo:
    identity = scorer.runtime.identity
    return VersionInfo(
        service=__version__,
        model_name=identity.name,
        model_version=identity.version,
        model_alias=identity.alias,
        model_run_id=identity.run_id,
        model_fingerprint=identity.fingerprint,
        features=len(scorer.runtime.model.feature_names),
    )


def _note(request: Request, scored: Scored, metrics: MetricsDep, document_id: str) -> None:
    """What the access log and the metrics record of a decision."""
    state = request.state
    state.channel, state.model_version, state.document_id = (
        scored.channel, scored.model_version, document_id)  # fmt: skip
    _count(scored, metrics)


def _count(scored: Scored, metrics: MetricsDep) -> None:
    """Metrics of a new decision, or of a degraded answer."""
    if scored.degraded is not None:
        metrics.degraded.labels(scored.degraded).inc()
        metrics.channels.labels(scored.channel).inc()
    elif scored.new:
        metrics.decided(scored.channel, scored.drawn, scored.stages)
