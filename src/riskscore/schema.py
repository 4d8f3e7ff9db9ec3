"""What a document is: the one definition used by the generator, loader, features and API.

Two forms of the same thing:

- pydantic models (`Document` = header + `Item` lines, `Firm`, `Outcome`) for one record at a
  time, as the API receives it;
- column specs (`DOCUMENT_COLUMNS`, ...) for the flat "one row per item line" frames and
  Parquet files that batch code reads. `HEADER_FIELDS` and `ITEM_FIELDS` tie the two together
  and a test checks they agree.

Format rules (a country code is two upper-case letters, an HS code six to ten digits) and the
value bounds (`BOUNDS`: finite, within stated limits) live here, once: pydantic, the dataset
validator and the loader all read them. Whether a well-formed code is *known* (in ISO 3166, in
the catalogue, one of the typologies) is not a reason to refuse a line: the API scores an
unknown code as an unseen category and dataset validation counts it as an unknown value.

Extra columns a dataset brings (`extra`: numeric or categorical, declared per dataset) travel
as one `extra` object per document or item, and as columns named `extra.<name>` in flat form.

May import: nothing of riskscore.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Self

import numpy as np
import pandas as pd
import pyarrow as pa
from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    model_validator,
)


class DocType(StrEnum):
    """Document family: customs declaration, e-invoice, accompanying invoice."""

    DT = "DT"
    ESF = "ESF"
    SNT = "SNT"


class Flow(StrEnum):
    """Direction of the goods relative to Kazakhstan."""

    IMPORT = "import"
    DOMESTIC = "domestic"
    EXPORT = "export"
    TRANSIT = "transit"


class TransportMode(StrEnum):
    """Mode of transport at the border (EAEU codes 10-71 in words; `other` for any other)."""

    ROAD = "road"
    RAIL = "rail"
    AIR = "air"
    SEA = "sea"
    POST = "post"
    PIPELINE = "pipeline"
    OTHER = "other"


class SelectedBy(StrEnum):
    """Why a document was inspected."""

    RULE = "rule"
    RANDOM = "random"
    MODEL = "model"


class Typology(StrEnum):
    """Evasion typologies the world generates and inspections can find (docs/world.md)."""

    PASS_THROUGH_SHELL = "pass_through_shell"
    LAYERED_RESALE = "layered_resale"
    MISCLASSIFICATION = "misclassification"
    ORIGIN_LAUNDERING = "origin_laundering"
    PRICE_GAMES = "price_games"
    DORMANT_REACTIVATION = "dormant_reactivation"
    GHOST_TRANSIT = "ghost_transit"
    REGIME_ADAPTATION = "regime_adaptation"


# Which customs procedure a DT carries for each flow (EAEU Decision 378, Annex 1).
DT_PROCEDURES: dict[Flow, frozenset[str]] = {
    Flow.IMPORT: frozenset({"40"}),
    Flow.EXPORT: frozenset({"10", "31"}),
    Flow.TRANSIT: frozenset({"80"}),
}
# Which flows each document family can carry.
DOC_FLOWS: dict[DocType, frozenset[Flow]] = {
    DocType.DT: frozenset({Flow.IMPORT, Flow.EXPORT, Flow.TRANSIT}),
    DocType.ESF: frozenset({Flow.DOMESTIC}),
    DocType.SNT: frozenset({Flow.IMPORT, Flow.EXPORT, Flow.DOMESTIC}),
}

COUNTRY_PATTERN = r"^[A-Z]{2}$"
# HS-6 (the international subheading) up to the 10 digits of TN VED EAEU.
HS_CODE_PATTERN = r"^\d{6,10}$"
FIRM_ID_PATTERN = r"^\d{12}$"
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9/_.\-]{0,63}$"
# An inspection finding: one of the typologies or the user's own word for it.
FINDING_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_\- ]{0,63}$"
EXTRA_NAME_PATTERN = r"^[a-z][a-z0-9_]{0,39}$"
EXTRA_PREFIX = "extra."  # flat column of an extra: extra.<name>
MAX_EXTRAS = 50

# The value bounds, stated once: (lowest, highest), both inclusive; values must be finite.
# A line worth more than USD 100 billion or weighing more than a million tonnes is an error
# in the data, not a shipment.
BOUNDS: dict[str, tuple[float, float]] = {
    "value_usd": (0.0, 1e11),
    "net_mass_kg": (0.0, 1e9),
    "gross_mass_kg": (0.0, 1e9),
    "supplementary_qty": (0.0, 1e10),
}


def _bounded(name: str, **kwargs: Any) -> Any:
    """A pydantic Field with the BOUNDS of `name` (so the OpenAPI document shows them)."""
    low, high = BOUNDS[name]
    return Field(ge=low, le=high, allow_inf_nan=False, **kwargs)


CountryCode = Annotated[
    str, Field(pattern=COUNTRY_PATTERN, description="ISO 3166 alpha-2 code", examples=["KZ"])
]
PartyId = Annotated[
    str,
    Field(
        pattern=ID_PATTERN,
        description="the party's id: a 12-digit BIN for Kazakh firms, country + 10 digits for "
        "foreign ones",
        examples=["160440017010", "RU0000011010"],
    ),
]
DocumentId = Annotated[
    str,
    Field(
        pattern=ID_PATTERN,
        description="the document's id in its system",
        examples=["KZSNT-250103-0090000001"],
    ),
]


def _number_only(value: object) -> object:
    """A JSON number only: pydantic's lax mode would also take true, false and "12"."""
    if isinstance(value, bool | str | bytes):
        raise ValueError("must be a number")
    return value


