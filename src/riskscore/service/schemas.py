"""What the API answers. Requests are the schema's own `Document` and `Outcome` models."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from riskscore.schema import Firm, Outcome


class Reason(BaseModel):
    """One feature that pushed an item's score, in words."""

    feature: str
    value: float | str | None
    contribution: float = Field(description="push on the score in log-odds; positive raises it")
    sentence: str


class ItemScore(BaseModel):
    item_no: int
    score: float
    reasons: list[Reason] = Field(description="top five pushes; given for yellow and red documents")


class UnknownCode(BaseModel):
    """A well-formed code the model has never seen: scored as an unseen category."""

    field: str
    value: str
    reason: str


class ScoreResponse(BaseModel):
    document_id: str
    request_id: str
    score: float = Field(description="the highest item score")
    channel: str = Field(description="green, yellow or red")
    selected_at_random: bool = Field(description="sent red at random to keep labels unbiased")
    late: bool = Field(
        False,
        description="issued before its parties' latest stored documents by more than the "
        "state's lateness horizon: scored with what is known, left for the batch to re-trace",
    )
    items: list[ItemScore]
    rules_triggered: list[str]
    unknown_codes: list[UnknownCode]
    model_name: str
    model_version: str
    model_alias: str
    scored_at: datetime


class OutcomeBatch(BaseModel):
    outcomes: list[Outcome] = Field(min_length=1, max_length=10_000)


class OutcomeReceipt(BaseModel):
    accepted: int


class FirmBatch(BaseModel):
    """Register entries to insert or update (by firm_id)."""

    firms: list[Firm] = Field(min_length=1, max_length=1_000)


class FirmReceipt(BaseModel):
    accepted: int


class VersionInfo(BaseModel):
    service: str
    model_name: str
    model_version: str
    model_alias: str
    features: int
