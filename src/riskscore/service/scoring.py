"""Scoring one document: history from the online state, the training features, the model.

The features are computed by `feature_columns`, the function `build_features` runs for
training, on the document together with its parties' history, inside one store transaction
(read, score, write), so what is served equals what the batch pipeline computes for the same
document (the parity test holds it to that).
"""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime
from typing import NamedTuple

import numpy as np
import pandas as pd

from riskscore.config import Settings
from riskscore.features import FEATURE_NAMES, FeatureMatrix, Register, feature_columns
from riskscore.features.columns import Columns, columns_of_rows
from riskscore.schema import Document, Outcome, document_rows
from riskscore.service.rules import rules_triggered
from riskscore.service.runtime import ModelRuntime
from riskscore.service.schemas import Channel, ItemScore, ScoreResponse
from riskscore.service.selection import RandomSelection
from riskscore.store import Answer, History, Store


class Scored(NamedTuple):
    """A served answer, where its time went and what it decided (for logs and metrics)."""

    body: str  # the answer as JSON
    stages: dict[str, float]  # milliseconds per stage, in order (for Server-Timing)
    channel: str
    drawn: bool  # sent red at random
    model_version: str
    new: bool  # False when the stored answer of an earlier request came back


class Scorer:
    """Scores documents against the online state with one model runtime."""

    def __init__(self, runtime: ModelRuntime, store: Store, settings: Settings) -> None:
        self.runtime, self.store, self.settings = runtime, store, settings
        self.selection = RandomSelection.of(settings)
        firms = store.firms()
        self.register = Register(firms) if len(firms) else None
        store.warm()

    def score(self, document: Document, caller: str = "", request_id: str = "") -> Scored:
        """Score a document, or answer what was stored for it if it was scored before.

        One model runtime serves the whole request, even if a reload swaps it meanwhile.
        """
        clock, runtime = _Stages(), self.runtime
        with self.store.scoring(document.document_id) as scoring:
            stored = scoring.answer()
            if stored is not None:
                return _stored(stored, clock.lap("stored"))
            rows = document_rows(document)
            new = self.store.prepared(columns_of_rows(rows))
            clock.lap("frame")
            history = scoring.history(_parties(new), new)
            clock.lap("history")
            features, lots = self.features(history, runtime)
            clock.lap("features")
            answer, vectors = self._answer(document, new, features, runtime, clock)
            answer.request_id = request_id or uuid.uuid4().hex
            body = answer.model_dump_json()
            clock.lap("json")
            scoring.write(rows, lots, Answer(document.document_id, body, vectors, caller))
        spent = clock.lap("state_write")
        return Scored(body, spent, answer.channel, answer.selected_at_random,
                      answer.model_version, new=True)  # fmt: skip

    def features(self, history: History, runtime: ModelRuntime | None = None) -> FeatureMatrix:
        """Features and STORED columns of the new document's lines over their history."""
        stats = (runtime or self.runtime).model.stats
        return feature_columns(history.lines, stats, self.register, history.outcomes,
                               history.wanted)  # fmt: skip

    def _answer(
        self,
        document: Document,
        new: Columns,
        features: np.ndarray,
        runtime: ModelRuntime,
        clock: _Stages,
    ) -> tuple[ScoreResponse, str]:
        """The answer, and the feature vectors as stored (JSON)."""
        scores = runtime.score(features)
        clock.lap("lightgbm")
        top = float(scores.max())
        random = self.selection.drawn(document.document_id)
        channel = Channel.RED if random else Channel(runtime.channel(top))
        reasons = runtime.reasons(features) if channel != "green" else [[] for _ in scores]
        clock.lap("reasons")
        answer = ScoreResponse(
            document_id=document.document_id,
            request_id="",
            score=top,
            channel=channel,
            selected_at_random=random,
            items=[
                ItemScore(item_no=int(n), score=float(s), reasons=r)
                for n, s, r in zip(new["item_no"], scores, reasons, strict=True)
            ],
            rules_triggered=rules_triggered(new, dict(zip(FEATURE_NAMES, features.T, strict=True))),
            unknown_codes=runtime.unknown_codes(document),
            model_name=runtime.identity.name,
            model_version=runtime.identity.version,
            model_alias=runtime.identity.alias,
            scored_at=datetime.now(UTC),
        )
        vectors = json.dumps([[None if v != v else v for v in row] for row in features.tolist()])
        return answer, vectors

    def record_outcomes(self, outcomes: list[Outcome]) -> int:
        """Store inspection results; every one must name a scored document line, or none is
        stored (`UnknownDocumentError`)."""
        frame = pd.DataFrame([o.model_dump() for o in outcomes])
        frame["finding"] = frame["finding"].map(lambda f: None if f is None else str(f))
        frame["selected_by"] = frame["selected_by"].map(str)
        self.store.add_outcomes(frame)
        return len(frame)


def _parties(new: Columns) -> set[str]:
    """Whose history a document's features read: every feature of a line is about its subject
    or its partner (a declarant who is neither, such as a customs broker, adds nothing)."""
    return {*new["subject_id"], *new["partner_id"]}


class _Stages:
    """Milliseconds spent in each stage of one request, in order."""

    def __init__(self) -> None:
        self.spent: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, stage: str) -> dict[str, float]:
        now = time.perf_counter()
        self.spent[stage] = (now - self._last) * 1_000
        self._last = now
        return self.spent


def _stored(body: str, stages: dict[str, float]) -> Scored:
    """A stored answer as sent again, with what it decided."""
    decided = json.loads(body)
    return Scored(body, stages, decided["channel"], decided["selected_at_random"],
                  decided["model_version"], new=False)  # fmt: skip