def _not_a_number(value: object) -> object:
    """A time as text (or a datetime): pydantic's lax mode would read 0 as 1970-01-01."""
    if isinstance(value, int | float):
        raise ValueError("must be a date-time like 2025-01-03T09:40:00+05:00")
    return value


# A line number: an integer as JSON Schema has it (2 and 2.0), never a flag or a string.
ItemNo = Annotated[int, Field(ge=1, le=999), BeforeValidator(_number_only)]
# A moment with its offset, sent as text.
Moment = Annotated[AwareDatetime, BeforeValidator(_not_a_number)]
ExtraName = Annotated[str, Field(pattern=EXTRA_NAME_PATTERN)]
# A numeric extra is a finite number; a categorical one a short text (or a whole number).
ExtraValue = (
    Annotated[float, Field(allow_inf_nan=False)]
    | int
    | Annotated[str, Field(max_length=100)]
    | None
)
Extras = Annotated[
    dict[ExtraName, ExtraValue],
    Field(
        max_length=MAX_EXTRAS,
        description="the dataset's extra columns the model declares",
        # pydantic states the name pattern as patternProperties only, which lets any other
        # name through in the schema; the model refuses those, so the schema says so too.
        json_schema_extra={"additionalProperties": False},
    ),
]

MAX_ITEMS = 200
MAX_LINKS = 50


class _Record(BaseModel):
    # Strings are taken as sent (no stripping): what the OpenAPI document's patterns refuse,
    # the API refuses too.
    model_config = ConfigDict(extra="forbid", frozen=True)


class Item(_Record):
    """One goods line of a document (DT boxes 32-46, ESF section G, SNT goods lines)."""

    item_no: ItemNo = Field(description="line number, unique in the document", examples=[1])
    hs_code: str = Field(
        pattern=HS_CODE_PATTERN,
        description="HS code of 6 to 10 digits (TN VED EAEU: 10)",
        examples=["8517690009"],
    )
    description: str = Field(min_length=1, max_length=500, pattern=r"\S",
                             description="goods in words (not only spaces)",
                             examples=["GNSS receivers"])  # fmt: skip
    origin_country: Annotated[CountryCode, Field(description="country of origin of the goods")]
    net_mass_kg: float = _bounded("net_mass_kg", strict=True, description="net mass, kg",
                                  examples=[71.72])  # fmt: skip
    gross_mass_kg: float = _bounded("gross_mass_kg", strict=True,
                                    description="gross mass, kg; not below the net mass",
                                    examples=[84.43])  # fmt: skip
    supplementary_qty: float | None = _bounded(
        "supplementary_qty", default=None, strict=True,
        description="quantity in the supplementary unit; given with the unit or not at all",
        examples=[56],
    )  # fmt: skip
    supplementary_unit: str | None = Field(default=None, max_length=8,
                                           description="unit of supplementary_qty",
                                           examples=["pcs"])  # fmt: skip
    value_usd: float = _bounded("value_usd", strict=True, description="statistical value, USD",
                                examples=[19492.28])  # fmt: skip
    linked_document_id: Annotated[
        DocumentId | None,
        Field(
            description="the upstream document this line's goods came in on, where known",
            examples=["KZDT-241230-0010035693"],
        ),
    ] = None
    linked_item_no: ItemNo | None = Field(default=None,
                                       description="the upstream line (needs linked_document_id)",
                                       examples=[1])  # fmt: skip
    extra: Extras = Field(
        default_factory=dict, description="this line's extras (win over the document's)"
    )

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.gross_mass_kg < self.net_mass_kg:
            raise ValueError("gross_mass_kg is below net_mass_kg")
        if self.linked_item_no is not None and self.linked_document_id is None:
            raise ValueError("linked_item_no is given without linked_document_id")
        if (self.supplementary_qty is None) != (self.supplementary_unit is None):
            raise ValueError("supplementary_qty and supplementary_unit go together")
        return self


