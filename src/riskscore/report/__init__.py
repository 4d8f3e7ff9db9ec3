"""The managers' report: what the model is for, what it catches, and whether to trust it.

`render_report` turns a `ReportContext` into one self-contained HTML page; `write_report`
saves it. Importing this package draws nothing and changes no matplotlib setting.
`registry.report_to` assembles the context of a registered version from the model registry.

May import: `riskscore.registry`, `riskscore.model`, `riskscore.features`, `riskscore.errors`;
never `riskscore.training`.
"""

from __future__ import annotations

from riskscore.report.context import ReportContext
from riskscore.report.html import render_report, write_report

__all__ = ["ReportContext", "render_report", "write_report"]
