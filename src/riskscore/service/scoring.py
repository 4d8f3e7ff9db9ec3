"""Scoring one document: history from the online state, the training features, the model.

The features are computed by `feature_columns`, the function `build_features` runs for
training, on the document together with its parties' history, inside one store transaction
(read, score, write), so what is served equals what the batch pipeline computes for the same
document (the parity test holds it to that).
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from datetime import UTC, datetime
from typing import NamedTuple

import numpy as np
import pandas as pd

from riskscore.config import Settings
from riskscore.features import FeatureMatrix, Register, feature_columns
from riskscore.features.columns import Columns, columns_of_rows
from riskscore.schema import Document, Outcome, document_rows
from riskscore.service.rules import rules_triggered
from riskscore.service.runtime import ModelRuntime
from riskscore.service.schemas import ItemScore, ScoreResponse
from riskscore.store import Answer, History, Store


class Scored(NamedTuple):
    """A served answer and where its time went."""

    body: str  # the answer as JSON
    stages: dict[str, float]  # milliseconds per stage, in order (for Server-Timing)


class Scorer:
    """Scores documents against the online state with one model runtime."""

    def __init__(self, runtime: ModelRuntime, store: Store, settings: Settings) -> None:
        self.runtime, self.store, self.settings = runtime, store, settings
        firms = store.firms()
        self.register = Register(firms) if len(firms) else None
        store.warm()

    def score(self, document: Document) -> Scored:
        """Score a document, or answer what was stored for it if it was scored before."""
        clock = _Stages()
        with self.store.scoring(document.document_id) as scoring:
            stored = scoring.answer()
            if stored is not None:
                return Scored(stored, clock.lap("stored"))
            rows = document_rows(document)
            extras = self.runtime.extra_columns(document, rows)
            new = self.store.prepared(columns_of_rows(rows))
            clock.lap("frame")
            history = _with_extras(scoring.history(_parties(new), new), extras)
            clock.lap("history")
            features, lots = self.features(history)
            clock.lap("features")
            body, vectors = self._answer(document, new, features, clock)
            scoring.write(rows, lots, Answer(document.document_id, body, vectors))
        return Scored(body, clock.lap("state_write"))

    def features(self, history: History) -> FeatureMatrix:
        """Features and STORED columns of the new document's lines over their history."""
        stats = self.runtime.model.stats
        return feature_columns(history.lines, stats, self.register, history.outcomes,
                               history.wanted)  # fmt: skip

    def _answer(
        self, document: Document, new: Columns, features: np.ndarray, clock: _Stages
    ) -> tuple[str, str]:
        """The answer as JSON, and the feature vectors as stored (JSON)."""
        runtime = self.runtime
        names = runtime.model.feature_names
        scores = runtime.score(features)
        clock.lap("lightgbm")
        top = float(scores.max())
        random = _at_random(document.document_id, self.settings.random_share)
        channel = "red" if random else runtime.channel(top)
        reasons = runtime.reasons(features) if channel != "green" else [[] for _ in scores]
        clock.lap("reasons")
        answer = ScoreResponse(
            document_id=document.document_id,
            request_id=uuid.uuid4().hex,
            score=top,
            channel=channel,
            selected_at_random=random,
            items=[
                ItemScore(item_no=int(n), score=float(s), reasons=r)
                for n, s, r in zip(new["item_no"], scores, reasons, strict=True)
            ],
            rules_triggered=rules_triggered(new, dict(zip(names, features.T, strict=True))),
            unknown_codes=runtime.unknown_codes(document),
            model_name=runtime.identity.name,
            model_version=runtime.identity.version,
            model_alias=runtime.identity.alias,
            scored_at=datetime.now(UTC),
        )
        body = answer.model_dump_json()
        clock.lap("json")
        vectors = json.dumps([[None if v != v else v for v in row] for row in features.tolist()])
        return body, vectors

    def record_outcomes(self, outcomes: list[Outcome]) -> int:
        """Store inspection results; every one must name a scored document line, or none is
        stored (`UnknownDocumentError`)."""
        frame = pd.DataFrame([o.model_dump() for o in outcomes])
        frame["finding"] = frame["finding"].map(lambda f: None if f is None else str(f))
        frame["selected_by"] = frame["selected_by"].map(str)
        self.store.add_outcomes(frame)
        return len(frame)


def _with_extras(history: History, extras: Columns) -> History:
    """The history with the new document's extra columns (the stored lines' are not read:
    extras describe the line itself, and the state's mirror does not keep them)."""
    if not extras:
        return history
    count = len(history.lines["t"])
    lines = dict(history.lines)
    for name, values in extras.items():
        column = np.full(count, np.nan) if values.dtype == float else np.full(count, None, object)
        column[history.wanted] = values
        lines[name] = column
    return history._replace(lines=lines)


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


def _at_random(document_id: str, share: float) -> bool:
    """Whether this document is one of the `share` sent red at random; the same id always
    gives the same answer, so a repeated document is not re-drawn."""
    digest = hashlib.sha256(document_id.encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < share