class Document(_Record):
    """A DT, ESF or SNT: header and item lines."""

    document_id: DocumentId
    doc_type: DocType = Field(description="DT customs declaration, ESF e-invoice, SNT "
                              "accompanying invoice", examples=["SNT"])  # fmt: skip
    flow: Flow = Field(description="direction of the goods; ESF domestic only, DT not domestic",
                       examples=["export"])  # fmt: skip
    procedure_code: str = Field(
        default="", pattern=r"^(\d{2})?$",
        description="customs procedure of a DT (40 import, 10 or 31 export, 80 transit); "
        "empty for ESF and SNT",
        examples=["", "40"],
    )  # fmt: skip
    issued_at: Moment = Field(description="when the document was issued, with its "
                                     "offset", examples=["2025-01-03T09:40:00+05:00"])  # fmt: skip
    office: str = Field(default="", max_length=32, description="customs or tax office code",
                        examples=["ALIMBET"])  # fmt: skip
    declarant_id: Annotated[PartyId, Field(description="who filed the document")]
    consignor_id: Annotated[PartyId, Field(description="who sends the goods")]
    consignor_country: Annotated[CountryCode, Field(description="the consignor's country")]
    consignee_id: Annotated[PartyId, Field(description="who receives the goods")]
    consignee_country: Annotated[CountryCode, Field(description="the consignee's country")]
    dispatch_country: Annotated[CountryCode, Field(description="where the goods leave from")]
    destination_country: Annotated[CountryCode, Field(description="where the goods go")]
    transport_mode: TransportMode = Field(description="mode of transport at the border",
                                          examples=["road"])  # fmt: skip
    invoice_currency: str = Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 currency",
                                  examples=["RUB"])  # fmt: skip
    previous_document_ids: list[DocumentId] = Field(
        default_factory=list, max_length=MAX_LINKS,
        description="earlier documents this one follows from", examples=[["KZDT-241230-001"]],
    )  # fmt: skip
    extra: Extras = Field(default_factory=dict, description="extras of every line of the document")
    items: list[Item] = Field(min_length=1, max_length=MAX_ITEMS, description="the goods lines")

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.flow not in DOC_FLOWS[self.doc_type]:
            raise ValueError(f"a {self.doc_type} cannot carry flow {self.flow.value!r}")
        if self.doc_type is DocType.DT:
            allowed = DT_PROCEDURES[self.flow]
            if self.procedure_code not in allowed:
                raise ValueError(
                    f"procedure_code must be one of {sorted(allowed)} for a DT {self.flow.value}"
                )
        elif self.procedure_code:
            raise ValueError(f"procedure_code must be empty for a {self.doc_type}")
        if not 1991 <= self.issued_at.year <= 2100:
            raise ValueError("issued_at must lie between 1991 and 2100")
        numbers = [item.item_no for item in self.items]
        if len(set(numbers)) != len(numbers):
            raise ValueError("item_no values repeat")
        return self


