"""The ledger of one community: documents as they are written, with their ground truth.

The chain engine appends headers and lines as plain Python objects (fast to build one at a
time); `documents_table` and `truth_table` turn them into Arrow tables of the schema once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import numpy as np
import pyarrow as pa

from riskscore.schema import arrow_schema
from riskscore.synthetic.world import EPOCH, MICROSECONDS_PER_DAY

_PREFIX = {"DT": "KZDT", "ESF": "ESF", "SNT": "KZSNT"}


@dataclass(slots=True)
class Truth:
    """What really happened to a line: the generator's own decision."""

    is_evasion: bool
    typology: str | None
    chain_id: str
    p_evasion: float


@dataclass(slots=True)
class Line:
    """An item line: the goods as declared, and where they came from."""

    row: int  # catalogue row of the goods as they really are
    hs_code: str  # as declared
    description: str
    origin: str
    qty: float | None
    unit: str | None
    net: float
    gross: float
    value: float
    truth: Truth
    link: tuple[str, int] | None = None  # upstream (document_id, item_no) when declared
    document_id: str = ""
    item_no: int = 0
    t: float = 0.0


@dataclass(slots=True)
class Header:
    """Document header fields, with the issue time as float days since the epoch."""

    doc_type: str
    flow: str
    procedure: str
    t: float
    office: str
    declarant: str
    consignor: str
    consignor_country: str
    consignee: str
    consignee_country: str
    dispatch: str
    destination: str
    mode: str
    currency: str


class Ledger:
    """Documents of one community in the order they were generated."""

    def __init__(self, first_sequence: int) -> None:
        self._sequence = first_sequence
        self.headers: list[Header] = []
        self.document_ids: list[str] = []
        self.lines: list[Line] = []
        self.line_document: list[int] = []
        self._day_labels: dict[int, str] = {}

    def add(self, header: Header, lines: list[Line]) -> str:
        """Record a document; fills each line's document_id, item_no and time. Returns the id."""
        self._sequence += 1
        document_id = (
            f"{_PREFIX[header.doc_type]}-{self._day_label(header.t)}-{self._sequence:010d}"
        )
        index = len(self.headers)
        self.headers.append(header)
        self.document_ids.append(document_id)
        for item_no, line in enumerate(lines, start=1):
            line.document_id, line.item_no, line.t = document_id, item_no, header.t
            self.lines.append(line)
            self.line_document.append(index)
        return document_id

    def _day_label(self, t: float) -> str:
        whole = int(t)
        label = self._day_labels.get(whole)
        if label is None:
            label = (EPOCH + timedelta(days=whole)).strftime("%y%m%d")
            self._day_labels[whole] = label
        return label

    def documents_table(self) -> pa.Table:
        """The flat documents table (one row per line) in the schema's column order."""
        doc = np.asarray(self.line_document, dtype=np.int64)
        lines = self.lines
        previous = [
            sorted({ln.link[0] for ln in group if ln.link}) for group in self._lines_by_document()
        ]

        def header(values: list[object]) -> np.ndarray:
            return np.asarray(values, dtype=object)[doc]

        h = self.headers
        micros = (np.asarray([x.t for x in h]) * MICROSECONDS_PER_DAY).round().astype("int64")
        columns: dict[str, object] = {
            "document_id": header(list(self.document_ids)),
            "doc_type": header([x.doc_type for x in h]),
            "flow": header([x.flow for x in h]),
            "procedure_code": header([x.procedure for x in h]),
            "issued_at": micros[doc],
            "office": header([x.office for x in h]),
            "declarant_id": header([x.declarant for x in h]),
            "consignor_id": header([x.consignor for x in h]),
            "consignor_country": header([x.consignor_country for x in h]),
            "consignee_id": header([x.consignee for x in h]),
            "consignee_country": header([x.consignee_country for x in h]),
            "dispatch_country": header([x.dispatch for x in h]),
            "destination_country": header([x.destination for x in h]),
            "transport_mode": header([x.mode for x in h]),
            "invoice_currency": header([x.currency for x in h]),
            "previous_document_ids": header(list(previous)),
            "item_no": [ln.item_no for ln in lines],
            "hs_code": [ln.hs_code for ln in lines],
            "description": [ln.description for ln in lines],
            "origin_country": [ln.origin for ln in lines],
            "net_mass_kg": np.round([ln.net for ln in lines], 3),
            "gross_mass_kg": np.round([ln.gross for ln in lines], 3),
            "supplementary_qty": [ln.qty for ln in lines],
            "supplementary_unit": [ln.unit for ln in lines],
            "value_usd": np.round([ln.value for ln in lines], 2),
            "linked_document_id": [ln.link[0] if ln.link else None for ln in lines],
            "linked_item_no": [ln.link[1] if ln.link else None for ln in lines],
        }
        schema = arrow_schema("documents")
        return pa.table(
            {f.name: pa.array(columns[f.name], type=f.type) for f in schema}, schema=schema
        )

    def _lines_by_document(self) -> list[list[Line]]:
        groups: list[list[Line]] = [[] for _ in self.headers]
        for line, index in zip(self.lines, self.line_document, strict=True):
            groups[index].append(line)
        return groups

    def truth_table(self) -> pa.Table:
        """Ground truth per line: is_evasion, typology, chain_id and p_evasion."""
        lines = self.lines
        schema = arrow_schema("truth")
        columns: dict[str, object] = {
            "document_id": [ln.document_id for ln in lines],
            "item_no": [ln.item_no for ln in lines],
            "is_evasion": [ln.truth.is_evasion for ln in lines],
            "typology": [ln.truth.typology for ln in lines],
            "chain_id": [ln.truth.chain_id for ln in lines],
            "p_evasion": np.round([ln.truth.p_evasion for ln in lines], 6),
        }
        return pa.table(
            {f.name: pa.array(columns[f.name], type=f.type) for f in schema}, schema=schema
        )
