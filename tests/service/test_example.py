"""The README's example: the request file is a valid document, and the answer shown in the
README is a real answer to it (same document and items, every field of the response)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from fastapi.testclient import TestClient

from riskscore.schema import Document
from riskscore.service.schemas import ScoreResponse

ROOT = Path(__file__).resolve().parents[2]
REQUEST = ROOT / "service" / "examples" / "score_request.json"


def _readme_answer() -> ScoreResponse:
    text = (ROOT / "README.md").read_text()
    block = re.search(r"<!-- example-answer -->\s*```json\n(.*?)```", text, re.DOTALL)
    assert block, "README.md lacks the example answer block"
    return ScoreResponse.model_validate_json(block.group(1))


def test_the_example_request_is_a_valid_document() -> None:
    Document.model_validate_json(REQUEST.read_text())


def test_the_readme_answer_answers_the_example_request() -> None:
    request = Document.model_validate_json(REQUEST.read_text())
    answer = _readme_answer()
    assert answer.document_id == request.document_id
    assert [i.item_no for i in answer.items] == [i.item_no for i in request.items]
    assert answer.score == max(i.score for i in answer.items)
    assert answer.channel in {"green", "yellow", "red"}
    if answer.channel != "green":
        assert all(len(i.reasons) == 5 for i in answer.items)


def test_the_service_answers_the_example_in_the_same_shape(client: TestClient) -> None:
    response = client.post("/v1/score", json=json.loads(REQUEST.read_text()))
    assert response.status_code == 200
    served = ScoreResponse.model_validate(response.json())
    readme = _readme_answer()
    assert served.document_id == readme.document_id
    assert set(served.model_dump()) == set(readme.model_dump())