class Firm(_Record):
    """A Kazakh taxpayer in the firms register."""

    firm_id: str = Field(pattern=FIRM_ID_PATTERN, description="12-digit BIN",
                         examples=["180140000008"])  # fmt: skip
    registered_at: Moment = Field(description="when the firm was registered, with its offset",
                                  examples=["2018-03-14T00:00:00+05:00"])  # fmt: skip
    activity_code: str = Field(pattern=r"^\d{2}\.\d{2}$", description="OKED-style sector",
                               examples=["46.69"])  # fmt: skip
    region: str = Field(min_length=1, max_length=64, description="region of registration",
                        examples=["almaty_city"])  # fmt: skip
    address_id: str = Field(min_length=1, max_length=64, examples=["A00000042"],
                            description="registered address, an id")  # fmt: skip
    director_id: str = Field(min_length=1, max_length=64, examples=["P00000042"],
                             description="the director, an id")  # fmt: skip
    founder_country: CountryCode


class Outcome(_Record):
    """The result of inspecting one item line."""

    document_id: Annotated[DocumentId, Field(description="the scored document inspected")]
    item_no: ItemNo = Field(description="the line inspected", examples=[1])
    selected_by: SelectedBy = Field(description="why it was inspected", examples=["rule"])
    inspected_at: Moment = Field(description="when it was inspected",
                                        examples=["2025-01-06T10:00:00+05:00"])  # fmt: skip
    recorded_at: Moment = Field(
        description="when the result was recorded; it counts in features from then on",
        examples=["2025-01-20T16:30:00+05:00"],
    )
    violation_found: StrictBool = Field(
        examples=[True], description="whether the inspection found a violation (true or false)"
    )
    finding: str | None = Field(
        default=None,
        pattern=FINDING_PATTERN,
        description="what was found: one of the typologies or the inspector's own word; "
        "given only when violation_found is true",
        examples=["layered_resale"],
    )

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.recorded_at < self.inspected_at:
            raise ValueError("recorded_at is before inspected_at")
        if self.finding is not None and not self.violation_found:
            raise ValueError("finding is given without violation_found")
        return self


# --- the flat, one-row-per-item-line form -------------------------------------------------

_TS = pa.timestamp("us", tz="UTC")

HEADER_FIELDS: tuple[str, ...] = tuple(
    f for f in Document.model_fields if f not in ("items", "extra")
)
ITEM_FIELDS: tuple[str, ...] = tuple(f for f in Item.model_fields if f != "extra")

# name -> Arrow type. Strings are non-null ("" for none) unless listed in NULLABLE.
DOCUMENT_COLUMNS: dict[str, pa.DataType] = {
    "document_id": pa.string(),
    "doc_type": pa.string(),
    "flow": pa.string(),
    "procedure_code": pa.string(),
    "issued_at": _TS,
    "office": pa.string(),
    "declarant_id": pa.string(),
    "consignor_id": pa.string(),
    "consignor_country": pa.string(),
    "consignee_id": pa.string(),
    "consignee_country": pa.string(),
    "dispatch_country": pa.string(),
    "destination_country": pa.string(),
    "transport_mode": pa.string(),
    "invoice_currency": pa.string(),
    "previous_document_ids": pa.list_(pa.string()),
    "item_no": pa.int32(),
    "hs_code": pa.string(),
    "description": pa.string(),
    "origin_country": pa.string(),
    "net_mass_kg": pa.float64(),
    "gross_mass_kg": pa.float64(),
    "supplementary_qty": pa.float64(),
    "supplementary_unit": pa.string(),
    "value_usd": pa.float64(),
    "linked_document_id": pa.string(),
    "linked_item_no": pa.int32(),
}
FIRM_COLUMNS: dict[str, pa.DataType] = {
    "firm_id": pa.string(),
    "registered_at": _TS,
    "activity_code": pa.string(),
    "region": pa.string(),
    "address_id": pa.string(),
    "director_id": pa.string(),
    "founder_country": pa.string(),
}
OUTCOME_COLUMNS: dict[str, pa.DataType] = {
    "document_id": pa.string(),
    "item_no": pa.int32(),
    "selected_by": pa.string(),
    "inspected_at": _TS,
    "recorded_at": _TS,
    "violation_found": pa.bool_(),
    "finding": pa.string(),
}
# Ground truth of the synthetic world. Training code never reads it.
TRUTH_COLUMNS: dict[str, pa.DataType] = {
    "document_id": pa.string(),
    "item_no": pa.int32(),
    "is_evasion": pa.bool_(),
    "typology": pa.string(),
    "chain_id": pa.string(),
    "p_evasion": pa.float64(),
}
# Columns that may hold nulls; every other column must be filled.
NULLABLE: frozenset[str] = frozenset(
    {
        "supplementary_qty",
        "supplementary_unit",
        "linked_document_id",
        "linked_item_no",
        "finding",
        "typology",
    }
)

