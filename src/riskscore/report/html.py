"""The managers' report as one self-contained HTML file: inline CSS, charts as data URIs."""

from __future__ import annotations

from pathlib import Path

from jinja2 import Environment, PackageLoader, StrictUndefined

from riskscore.report.context import ReportContext
from riskscore.report.page import build_page

TEMPLATE = "report.html.j2"


def render_report(context: ReportContext) -> str:
    """The report of one model version as an HTML document that needs nothing else to display.

    Charts are PNG images embedded as base64 data URIs, the stylesheet is inline, and there is
    no script and no external address, so the file can be mailed or archived as it is.
    """
    environment = Environment(
        loader=PackageLoader("riskscore.report", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return environment.get_template(TEMPLATE).render(page=build_page(context))


def write_report(context: ReportContext, path: Path) -> Path:
    """Render the report and write it to `path` as UTF-8, creating the folder if needed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_report(context), encoding="utf-8")
    return path
