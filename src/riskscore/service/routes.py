"""Routes: parse, score, answer. Scoring is `async def`: one event-loop thread serialises
the process's work on the online state (docs/decisions.md, "Scoring routes are async def")."""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse

from riskscore import __version__
from riskscore.schema import Document
from riskscore.service.deps import ScorerDep
from riskscore.service.problems import problem
from riskscore.service.schemas import (
    FirmBatch,
    FirmReceipt,
    OutcomeBatch,
    OutcomeReceipt,
    ScoreResponse,
    VersionInfo,
)

router = APIRouter()


@router.post("/v1/score", response_model=ScoreResponse, summary="Score one document")
async def score(document: Document, scorer: ScorerDep) -> Response:
    """Score a DT, SNT or ESF; the same document_id scored again gets the same answer."""
    body, spent = scorer.score(document)
    timing = ", ".join(f"{stage};dur={ms:.2f}" for stage, ms in spent.items())
    return Response(body, media_type="application/json", headers={"Server-Timing": timing})


@router.post("/v1/outcomes", response_model=OutcomeReceipt, summary="Record inspection results")
async def outcomes(batch: OutcomeBatch, scorer: ScorerDep) -> OutcomeReceipt:
    """Results of inspections of scored documents; they count from their `recorded_at` on."""
    return OutcomeReceipt(accepted=scorer.record_outcomes(batch.outcomes))


@router.post("/v1/firms", response_model=FirmReceipt, summary="Register or update firms")
async def firms(batch: FirmBatch, scorer: ScorerDep) -> FirmReceipt:
    """Entries of the firms register (upserted by firm_id); documents scored afterwards read
    them, so a firm registered after the state was loaded does not score as unknown."""
    return FirmReceipt(accepted=scorer.register_firms(batch.firms))


@router.get("/livez", summary="The process is up")
async def livez() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="Model loaded and state store reachable")
async def readyz(scorer: ScorerDep) -> Response:
    if not scorer.store.ping():
        return problem(503, "Not ready", "the online state does not answer")
    return JSONResponse({"status": "ready"})


@router.get("/version", response_model=VersionInfo, summary="Service and model versions")
async def version(scorer: ScorerDep) -> VersionInfo:
    name, version, alias = scorer.runtime.identity
    return VersionInfo(
        service=__version__,
        model_name=name,
        model_version=version,
        model_alias=alias,
        features=len(scorer.runtime.model.feature_names),
    )
