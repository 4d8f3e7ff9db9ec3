"""One model ready to serve: the booster, its fitted statistics, categories and vocabularies.

Everything that belongs to one model lives in a `ModelRuntime`; the scorer holds a reference to
it, so that replacing the model is one assignment. Building a runtime checks that the model
was trained on the features this code computes and builds every lookup it needs up front.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np

from riskscore.errors import FieldsError, ModelMismatchError
from riskscore.features import feature_names, specs_of
from riskscore.features.columns import Columns
from riskscore.model import RiskModel
from riskscore.reference import countries
from riskscore.schema import EXTRA_PREFIX, Document
from riskscore.service.schemas import Reason, UnknownCode

_REASONS = 5
# Header fields whose codes the model knows through a vocabulary.
_VOCABULARY_OF = {
    "dispatch_country": "dispatch_country_code",
    "destination_country": "destination_country_code",
    "office": "office_code",
    "invoice_currency": "invoice_currency_code",
}


class Identity(NamedTuple):
    """Which model answers: registered name, version, the alias it was loaded by, the run that
    trained it and a fingerprint of its content."""

    name: str
    version: str
    alias: str
    run_id: str = ""
    fingerprint: str = ""


class ModelRuntime:
    """A model checked against this code's features, with its lookups built."""

    def __init__(self, model: RiskModel, name: str, alias: str) -> None:
        # The model's list must be this code's fixed features, then the extras it declares.
        expected = feature_names(model.stats)
        if tuple(model.feature_names) != expected:
            found = tuple(model.feature_names)
            raise ModelMismatchError.of(f"model {name}", found, expected)
        model.stats.prepare()
        self.model = model
        self.extras: dict[str, str] = dict(model.stats.extras)
        specs = specs_of(model.stats)
        self._meaning = {s.name: s.meaning for s in specs}
        self._unit = {s.name: s.unit for s in specs}
        meta = model.metadata
        self.identity = Identity(
            str(meta.get("name", name)),
            str(meta.get("version", "unregistered")),
            str(meta.get("alias", alias)),
            str(meta.get("run_id", "")),
            fingerprint(model),
        )
        vocabularies = model.stats.vocabularies
        self._categories = {name: list(vocabularies[name]) for name in model.categorical
                            if name in vocabularies}  # fmt: skip
        self._known = {name: frozenset(values) for name, values in vocabularies.items()}

    def smoke(self) -> None:
        """Score and explain one line of unknown values, as a served request would: a model
        that cannot is refused before it serves (`ModelMismatchError`)."""
        row = np.full((1, len(self.model.feature_names)), np.nan)
        try:
            scores = self.score(row)
            self.reasons(row)
            self.channel(float(scores[0]))
        except Exception as error:
            raise ModelMismatchError(f"model {self.identity.name} version "
                                     f"{self.identity.version} cannot score: "
                                     f"{type(error).__name__}") from error  # fmt: skip
        if scores.shape != (1,) or not 0.0 <= float(scores[0]) <= 1.0:
            raise ModelMismatchError(f"model {self.identity.name} version "
                                     f"{self.identity.version} scores outside [0, 1]")  # fmt: skip

    def score(self, features: np.ndarray) -> np.ndarray:
        return self.model.score(features)

    def channel(self, score: float) -> str:
        return self.model.channel(score)

    def reasons(self, features: np.ndarray) -> list[list[Reason]]:
        """The features that pushed each line's score most (TreeSHAP), in words."""
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
        sentence = (
            f"{self._meaning[name]}: {words} ({self._unit[name]}); this {direction} the risk."
        )
        return Reason(feature=name, value=shown, contribution=push, sentence=sentence)

    def extra_columns(self, document: Document, rows: Sequence[Mapping[str, Any]]) -> Columns:
        """The extras of the document's lines (`document_rows`' merged `extra`) as columns
        `extra.<name>` for every extra the model declares (NaN or None where a line lacks
        it). An extra the model does not declare, or of the wrong kind, is a FieldsError."""
        problems = self._check_extras("extra", document.extra)
        for i, item in enumerate(document.items):
            problems += self._check_extras(f"items[{i}].extra", item.extra)
        if problems:
            raise FieldsError(problems)
        out: Columns = {}
        for name, kind in self.extras.items():
            values = [row["extra"].get(name) for row in rows]
            if kind == "numeric":
                out[EXTRA_PREFIX + name] = np.array(
                    [np.nan if v is None else float(v) for v in values], dtype=float
                )
            else:
                column = np.empty(len(values), dtype=object)
                column[:] = [None if v is None else str(v) for v in values]
                out[EXTRA_PREFIX + name] = column
        return out

    def _check_extras(self, path: str, extra: Mapping[str, Any]) -> list[tuple[str, str]]:
        problems = []
        for key, value in extra.items():
            kind = self.extras.get(key)
            if kind is None:
                declared = ", ".join(self.extras) or "none"
                problems.append(
                    (f"{path}.{key}", f"not an extra of this model (it declares: {declared})")
                )
            elif kind == "numeric" and isinstance(value, str):
                problems.append((f"{path}.{key}", "must be a number (a numeric extra)"))
            elif kind == "categorical" and isinstance(value, float):
                problems.append(
                    (f"{path}.{key}", "must be a text or a whole number (a categorical extra)")
                )
        return problems

    def unknown_codes(self, document: Document) -> list[UnknownCode]:
        """Well-formed codes the model never saw in training: scored as unseen, named here."""
        checks = [(f"items[{i}].hs_code", item.hs_code[:6], item.hs_code, "hs6_code")
                  for i, item in enumerate(document.items)]  # fmt: skip
        checks += [(f"items[{i}].origin_country", item.origin_country, item.origin_country,
                    "origin_country_code") for i, item in enumerate(document.items)]  # fmt: skip
        for field, vocabulary in _VOCABULARY_OF.items():
            value = str(getattr(document, field))
            checks.append((field, value, value, vocabulary))
        found = []
        for field, key, value, name in checks:
            if name in self._known and key not in self._known[name]:
                found.append(UnknownCode(field=field, value=value, reason=_why(name, value)))
        return found


def fingerprint(model: RiskModel) -> str:
    """SHA-256 of what decides a model's answers: booster, statistics, thresholds, features."""
    digest = hashlib.sha256(model.booster.model_to_string().encode())
    for part in (model.stats.to_dict(), model.thresholds, list(model.feature_names)):
        digest.update(json.dumps(part, sort_keys=True, default=str).encode())
    return digest.hexdigest()


def _why(name: str, value: str) -> str:
    if name.endswith("country_code") and value not in countries():
        return "not an ISO 3166 country code; scored as unseen"
    return "never seen in training; scored as an unseen category"
