"""A column mapping: how a user's files become the schema's tables (`riskscore ingest`).

A mapping is a TOML file (a commented example: `docs/examples/foreign/mapping.toml`). It says,
for each table, which source column gives each schema field and how to transform it, which
constants fill the fields the source lacks, which extra columns to keep as features, and
where the labels come from. Files it names (a rates table, an outcomes file) are relative to
the mapping file. Errors name the key and the reason.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from riskscore.data.dataset import DatasetInfo
from riskscore.errors import ConfigError
from riskscore.reference import HOME_COUNTRY
from riskscore.schema import COUNTRY_PATTERN, EXTRA_NAME_PATTERN, SelectedBy


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Column(_Strict):
    """Where one field comes from and what is done to it, in this order: trim, upper-case,
    map through a table, zero-pad; then parse (a date with `format` in `timezone`, or a
    number); then convert a money amount to USD (a fixed `rate`, or a `rates` table by day)."""

    column: str = Field(min_length=1)
    trim: bool = False
    upper: bool = False
    map: dict[str, str] | None = None
    otherwise: str | None = Field(None, description="value for codes `map` lacks (else kept)")
    zero_pad: int | None = Field(None, ge=1, le=20)
    format: str | None = Field(None, description="strptime format of a date or time")
    timezone: str = "UTC"
    currency: str | None = Field(None, pattern=r"^[A-Z]{3}$")
    currency_column: str | None = None
    rate: float | None = Field(None, gt=0, allow_inf_nan=False, description="USD per unit")
    rates: Path | None = Field(None, description="CSV: date, currency, usd_per_unit")

    @model_validator(mode="after")
    def _one_conversion(self) -> Self:
        if self.rate is not None and self.rates is not None:
            raise ValueError("give rate or rates, not both")
        if self.rates is not None and self.currency is None and self.currency_column is None:
            raise ValueError("rates needs currency or currency_column")
        return self


def _column(value: Any) -> Any:
    """A bare string is the source column with no transform."""
    return {"column": value} if isinstance(value, str) else value


class Table(_Strict):
    """One table's mapping: source columns and constants (a field may have one, not both)."""

    columns: dict[str, Column] = Field(default_factory=dict)
    constants: dict[str, str | int | float | bool] = Field(default_factory=dict)
    file: Path | None = Field(None, description="source file (outcomes, firms); else the SRCs")

    @field_validator("columns", mode="before")
    @classmethod
    def _bare(cls, value: Any) -> Any:
        return {k: _column(v) for k, v in value.items()} if isinstance(value, dict) else value

    @model_validator(mode="after")
    def _disjoint(self) -> Self:
        both = sorted(set(self.columns) & set(self.constants))
        if both:
            raise ValueError(f"{', '.join(both)}: given both as a column and as a constant")
        return self


class Extra(Column):
    """An extra column kept as a feature: numeric or categorical."""

    kind: Literal["numeric", "categorical"]


class Labels(_Strict):
    """Where labels come from: a label `column` of the documents (fully inspected data; the
    result counts as recorded `lag_days` after the document), or an outcomes `file`."""

    column: Column | None = None
    positive: list[str] = Field(default_factory=lambda: ["1", "true", "True", "yes", "Y"])
    lag_days: float = Field(0.0, ge=0, le=3650)
    selected_by: SelectedBy = SelectedBy.RULE
    finding: Column | None = None
    file: Path | None = None
    columns: dict[str, Column] = Field(default_factory=dict)
    constants: dict[str, str | int | float | bool] = Field(default_factory=dict)

    @field_validator("column", "finding", mode="before")
    @classmethod
    def _bare(cls, value: Any) -> Any:
        return _column(value)

    @field_validator("columns", mode="before")
    @classmethod
    def _bare_all(cls, value: Any) -> Any:
        return {k: _column(v) for k, v in value.items()} if isinstance(value, dict) else value

    @model_validator(mode="after")
    def _one_source(self) -> Self:
        if (self.column is None) == (self.file is None):
            raise ValueError("give a label column or an outcomes file, one of them")
        return self


class Dataset(_Strict):
    home_country: str = Field(HOME_COUNTRY, pattern=COUNTRY_PATTERN)


class Source(_Strict):
    """How to read the source files: format (from the extension when not given), CSV
    delimiter, rows per chunk."""

    format: Literal["csv", "parquet", "jsonl"] | None = None
    delimiter: str = Field(",", min_length=1, max_length=1)
    chunk_rows: int = Field(50_000, ge=100, le=5_000_000)


class Mapping(_Strict):
    """A whole mapping file."""

    dataset: Dataset = Dataset()
    source: Source = Source()
    documents: Table
    extras: dict[Annotated[str, Field(pattern=EXTRA_NAME_PATTERN)], Extra] = Field(
        default_factory=dict, max_length=50
    )
    labels: Labels | None = None
    firms: Table | None = None

    def info(self) -> DatasetInfo:
        """The settings the ingested dataset carries."""
        return DatasetInfo(home_country=self.dataset.home_country,
                           extras={name: e.kind for name, e in self.extras.items()})  # fmt: skip


def load_mapping(path: Path) -> Mapping:
    """Read and check a mapping file; relative file names become relative to it."""
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text())
        mapping = Mapping.model_validate(raw)
    except OSError as error:
        raise ConfigError(f"--mapping {path}: cannot be read ({error.strerror})") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"--mapping {path}: not TOML ({error})") from None
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors())
        raise ConfigError(f"--mapping {path}: {problems}") from None
    return _resolved(mapping, path.parent)


def _resolved(mapping: Mapping, base: Path) -> Mapping:
    """The mapping with every file it names made relative to `base`."""

    def fix(column: Column) -> Column:
        return column if column.rates is None else column.model_copy(
            update={"rates": base / column.rates})  # fmt: skip

    def table(t: Table) -> Table:
        return t.model_copy(update={"columns": {k: fix(c) for k, c in t.columns.items()},
                                    "file": None if t.file is None else base / t.file})  # fmt: skip

    update: dict[str, Any] = {"documents": table(mapping.documents)}
    update["extras"] = {k: fix(e) for k, e in mapping.extras.items()}
    if mapping.firms is not None:
        update["firms"] = table(mapping.firms)
    if mapping.labels is not None and mapping.labels.file is not None:
        update["labels"] = mapping.labels.model_copy(update={"file": base / mapping.labels.file})
    return mapping.model_copy(update=update)
