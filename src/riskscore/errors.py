"""Domain errors. Business code raises these; entry points (CLI, API) turn them into messages.

Every error riskscore raises on purpose is here; `service/problems.py` maps each to its HTTP
status and the CLI prints each as one line.

May import: nothing of riskscore.
"""

from __future__ import annotations

from dataclasses import dataclass


class RiskscoreError(Exception):
    """Base class of every error riskscore raises on purpose."""


class ConfigError(RiskscoreError):
    """A setting, flag or config file is invalid; the message names it and says why."""


@dataclass(frozen=True)
class Problem:
    """One problem found in a dataset: where it is and what is wrong.

    `row` is the 0-based row in the file (None for a problem with the whole file or column).
    """

    file: str
    row: int | None
    column: str | None
    message: str

    def __str__(self) -> str:
        where = self.file
        if self.row is not None:
            where += f" row {self.row}"
        if self.column:
            where += f" column {self.column}"
        return f"{where}: {self.message}"


class DatasetError(RiskscoreError):
    """A dataset failed validation. Carries every problem found, not just the first."""

    def __init__(self, problems: list[Problem], total: int | None = None) -> None:
        self.problems = problems
        self.total = total if total is not None else len(problems)
        shown = "\n".join(f"  {p}" for p in problems[:20])
        more = f"\n  ... and {self.total - 20} more" if self.total > 20 else ""
        super().__init__(f"{self.total} problem(s) in the dataset:\n{shown}{more}")


class StateError(RiskscoreError):
    """The online state cannot be used as it is (unreachable, or of another layout)."""


class RegistryError(RiskscoreError):
    """The model registry lacks what was asked for (no such model or alias)."""


class ModelMismatchError(RiskscoreError):
    """A model was trained on other features than this code computes."""

    @classmethod
    def of(
        cls, model: str, found: tuple[str, ...], expected: tuple[str, ...]
    ) -> ModelMismatchError:
        missing = [n for n in expected if n not in found]
        extra = [n for n in found if n not in expected]
        detail = f"{len(missing)} feature(s) it lacks, {len(extra)} it has that this code lacks"
        if not missing and not extra:
            detail = "the same features in another order"
        return cls(f"{model} was trained on other features than this code computes ({detail}); "
                   "train a new model with this version of riskscore")  # fmt: skip


class ConflictError(RiskscoreError):
    """The request conflicts with what the service is doing or holds (e.g. a reload running)."""


class DocumentConflictError(ConflictError):
    """A document id already answered for a document of other content."""


class OutcomeConflictError(ConflictError):
    """Outcomes that say something else of an inspection already recorded; none is stored."""


class InvalidOutcomeError(RiskscoreError):
    """Outcomes that cannot be true of the documents they name (`problems`: position, field,
    reason); none of the batch is stored."""

    def __init__(self, problems: list[tuple[int, str, str]]) -> None:
        self.problems = problems
        super().__init__(f"{len(problems)} outcome(s) contradict their documents or the clock")


class ApiKeyError(RiskscoreError):
    """An API key cannot be added or revoked as asked; the message says why."""


class AuthenticationError(RiskscoreError):
    """A request carries no valid API key (missing, unknown, expired or revoked)."""


class PermissionDeniedError(RiskscoreError):
    """A valid API key whose roles do not allow what was asked."""


class NotFoundError(RiskscoreError):
    """What was asked for is not there, or not the caller's to see."""


class UnknownDocumentError(RiskscoreError):
    """Outcomes name document lines that were never scored (`rows`: their positions)."""

    def __init__(self, rows: list[int]) -> None:
        self.rows = rows
        super().__init__(f"{len(rows)} outcome(s) name a document line that was never scored")


class FieldsError(RiskscoreError):
    """A record has fields this model or dataset cannot take: each (path, reason), never the
    value (for example an extra the model does not declare)."""

    def __init__(self, fields: list[tuple[str, str]]) -> None:
        self.fields = fields
        shown = "; ".join(f"{path}: {reason}" for path, reason in fields[:10])
        super().__init__(f"{len(fields)} field(s) are invalid: {shown}")


class TrainingError(RiskscoreError):
    """A training run cannot go on with this data and config; the message says why in one line."""
