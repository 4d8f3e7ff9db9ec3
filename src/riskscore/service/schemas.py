"""What the API answers. Requests are the schema's own `Document` and `Outcome` models.

Every field carries a description and an example, so the OpenAPI document is the contract an
integrator reads; the limits (`MAX_OUTCOMES`, `MAX_BATCH`) fit the default body limit.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, Field

from riskscore.schema import Firm, Outcome
from riskscore.service.problems import Problem

# Outcomes in one batch: checked and stored in ~17-21 ms on the event loop (2,000: ~55 ms),
# and 500 of the longest the schema allows take ~150 KB, well inside the 1 MB body limit
# (docs/decisions.md, "Bounded work").
MAX_OUTCOMES = 500
# Documents in one batch: scored one after another, ~7 ms each.
MAX_BATCH = 100


class Channel(StrEnum):
    """The inspection channel, as in ASTANA-1: green passes, yellow checks documents, red
    inspects the goods."""

    GREEN = "green"
    YELLOW = "yellow"
    RED = "red"


class Reason(BaseModel):
    """One feature that pushed an item's score, in words."""

    feature: str = Field(description="the feature's name (features/catalogue.md)",
                         examples=["firm_fast_reexport_share"])  # fmt: skip
    value: float | str | None = Field(
        description="its value for this line (a category as its code); null when unknown",
        examples=[0.8333],
    )
    contribution: float = Field(description="push on the score in log-odds; positive raises it",
                                examples=[0.63])  # fmt: skip
    sentence: str = Field(
        description="the feature, its value and its push in plain words",
        examples=["Share of the firm's earlier traced exports to EAEU partners that left "
                  "within 7 days of arriving: 0.8333 (share); this raises the risk."],
    )  # fmt: skip


class ItemScore(BaseModel):
    """The score of one line of the document."""

    item_no: int = Field(description="the line's item_no", examples=[1])
    score: float | None = Field(
        ge=0,
        le=1,
        examples=[0.6356],
        description="the line's risk score (null in a degraded answer)",
    )
    reasons: list[Reason] = Field(description="top five pushes; given for yellow and red documents")


class UnknownCode(BaseModel):
    """A well-formed code the model has never seen: scored as an unseen category."""

    field: str = Field(description="where the code is", examples=["items[0].hs_code"])
    value: str = Field(description="the code", examples=["9999999999"])
    reason: str = Field(
        description="why it counts as unknown",
        examples=["never seen in training; scored as an unseen category"],
    )


class ScoreResponse(BaseModel):
    """The decision on one document."""

    document_id: str = Field(description="the document scored",
                             examples=["KZSNT-250103-0090000001"])  # fmt: skip
    request_id: str = Field(
        description="names this decision: the request that made it (a repeated document "
        "answers the original decision)",
        examples=["1d661d7255274e2497b8899940c50aef"],
    )
    score: float | None = Field(
        ge=0,
        le=1,
        examples=[0.6356],
        description="the highest item score (null in a degraded answer: no model score)",
    )
    channel: Channel = Field(description="green, yellow or red; red for a random draw too",
                             examples=["red"])  # fmt: skip
    selected_at_random: bool = Field(description="sent red at random to keep labels unbiased",
                                     examples=[False])  # fmt: skip
    late: bool = Field(
        False,
        description="issued before its parties' latest stored documents by more than the "
        "state's lateness horizon: scored with what is known, left for the batch to re-trace",
        examples=[False],
    )
    degraded: bool = Field(
        False,
        description="the model or the online state failed: the channel comes from the legacy "
        "rules and the random draw alone (CHPL goods bound for Russia or another EAEU partner "
        "go red), and the answer is not stored, so the document is scored again when sent "
        "again",
        examples=[False],
    )
    items: list[ItemScore] = Field(description="one per line, in the document's order")
    rules_triggered: list[str] = Field(
        description="the legacy selectivity rules the document triggers",
        examples=[["CHPL goods bound for an EAEU partner"]],
    )
    unknown_codes: list[UnknownCode] = Field(description="codes the model never saw")
    model_name: str = Field(description="registered model name", examples=["reexport-risk"])
    model_version: str = Field(description="registered model version", examples=["1"])
    model_alias: str = Field(description="the alias it was loaded by", examples=["champion"])
    scored_at: datetime = Field(description="when the decision was made (UTC)",
                                examples=["2026-11-21T11:00:44.382741Z"])  # fmt: skip


class OutcomeBatch(BaseModel):
    """Inspection results of scored document lines, stored all or none."""

    outcomes: list[Outcome] = Field(min_length=1, max_length=MAX_OUTCOMES,
                                    description=f"at most {MAX_OUTCOMES:,}")  # fmt: skip


class OutcomeReceipt(BaseModel):
    accepted: int = Field(description="outcomes stored", examples=[1])


class BatchRequest(BaseModel):
    """Documents to score one after another, in the order given."""

    documents: list[dict[str, Any]] = Field(
        min_length=1, max_length=MAX_BATCH, examples=[[{"document_id": "KZESF-1", "...": "..."}]],
        description=f"at most {MAX_BATCH} documents, each as POST /v1/score takes it (the "
        "Document schema); each is checked on its own, so an invalid one gets a problem in "
        "its place and the others are scored",
    )  # fmt: skip


class BatchResult(BaseModel):
    """What one document of a batch got: its answer, or the problem that stopped it."""

    index: int = Field(description="the document's position in the batch", examples=[0])
    status: int = Field(description="the status POST /v1/score would have answered",
                        examples=[200])  # fmt: skip
    answer: ScoreResponse | None = Field(None, description="the decision, when status is 200")
    problem: Problem | None = Field(None, description="the problem, when status is not 200")


class BatchResponse(BaseModel):
    results: list[BatchResult] = Field(description="one per document, in the batch's order")


class FirmBatch(BaseModel):
    """Register entries to insert or update (by firm_id)."""

    firms: list[Firm] = Field(min_length=1, max_length=1_000, description="at most 1,000")


class FirmReceipt(BaseModel):
    accepted: int = Field(description="register entries stored", examples=[1])


class VersionInfo(BaseModel):
    """What this process serves."""

    service: str = Field(description="riskscore's version", examples=["0.1.0"])
    model_name: str = Field(description="registered model name", examples=["reexport-risk"])
    model_version: str = Field(description="registered model version", examples=["3"])
    model_alias: str = Field(description="the alias it was loaded by", examples=["champion"])
    model_run_id: str = Field(description="the MLflow run that trained it",
                              examples=["5f0c2a9b6e8d4c1fa3b2d7e6c5b4a392"])  # fmt: skip
    model_fingerprint: str = Field(
        description="SHA-256 of the booster, statistics, thresholds and feature list: two "
        "stores' 'version 1' differ here",
        examples=["9c1e5b0a4f3d2e1c0b9a8f7e6d5c4b3a2918f7e6d5c4b3a29180f7e6d5c4b3a2"],
    )
    features: int = Field(description="features the model reads", examples=[64])


class ReloadResult(BaseModel):
    """What a reload check did."""

    outcome: Literal["loaded", "unchanged", "refused"] = Field(
        description="loaded: a new model serves now; unchanged: the alias names the model "
        "served; refused: the new model failed its checks and the old one stays",
        examples=["loaded"],
    )
    model_version: str = Field(description="the version served after the check", examples=["3"])
    detail: str = Field(description="why, in words", examples=["reexport-risk@champion is 3"])