TABLES: dict[str, dict[str, pa.DataType]] = {
    "firms": FIRM_COLUMNS,
    "documents": DOCUMENT_COLUMNS,
    "outcomes": OUTCOME_COLUMNS,
    "truth": TRUTH_COLUMNS,
}


def arrow_schema(table: str) -> pa.Schema:
    """The Arrow schema of one of the world's tables (`firms`, `documents`, ...)."""
    return pa.schema(
        [pa.field(name, kind, nullable=name in NULLABLE) for name, kind in TABLES[table].items()]
    )


def document_rows(document: Document) -> list[dict[str, object]]:
    """The flat rows (one per item line) of a document, with the columns of DOCUMENT_COLUMNS
    and `extra`: the line's extras (the document's, overridden by the item's)."""
    header = document.model_dump(exclude={"items", "extra"})
    header["issued_at"] = _as_utc(document.issued_at)
    return [
        {**header, **item.model_dump(exclude={"extra"}), "extra": document.extra | item.extra}
        for item in document.items
    ]


def extra_columns(columns: Iterable[str]) -> list[str]:
    """The flat extra columns (`extra.<name>`) among `columns`, in their order."""
    return [c for c in columns if c.startswith(EXTRA_PREFIX)]


def document_from_rows(lines: pd.DataFrame) -> Document:
    """The inverse of `document_rows`: one document from its flat rows (e.g. a dataset's);
    `extra.<name>` columns become each item's `extra` (missing values left out)."""
    head = lines.iloc[0]
    header = {name: _plain(head[name]) for name in HEADER_FIELDS}
    header["previous_document_ids"] = [str(x) for x in head["previous_document_ids"]]
    ordered = lines.sort_values("item_no")
    extras = extra_columns(lines.columns)
    items = []
    for _, row in ordered.iterrows():
        item = {name: _plain(row[name]) for name in ITEM_FIELDS}
        extra = {c.removeprefix(EXTRA_PREFIX): _plain(row[c]) for c in extras}
        item["extra"] = {k: v for k, v in extra.items() if v is not None}
        items.append(item)
    return Document.model_validate(header | {"items": items})


def content_hash(document: Document) -> str:
    """SHA-256 of a document's canonical form: its fields as JSON with sorted keys, the issue
    time in UTC, items in item order. Two bodies that say the same thing hash the same (key
    order, spacing and time zone do not matter); any change of content changes the hash.

    >>> doc = {"document_id": "D1", "doc_type": "ESF", "flow": "domestic",
    ...        "issued_at": "2024-03-01T12:00:00+05:00", "declarant_id": "K1",
    ...        "consignor_id": "K1", "consignor_country": "KZ", "consignee_id": "K2",
    ...        "consignee_country": "KZ", "dispatch_country": "KZ", "destination_country": "KZ",
    ...        "transport_mode": "road", "invoice_currency": "KZT",
    ...        "items": [{"item_no": 1, "hs_code": "8542310000", "description": "chips",
    ...                   "origin_country": "US", "net_mass_kg": 1, "gross_mass_kg": 1,
    ...                   "value_usd": 10}]}
    >>> utc = dict(doc, issued_at="2024-03-01T07:00:00Z")
    >>> content_hash(Document.model_validate(doc)) == content_hash(Document.model_validate(utc))
    True
    """
    canonical = document.model_dump(mode="json")
    canonical["issued_at"] = _as_utc(document.issued_at).isoformat()
    canonical["items"] = sorted(canonical["items"], key=lambda item: item["item_no"])
    text = json.dumps(canonical, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def _plain(value: object) -> object:
    """A plain Python value for pydantic: NaN and missing become None, numpy scalars Python."""
    if value is None or (isinstance(value, float) and value != value):
        return None
    if isinstance(value, np.generic):
        return value.item()
    return value


def _as_utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)
