"""Scoring one document: its past from the online state, the training features, the model.

The features are computed by `feature_columns`, the function `build_features` runs for
training, on the document's lines with what the online state keeps per key (`store.Lookup`),
inside one store transaction (read, score, write), so what is served equals what the batch
pipeline computes over what the state held (the parity tests hold it to that).
"""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

import numpy as np
import pandas as pd

from riskscore.config import Settings
from riskscore.errors import ConfigError, DocumentConflictError, InvalidOutcomeError
from riskscore.features import FeatureMatrix, feature_columns
from riskscore.features.columns import Columns, columns_of_rows
from riskscore.features.lines import prepare
from riskscore.schema import Document, Firm, Outcome, content_hash, document_rows
from riskscore.service.rules import rules_triggered
from riskscore.service.runtime import ModelRuntime
from riskscore.service.schemas import Channel, ItemScore, ScoreResponse
from riskscore.service.selection import RandomSelection
from riskscore.store import Answer, Lookup, Store

_CLOCK_SKEW = timedelta(minutes=5)  # how far ahead of this clock a caller's clock may run


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
        model, state = runtime.model.stats.home_country, store.home_country()
        if model != state:
            raise ConfigError(f"the model was trained on a dataset of home country {model}, "
                              f"the online state holds one of {state}")  # fmt: skip
        self.runtime, self.store, self.settings = runtime, store, settings
        self.selection = RandomSelection.of(settings)

    def score(self, document: Document, caller: str = "", request_id: str = "") -> Scored:
        """Score a document, or answer what was stored for it if it was scored before (the
        same content again; other content under the same id is a DocumentConflictError).

        One model runtime serves the whole request, even if a reload swaps it meanwhile.
        """
        clock, runtime = _Stages(), self.runtime
        digest = content_hash(document)
        rows = document_rows(document)
        extras = runtime.extra_columns(document, rows)
        cols = columns_of_rows(rows) | extras
        new = cols | prepare(cols)
        with self.store.scoring(document.document_id, _parties(new)) as scoring:
            stored = scoring.answer()
            if stored is not None:
                if stored.content_hash and stored.content_hash != digest:
                    raise DocumentConflictError(
                        "this document_id was answered for a document of other content"
                    )
                return _stored(stored.body, clock.lap("stored"))
            clock.lap("frame")
            lookup = scoring.past(new)
            clock.lap("history")
            features, stored_columns = self.features(new, lookup, runtime)
            clock.lap("features")
            late = lookup.beyond_horizon
            answer, vectors = self._answer(document, new, features, runtime, clock, late)
            answer.request_id = request_id or uuid.uuid4().hex
            body = answer.model_dump_json()
            clock.lap("json")
            scoring.write(rows, stored_columns, Answer(document.document_id, body, vectors,
                                                       digest, late, caller))  # fmt: skip
        spent = clock.lap("state_write")
        return Scored(body, spent, answer.channel, answer.selected_at_random,
                      answer.model_version, new=True)  # fmt: skip

    def features(
        self, new: Columns, lookup: Lookup, runtime: ModelRuntime | None = None
    ) -> FeatureMatrix:
        """Features of the new document's lines (and what the chain pass made of them) from
        what the state keeps of their past."""
        stats = (runtime or self.runtime).model.stats
        return feature_columns(new, stats, lookup.register, None, None, lookup.past)

    def _answer(
        self,
        document: Document,
        new: Columns,
        features: np.ndarray,
        runtime: ModelRuntime,
        clock: _Stages,
        late: bool,
    ) -> tuple[ScoreResponse, str]:
        """The answer, and the feature vectors as stored (JSON)."""
        names = runtime.model.feature_names
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
            late=late,
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
        vectors = json.dumps([[None if v != v else v for v in row] for row in features.tolist()])
        return answer, vectors

    def register_firms(self, firms: list[Firm]) -> int:
        """Insert or update register entries: documents scored after see them."""
        frame = pd.DataFrame([f.model_dump() for f in firms])
        frame["registered_at"] = pd.to_datetime(frame["registered_at"], utc=True)
        self.store.set_firms(frame)
        return len(frame)

    def record_outcomes(self, outcomes: list[Outcome]) -> int:
        """Store inspection results; every one must name a scored document line and be
        possible (inspected after the document was issued, recorded no later than now), or
        none is stored (`UnknownDocumentError`, `InvalidOutcomeError`)."""
        latest = datetime.now(UTC) + _CLOCK_SKEW
        future = [(i, "recorded_at", "is in the future") for i, outcome in enumerate(outcomes)
                  if outcome.recorded_at > latest]  # fmt: skip
        if future:
            raise InvalidOutcomeError(future)
        frame = pd.DataFrame([o.model_dump() for o in outcomes])
        for moment in ("inspected_at", "recorded_at"):  # offsets may differ between outcomes
            frame[moment] = pd.to_datetime(frame[moment], utc=True)
        frame["finding"] = frame["finding"].map(lambda f: None if f is None else str(f))
        frame["selected_by"] = frame["selected_by"].map(str)
        self.store.add_outcomes(frame)
        return len(frame)


def _parties(new: Columns) -> set[str]:
    """Whose state a document reads and writes: its lines' consignors, consignees and
    subjects (the declarant of a transit is its subject); never a declarant who is neither,
    such as a customs broker."""
    return {*new["consignor_id"], *new["consignee_id"], *new["subject_id"]}


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
