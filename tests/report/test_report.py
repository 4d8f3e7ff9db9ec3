from __future__ import annotations

import base64
import re
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import matplotlib
import pytest

from riskscore.report import ReportContext, render_report
from riskscore.report.html import write_report

SECTIONS = [
    ("purpose", "What this model is for"),
    ("drivers", "What drives the risk"),
    ("budget", "What an inspection budget catches"),
    ("typologies", "Which schemes it finds"),
    ("stability", "Does it hold over time"),
    ("calibration", "Can the score be read as a probability"),
    ("model", "Model version and data"),
]


class _Page(HTMLParser):
    """Sections in order with their heading, text, image sources and link targets."""

    def __init__(self) -> None:
        super().__init__()
        self.sections: list[dict[str, Any]] = []
        self.references: list[str] = []
        self._in_h2 = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        self.references += [v for k, v in attrs if k in ("src", "href") and v is not None]
        if tag == "section":
            self.sections.append({"id": attributes.get("id"), "h2": "", "text": "", "images": []})
        elif tag == "h2":
            self._in_h2 = True
        elif tag == "img" and self.sections:
            self.sections[-1]["images"].append(attributes.get("src") or "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "h2":
            self._in_h2 = False

    def handle_data(self, data: str) -> None:
        if not self.sections:
            return
        self.sections[-1]["text"] += data
        if self._in_h2:
            self.sections[-1]["h2"] += data


def _parse(html: str) -> tuple[_Page, dict[str, dict[str, Any]]]:
    page = _Page()
    page.feed(html)
    return page, {s["id"]: s for s in page.sections}


def _words(text: str) -> str:
    # Not str.split(): it would also split on the non-breaking spaces the report relies on.
    return re.sub(r"[ \t\r\n]+", " ", text).strip()


def test_sections_come_in_order_with_their_headings(html: str) -> None:
    page, _ = _parse(html)
    assert [s["id"] for s in page.sections] == [sid for sid, _ in SECTIONS]
    for section, (_, heading) in zip(page.sections, SECTIONS, strict=True):
        assert heading in section["h2"]


def test_every_image_is_an_embedded_png(html: str) -> None:
    page, sections = _parse(html)
    images = [src for s in page.sections for src in s["images"]]
    assert len(images) == 6
    for src in images:
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1]).startswith(b"\x89PNG")
    assert all(
        sections[sid]["images"] for sid in ("drivers", "budget", "typologies", "calibration")
    )


def test_nothing_is_fetched_from_elsewhere(html: str) -> None:
    page, _ = _parse(html)
    assert not [r for r in page.references if r.startswith(("http://", "https://", "//"))]
    assert "<script" not in html


def test_numbers_are_written_for_people(html: str) -> None:
    _, sections = _parse(html)
    budget = _words(sections["budget"]["text"])
    assert "riskscore-reexport version 7" in html
    assert "the model catches 319 of 1,164 violations (27\xa0%, SIMULATED" in budget
    assert "the current rules catch 108 (9.3\xa0%)" in budget
    assert "24,310" in budget
    assert "Generator's chain-start probability" in budget and "can beat it" in budget
    model = _words(sections["model"]["text"])
    assert "305,525" in model and "135,556" in model
    assert "1 Jan 2021 to 30 Jun 2023 (30\xa0months)" in model
    assert "0.071" in _words(sections["calibration"]["text"])


def test_without_truth_the_schemes_need_ground_truth(context: ReportContext) -> None:
    evaluation = {k: v for k, v in context.evaluation.items() if k != "truth"}
    _, sections = _parse(render_report(replace(context, evaluation=evaluation)))
    schemes = sections["typologies"]
    assert "ground truth" in _words(schemes["text"])
    assert not schemes["images"]
    budget = _words(sections["budget"]["text"])
    assert "What customs can observe" in budget
    assert "What really happened" not in budget and "SIMULATED" not in budget
    assert "chain-start probability" not in budget
    assert "of 388 violations" in budget


def test_the_table_keeps_long_meanings_whole(html: str) -> None:
    _, sections = _parse(html)
    assert "(Herfindahl index, 1 = one buyer)" in sections["drivers"]["text"]


def test_rendering_leaves_matplotlib_settings_alone(context: ReportContext) -> None:
    before = matplotlib.rcParams.copy()  # copy() reads the backend without resolving it
    render_report(context)
    assert matplotlib.rcParams.copy() == before


def test_write_report_writes_utf8_html(context: ReportContext, tmp_path: Path) -> None:
    path = write_report(context, tmp_path / "out" / "report.html")
    text = path.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>")
    assert 'id="calibration"' in text


def test_context_rejects_an_unknown_direction(context: ReportContext) -> None:
    importance = context.importance.assign(direction="goes up")
    with pytest.raises(ValueError, match="unknown directions"):
        replace(context, importance=importance)
