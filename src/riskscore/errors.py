"""Domain errors. Business code raises these; entry points (CLI, API) turn them into messages."""

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
    """The online state file cannot be used as it is."""
