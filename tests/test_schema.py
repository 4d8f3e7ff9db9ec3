from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from riskscore.schema import (
    BOUNDS,
    DOCUMENT_COLUMNS,
    FIRM_COLUMNS,
    HEADER_FIELDS,
    ITEM_FIELDS,
    OUTCOME_COLUMNS,
    Document,
    Firm,
    Item,
    Outcome,
    arrow_schema,
    document_rows,
)


def _document(**changes: Any) -> dict[str, Any]:
    item = {
        "item_no": 1,
        "hs_code": "8542310000",
        "description": "Microcontrollers",
        "origin_country": "US",
        "net_mass_kg": 2.0,
        "gross_mass_kg": 2.4,
        "supplementary_qty": 400.0,
        "supplementary_unit": "pcs",
        "value_usd": 9_000.0,
    }
    doc = {
        "document_id": "KZDT-230105-0000000001",
        "doc_type": "DT",
        "flow": "import",
        "procedure_code": "40",
        "issued_at": "2023-01-05T06:30:00+05:00",
        "office": "ALA_AIRPORT",
        "declarant_id": "220440000123",
        "consignor_id": "HK0000000042",
        "consignor_country": "HK",
        "consignee_id": "220440000123",
        "consignee_country": "KZ",
        "dispatch_country": "HK",
        "destination_country": "KZ",
        "transport_mode": "air",
        "invoice_currency": "USD",
        "items": [item],
    }
    for key, value in changes.items():
        if key.startswith("item_"):
            item[key.removeprefix("item_")] = value
        else:
            doc[key] = value
    return doc


def test_flat_columns_are_the_pydantic_fields() -> None:
    assert list(DOCUMENT_COLUMNS) == [*HEADER_FIELDS, *ITEM_FIELDS]
    assert list(FIRM_COLUMNS) == list(Firm.model_fields)
    assert list(OUTCOME_COLUMNS) == list(Outcome.model_fields)


def test_a_valid_document_flattens_to_one_row_per_item() -> None:
    doc = Document.model_validate(_document())
    rows = document_rows(doc)
    assert len(rows) == 1
    assert list(rows[0]) == [*DOCUMENT_COLUMNS, "extra"]
    assert rows[0]["issued_at"].utcoffset().total_seconds() == 0  # stored in UTC
    assert rows[0]["issued_at"].hour == 1
    assert arrow_schema("documents").names == list(DOCUMENT_COLUMNS)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"item_hs_code": "85423"}, "hs_code"),
        ({"item_value_usd": 2e11}, "value_usd"),
        ({"extra": {"Tax Rate": 1.0}}, "extra"),
        ({"item_origin_country": "us"}, "origin_country"),
        ({"item_net_mass_kg": -1.0}, "net_mass_kg"),
        ({"item_gross_mass_kg": 1.0}, "items"),
        ({"item_value_usd": float("nan")}, "value_usd"),
        ({"issued_at": "2023-01-05T06:30:00"}, "issued_at"),
        ({"doc_type": "CMR"}, "doc_type"),
        ({"procedure_code": "10"}, "procedure_code"),
        ({"doc_type": "ESF", "flow": "domestic"}, "procedure_code"),
        ({"doc_type": "ESF", "flow": "export", "procedure_code": ""}, "flow"),
        ({"items": []}, "items"),
        ({"unexpected": 1}, "unexpected"),
        ({"item_linked_item_no": 3}, "linked_item_no"),
    ],
    ids=[
        "short-hs-code",
        "value-above-its-bound",
        "extra-name-not-a-word",
        "lowercase-country",
        "negative-mass",
        "gross-below-net",
        "nan-value",
        "naive-timestamp",
        "unknown-doc-type",
        "dt-import-with-export-procedure",
        "esf-with-procedure",
        "esf-cannot-export",
        "no-items",
        "extra-field",
        "item-link-without-document",
    ],
)
def test_bad_documents_name_the_field(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        Document.model_validate(_document(**changes))
    text = str(caught.value)
    assert field in text


def test_duplicate_item_numbers_are_refused() -> None:
    doc = _document()
    doc["items"] = [doc["items"][0], dict(doc["items"][0])]
    with pytest.raises(ValidationError, match="item_no values repeat"):
        Document.model_validate(doc)


def test_outcome_finding_goes_with_a_violation() -> None:
    base = {
        "document_id": "X1",
        "item_no": 1,
        "selected_by": "rule",
        "inspected_at": "2023-01-06T00:00:00Z",
        "recorded_at": "2023-01-20T00:00:00Z",
    }
    Outcome.model_validate(base | {"violation_found": True, "finding": "misclassification"})
    with pytest.raises(ValidationError, match="finding"):
        Outcome.model_validate(base | {"violation_found": False, "finding": "misclassification"})
    with pytest.raises(ValidationError, match="recorded_at"):
        Outcome.model_validate(
            base | {"violation_found": False, "recorded_at": "2023-01-01T00:00:00Z"}
        )


def test_hs6_codes_and_extras_are_taken_and_bounds_reach_the_openapi_schema() -> None:
    doc = Document.model_validate(
        _document(item_hs_code="854231") | {"extra": {"tax_rate": 12.5, "import_type": "29"}}
    )
    assert document_rows(doc)[0]["extra"] == {"tax_rate": 12.5, "import_type": "29"}
    value = Item.model_json_schema()["properties"]["value_usd"]
    assert (value["minimum"], value["maximum"]) == BOUNDS["value_usd"]


def test_a_finding_outside_the_typologies_is_kept() -> None:
    outcome = Outcome.model_validate({
        "document_id": "X1", "item_no": 1, "selected_by": "rule", "violation_found": True,
        "inspected_at": "2023-01-06T00:00:00Z", "recorded_at": "2023-01-20T00:00:00Z",
        "finding": "undervaluation",
    })  # fmt: skip
    assert outcome.finding == "undervaluation"
