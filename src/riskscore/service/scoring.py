"""Scoring one document: its past from the online state, the training features, the model.

The features are computed by `feature_columns`, the function `build_features` runs for
training, on the document's lines with what the online state keeps per key (`store.Lookup`),
inside one store transaction (read, score, write), so what is served equals what the batch
pipeline computes over what the state held (the parity tests hold it to that).
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from riskscore import __version__
from riskscore.config import Settings
from riskscore.errors import (
    ConfigError,
    DocumentConflictError,
    InvalidOutcomeError,
    RiskscoreError,
    StateError,
)
from riskscore.features import FeatureMatrix, feature_columns
from riskscore.features.columns import Columns, columns_of_rows
from riskscore.features.lines import prepare
from riskscore.schema import (
    OUTCOME_COLUMNS,
    Document,
    Firm,
    Outcome,
    content_hash,
    document_rows,
)
from riskscore.service.auth import Caller
from riskscore.service.rules import rules_only, rules_triggered
from riskscore.service.runtime import ModelRuntime
from riskscore.service.schemas import Channel, ItemScore, ScoreResponse
from riskscore.service.selection import RandomSelection, secret
from riskscore.store import Answer, Lookup, Store
from riskscore.store.audit import Audited, Chain, Entry, digest, outcome_digest
from riskscore.store.codec import frame_rows

_log = logging.getLogger(__name__)
_CLOCK_SKEW = timedelta(minutes=5)  # how far ahead of this clock a caller's clock may run


class Scored(NamedTuple):
    """A served answer, where its time went and what it decided (for logs and metrics)."""

    body: str  # the answer as JSON
    stages: dict[str, float]  # milliseconds per stage, in order (for Server-Timing)
    channel: str
    drawn: bool  # sent red at random
    model_version: str
    new: bool  # False when the stored answer of an earlier request came back
    degraded: str | None = None  # what failed ("state", "model") when answered on rules alone
    shadow: Shadow | None = None  # the challenger's turn, to take after the answer is sent


class Shadow(NamedTuple):
    """What the challenger needs to score a document after the champion answered it: the
    same lines and the same reads of the state (its stock copied before the champion's chain
    pass took from it)."""

    document: Document
    rows: list[dict[str, Any]]
    lookup: Lookup
    request_id: str
    score: float  # the champion's
    channel: str  # the champion model's channel, before any random draw


class Shadowed(NamedTuple):
    """The challenger's decision on a document (never sent to the caller)."""

    channel: str
    agrees: bool  # the same channel as the champion's model (before any random draw)


