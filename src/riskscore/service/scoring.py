"""Scoring one document: its past from the online state, the training features, the model.

The features are computed by `feature_columns`, the function `build_features` runs for
training, on the document's lines with what the online state keeps per key (`store.Lookup`),
inside one store transaction (read, score, write), so what is served equals what the batch
pipeline computes over what the state held (the parity tests hold it to that).
"""

from __future__ import annotations

import hashlib
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
from riskscore.service.schemas import ItemScore, ScoreResponse
from riskscore.store import Answer, Lookup, Store

_CLOCK_SKEW = timedelta(minutes=5)  # how far ahead of this clock a caller's clock may run


class Scored(NamedTuple):
    """A served answer and where its time went."""

    body: str  # the answer as JSON
    stages: dict[str, float]  # milliseconds per stage, in order (for Server-Timing)


class Scorer:
    """Scores documents against the online state with one model runtime."""

    def __init__(self, runtime: ModelRuntime, store: Store, settings: Settings) -> None:
        model, state = runtime.model.stats.home_country, store.home_country()
        if model != state:
            raise ConfigError(f"the model was trained on a dataset of home country {model}, "
                              f"the online state holds one of {state}")  # fmt: skip
        self.runtime, self.store, self.settings = runtime, store, settings

    def score(self, document: Document) -> Scored:
        """Score a document, or answer what was stored for it if it was scored before (the
        same content again; other content under the same id is a DocumentConflictError)."""
        clock = _Stages()
        digest = content_hash(document)
        rows = document_rows(document)
        extras = self.runtime.extra_columns(document, rows)
        cols = columns_of_rows(rows) | extras
        new = cols | prepare(cols)
        with self.store.scoring(document.document_id, _parties(new)) as scoring:
            stored = scoring.answer()
            if stored is not None:
                if stored.content_hash and stored.content_hash != digest:
                    raise DocumentConflictError(
                        "this document_id was answered for a document of other content"
                    )
                return Scored(stored.body, clock.lap("stored"))
            clock.lap("frame")
            lookup = scoring.past(new)
            clock.lap("history")
            features, stored_columns = self.features(new, lookup)
            clock.lap("features")
            late = lookup.beyond_horizon
            body, vectors = self._answer(document, new, features, clock, late)
            scoring.write(rows, stored_columns, Answer(document.document_id, body, vectors,
                                                       digest, late))  # fmt: skip
        return Scored(body, clock.lap("state_write"))

    def features(self, new: Columns, lookup: Lookup) -> FeatureMatrix:
        """Features of the new document's lines (and what the chain pass made of them) from
        what the state keeps of their past."""
        stats = self.runtime.model.stats
        return feature_columns(new, stats, lookup.register, None, None, lookup.past)

    def _answer(
        self, document: Document, new: Columns, features: np.ndarray, clock: _Stages, late: bool
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
        body = answer.model_dump_json()
        clock.lap("json")
        vectors = json.dumps([[None if v != v else v for v in row] for row in features.tolist()])
        return body, vectors

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


def _at_random(document_id: str, share: float) -> bool:
    """Whether this document is one of the `share` sent red at random; the same id always
    gives the same answer, so a repeated document is not re-drawn."""
    digest = hashlib.sha256(document_id.encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < share
