"""Scoring one document: history from the online state, the training features, the model.

The features are computed by `feature_columns`, the function `build_features` runs for
training, on the document together with its parties' history (from the state's in-memory
mirror), so what is served equals what the batch pipeline computes for the same document (the
parity test holds it to that).
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from riskscore.config import Settings
from riskscore.features import FEATURE_NAMES, SPECS, Register, feature_columns
from riskscore.features.columns import LOT_NUMBERS, LOT_TEXT, NUMBERS, TEXT, Columns
from riskscore.features.state import OnlineState, micros
from riskscore.model import RiskModel
from riskscore.reference import countries
from riskscore.schema import Document, Outcome, document_rows
from riskscore.service.rules import rules_triggered
from riskscore.service.schemas import ItemScore, Reason, ScoreResponse, UnknownCode

_MEANING = {s.name: s.meaning for s in SPECS}
_UNIT = {s.name: s.unit for s in SPECS}
_REASONS = 5


class UnknownDocumentError(LookupError):
    """An outcome names a document line that was never scored."""


class Scorer:
    """Scores documents against the online state with one model."""

    def __init__(self, model: RiskModel, state: OnlineState, settings: Settings) -> None:
        if tuple(model.feature_names) != FEATURE_NAMES:
            raise ValueError("the model was trained on other features than this code computes")
        self.model, self.state, self.settings = model, state, settings
        firms = state.firms()
        self.register = Register(firms) if len(firms) else None
        model.stats.prepare()
        state.warm()
        self._vocab_sets: dict[str, frozenset[str]] = {}
        self._categories = {
            name: list(model.stats.vocabularies[name]) for name in model.categorical
            if name in model.stats.vocabularies
        }  # fmt: skip

    def score(self, document: Document) -> tuple[str, dict[str, float]]:
        """The answer as JSON and the milliseconds each stage took (for Server-Timing).

        A document scored before gets its stored answer and nothing is written.
        """
        clock = _Stages()
        stored = self.state.answer(document.document_id)
        if stored is not None:
            return stored, clock.lap("stored")
        rows = document_rows(document)
        new = self.state.prepared(_columns(rows))
        clock.lap("frame")
        features, lots = self.features(new, clock)
        scores = self.model.score(features)
        clock.lap("lightgbm")
        top = float(scores.max())
        random = _at_random(document.document_id, self.settings.random_share)
        channel = "red" if random else self.model.channel(top)
        reasons = self._reasons(features) if channel != "green" else [[] for _ in scores]
        clock.lap("reasons")
        meta = self.model.metadata
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
            rules_triggered=rules_triggered(new, dict(zip(FEATURE_NAMES, features.T, strict=True))),
            unknown_codes=self._unknown(document),
            model_name=str(meta.get("name", self.settings.model_name)),
            model_version=str(meta.get("version", "unregistered")),
            model_alias=str(meta.get("alias", self.settings.model_alias)),
            scored_at=datetime.now(UTC),
        )
        body = answer.model_dump_json()
        clock.lap("json")
        vectors = json.dumps([[None if v != v else v for v in row] for row in features.tolist()])
        self.state.score_document(rows, lots, (document.document_id, body, vectors), new)
        return body, clock.lap("state_write")

    def features(self, new: Columns, clock: _Stages | None = None) -> tuple[np.ndarray, Columns]:
        """Feature matrix and lots of a document's `prepared` lines, computed over their
        parties' history (the document's own stored copy, if any, is not its own past)."""
        clock = clock or _Stages()
        # Every feature of a line is about its subject or its partner (a declarant who is
        # neither, such as a customs broker, adds nothing but lines to read).
        parties = {*new["subject_id"], *new["partner_id"]}
        lines, outcomes, wanted = self.state.history(parties, new)
        clock.lap("history")
        features = feature_columns(lines, self.model.stats, self.register, outcomes, wanted)
        clock.lap("features")
        return features

    def _reasons(self, features: np.ndarray) -> list[list[Reason]]:
        contributions = self.model.contributions(features)[:, :-1]
        names = self.model.feature_names
        out = []
        for row, push in zip(features, contributions, strict=True):
            top = np.argsort(-push, kind="stable")[:_REASONS]
            out.append([self._reason(names[j], row[j], float(push[j])) for j in top])
        return out

    def _reason(self, name: str, value: float, push: float) -> Reason:
        shown: float | str | None = None if np.isnan(value) else float(value)
        if name in self._categories and shown is not None:
            shown = self._categories[name][int(value)]
        words = (
            "unknown" if shown is None else (shown if isinstance(shown, str) else f"{shown:,.4g}")
        )
        direction = "raises" if push > 0 else "lowers"
        sentence = f"{_MEANING[name]}: {words} ({_UNIT[name]}); this {direction} the risk."
        return Reason(feature=name, value=shown, contribution=push, sentence=sentence)

    def _unknown(self, document: Document) -> list[UnknownCode]:
        """Well-formed codes the model never saw in training: scored as unseen, named here."""
        vocab = self.model.stats.vocabularies
        checks = [(f"items[{i}].hs_code", item.hs_code[:6], item.hs_code, "hs6_code")
                  for i, item in enumerate(document.items)]  # fmt: skip
        checks += [(f"items[{i}].origin_country", item.origin_country, item.origin_country,
                    "origin_country_code") for i, item in enumerate(document.items)]  # fmt: skip
        for field in ("dispatch_country", "destination_country", "office", "invoice_currency"):
            value = str(getattr(document, field))
            checks.append((field, value, value, _VOCABULARY_OF[field]))
        found = []
        for field, key, value, name in checks:
            if name in vocab and key not in self._known(name):
                found.append(UnknownCode(field=field, value=value, reason=_why(name, value)))
        return found

    def _known(self, name: str) -> frozenset[str]:
        known = self._vocab_sets.get(name)
        if known is None:
            known = self._vocab_sets[name] = frozenset(self.model.stats.vocabularies[name])
        return known

    def record_outcomes(self, outcomes: list[Outcome]) -> int:
        """Store inspection results; every one must name a scored document line."""
        frame = pd.DataFrame([o.model_dump() for o in outcomes])
        stored = self.state.lines_exist(
            list(zip(frame["document_id"], frame["item_no"], strict=True))
        )
        missing = [i for i, ok in enumerate(stored) if not ok]
        if missing:
            raise UnknownDocumentError(missing)
        frame["finding"] = frame["finding"].map(lambda f: None if f is None else str(f))
        frame["selected_by"] = frame["selected_by"].map(str)
        self.state.add_outcomes(frame)
        return len(frame)


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


def _columns(rows: list[dict[str, Any]]) -> Columns:
    """A document's rows as the columns the features read, with no lots yet (to be traced)."""
    cols: Columns = {}
    for name in (*TEXT, *LOT_TEXT):
        cols[name] = np.empty(len(rows), dtype=object)
        cols[name][:] = [
            None if name in LOT_TEXT or r[name] is None else str(r[name]) for r in rows
        ]
    for name in (*NUMBERS, *LOT_NUMBERS):
        cols[name] = np.array([np.nan if r.get(name) is None else r[name] for r in rows], float)
    cols["item_no"] = np.array([r["item_no"] for r in rows], dtype=np.int64)
    cols["issued_us"] = np.array([micros(r["issued_at"]) for r in rows], dtype=np.int64)
    return cols


_VOCABULARY_OF = {
    "dispatch_country": "dispatch_country_code",
    "destination_country": "destination_country_code",
    "office": "office_code",
    "invoice_currency": "invoice_currency_code",
}


def _why(name: str, value: str) -> str:
    if name.endswith("country_code") and value not in countries():
        return "not an ISO 3166 country code; scored as unseen"
    return "never seen in training; scored as an unseen category"


def _at_random(document_id: str, share: float) -> bool:
    """Whether this document is one of the `share` sent red at random; the same id always
    gives the same answer, so a repeated document is not re-drawn."""
    digest = hashlib.sha256(document_id.encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < share