class Scorer:
    """Scores documents against the online state with one model runtime, writes every
    decision to the audit log, and lets a challenger shadow the champion when asked."""

    def __init__(self, runtime: ModelRuntime, store: Store, settings: Settings) -> None:
        model, state = runtime.model.stats.home_country, store.home_country()
        if model != state:
            raise ConfigError(f"the model was trained on a dataset of home country {model}, "
                              f"the online state holds one of {state}")  # fmt: skip
        self.runtime, self.store, self.settings = runtime, store, settings
        self.shadow: ModelRuntime | None = None  # the challenger, when shadow scoring is on
        # The one thread that scores on a store of one writer (SQLite), off the event loop.
        self.serial = ThreadPoolExecutor(1, thread_name_prefix="scoring")
        self.selection = RandomSelection.of(settings)
        self.chain = Chain(secret(settings) or b"")
        started = {"service": __version__, "model": _model(runtime),
                   "at": datetime.now(UTC).isoformat()}  # fmt: skip
        store.audit(Audited(self.chain, [Entry("start", None, started)]))

    def close(self) -> None:
        """Let the scoring thread finish what it was given, and stop it."""
        self.serial.shutdown(wait=True)

    def score(
        self, document: Document, caller: Caller | None = None, request_id: str = ""
    ) -> Scored:
        """Score a document, or answer what was stored for it if it was scored before (the
        same content again; other content under the same id is a DocumentConflictError).
        When the state or the model fails, answer on the rules alone, flagged degraded and
        not stored (unless `degraded_answers` is off).

        One model runtime serves the whole request, even if a reload swaps it meanwhile.
        """
        clock, runtime = _Stages(), self.runtime
        request_id = request_id or uuid.uuid4().hex
        try:
            return self._score(document, caller, request_id, clock, runtime)
        except RiskscoreError as error:
            if not isinstance(error, StateError) or not self.settings.degraded_answers:
                raise
            return self._degraded(document, caller, request_id, runtime, "state", error)
        except Exception as error:  # the model, or the code around it, failed
            if not self.settings.degraded_answers:
                raise
            return self._degraded(document, caller, request_id, runtime, "model", error)

    def _score(
        self,
        document: Document,
        caller: Caller | None,
        request_id: str,
        clock: _Stages,
        runtime: ModelRuntime,
    ) -> Scored:
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
            # The chain pass takes from the stock it is given: the challenger gets a copy.
            kept = None if self.shadow is None else lookup._replace(past=lookup.past.copy())
            features, stored_columns = self.features(new, lookup, runtime)
            clock.lap("features")
            late = lookup.beyond_horizon
            answer, vectors = self._answer(document, new, features, runtime, clock, late)
            answer.request_id = request_id
            body = answer.model_dump_json()
            clock.lap("json")
            record = _decision(answer, body, digest, caller, runtime)
            scoring.write(rows, stored_columns,
                          Answer(document.document_id, body, vectors, digest, late,
                                 "" if caller is None else caller.name),
                          Audited(self.chain, [record]))  # fmt: skip
        spent = clock.lap("state_write")
        shadow = None
        if kept is not None and answer.score is not None:
            shadow = Shadow(document, rows, kept, request_id, answer.score,
                            runtime.channel(answer.score))  # fmt: skip
        return Scored(body, spent, answer.channel, answer.selected_at_random,
                      answer.model_version, new=True, shadow=shadow)  # fmt: skip

    def _degraded(
        self,
        document: Document,
        caller: Caller | None,
        request_id: str,
        runtime: ModelRuntime,
        cause: str,
        error: Exception,
    ) -> Scored:
        """An answer on the rules and the random draw alone, not stored; its audit record is
        written if the state takes it."""
        _log.error("scoring failed (%s: %s): answered on the rules alone", cause,
                   type(error).__name__, exc_info=cause == "model")  # fmt: skip
        clock = _Stages()
        rows = document_rows(document)
        cols = columns_of_rows(rows)
        new = cols | prepare(cols)
        channel, rules = rules_only(new, self.store.home_country())
        random = self.selection.drawn(document.document_id)
        answer = ScoreResponse(
            document_id=document.document_id, request_id=request_id, score=None,
            channel=Channel.RED if random else Channel(channel), selected_at_random=random,
            degraded=True, rules_triggered=rules, unknown_codes=[],
            items=[ItemScore(item_no=int(n), score=None, reasons=[]) for n in new["item_no"]],
            model_name=runtime.identity.name, model_version=runtime.identity.version,
            model_alias=runtime.identity.alias, scored_at=datetime.now(UTC),
        )  # fmt: skip
        body = answer.model_dump_json()
        record = _decision(answer, body, content_hash(document), caller, runtime, cause)
        if cause == "state":  # asking a failed state again would keep the caller waiting twice
            _log.error("degraded answer to %s (channel %s) not in the audit log: the state "
                       "failed", document.document_id, answer.channel)  # fmt: skip
        else:
            try:
                self.store.audit(Audited(self.chain, [record]))
            except Exception as failed:  # the log line is the record then
                _log.error("degraded answer to %s (channel %s) not in the audit log (%s)",
                           document.document_id, answer.channel,
                           type(failed).__name__)  # fmt: skip
        return Scored(body, clock.lap("degraded"), answer.channel, random,
                      answer.model_version, new=False, degraded=cause)  # fmt: skip

    def shadow_score(self, shadow: Shadow) -> Shadowed | None:
        """The challenger's score and channel of a document the champion answered, from the
        same reads of the state, with its own statistics and vocabularies: written to the
        audit log, never sent. None when no challenger is loaded."""
        runtime = self.shadow
        if runtime is None:
            return None
        rows, document = shadow.rows, shadow.document
        cols = columns_of_rows(rows) | runtime.extra_columns(document, rows)
        new = cols | prepare(cols)
        features, _ = self.features(new, shadow.lookup, runtime)
        top = float(runtime.score(features).max())
        channel = runtime.channel(top)
        record = {"request_id": shadow.request_id, "content_hash": content_hash(document),
                  "score": top, "channel": channel, "model": _model(runtime),
                  "champion": {"score": shadow.score, "channel": shadow.channel}}  # fmt: skip
        self.store.audit(Audited(self.chain, [Entry("shadow", document.document_id, record)]))
        return Shadowed(channel, channel == shadow.channel)

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

    def record_outcomes(
        self, outcomes: list[Outcome], caller: Caller | None = None, request_id: str = ""
    ) -> int:
        """Store inspection results with their audit records; every one must name a scored
        document line and be possible (inspected after the document was issued, recorded no
        later than now), or none is stored (`UnknownDocumentError`, `InvalidOutcomeError`)."""
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
        who = {"caller": None if caller is None else caller.name, "request_id": request_id,
               "key_id": None if caller is None else caller.key_id}  # fmt: skip
        entries = [
            Entry("outcome", str(row[0]), {**who, "item_no": int(row[1]),  # type: ignore[call-overload]
                                           "inspected_at": int(row[3]),  # type: ignore[call-overload]
                                           "violation_found": bool(row[5]),
                                           "outcome_hash": outcome_digest(row)})
            for row in frame_rows(frame, OUTCOME_COLUMNS)
        ]  # fmt: skip
        self.store.add_outcomes(frame, Audited(self.chain, entries))
        return len(frame)


def _model(runtime: ModelRuntime) -> dict[str, str]:
    """Which model decided, as the audit log names it."""
    identity = runtime.identity
    return {"name": identity.name, "version": identity.version, "alias": identity.alias,
            "run_id": identity.run_id, "fingerprint": identity.fingerprint}  # fmt: skip


def _decision(
    answer: ScoreResponse,
    body: str,
    content: str,
    caller: Caller | None,
    runtime: ModelRuntime,
    degraded: str | None = None,
) -> Entry:
    """The audit record of a decision: who asked, what was decided and by which model, and
    the hash of the answer sent; never the document."""
    record: dict[str, Any] = {
        "at": answer.scored_at.isoformat(), "request_id": answer.request_id,
        "caller": None if caller is None else caller.name,
        "key_id": None if caller is None else caller.key_id,
        "content_hash": content, "score": answer.score, "channel": str(answer.channel),
        "random": answer.selected_at_random, "late": answer.late, "model": _model(runtime),
        "answer_hash": digest(body),
    }  # fmt: skip
    if degraded is not None:
        record["degraded"] = degraded
    return Entry("degraded" if degraded else "decision", answer.document_id, record)


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
