"""Charts of the report drawn as PNG data URIs: the ranking charts and the shared drawing kit.

Figures are built with `matplotlib.figure.Figure` on an explicit Agg canvas, never with pyplot:
no backend is switched, no global figure list grows, and importing this module draws nothing.
"""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import matplotlib
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import PercentFormatter

from riskscore.report.formatting import NBSP, percent
from riskscore.report.glossary import ranker_name

if TYPE_CHECKING:
    from matplotlib.typing import RcKeyType

# Saved at twice the display resolution so text stays sharp on high-density screens.
_DPI = 100
_SCALE = 2
MODEL = "#1f5fa8"
RULES = "#6b6b6b"
RANDOM = "#c9c9c9"
ORACLE = "#333333"
DIRECTIONS: dict[str, str] = {
    "raises risk when high": "#c8553d",
    "lowers risk when high": "#2a9d8f",
    "depends on the category": "#e9a23b",
    "mixed": "#8d99ae",
}
_STYLE: dict[RcKeyType, Any] = {
    "font.family": "DejaVu Sans",
    "font.size": 10,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.edgecolor": "#999999",
    "axes.titlesize": 11,
    "axes.labelcolor": "#333333",
    "xtick.color": "#333333",
    "ytick.color": "#333333",
    "legend.frameon": False,
}


@dataclass(frozen=True)
class Chart:
    """A chart ready for an `<img>`: its data URI and the width to display it at, in pixels."""

    uri: str
    width: int


def styled() -> AbstractContextManager[None]:
    """The report's chart style, for the time of a `with` block only."""
    return matplotlib.rc_context(_STYLE)


def figure(width: float, height: float) -> Figure:
    """A blank figure (inches) on an Agg canvas with a constrained layout (no overlaps)."""
    fig = Figure(figsize=(width, height), dpi=_DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def encode(fig: Figure) -> Chart:
    """The figure as a PNG data URI."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=_DPI * _SCALE, facecolor="white")
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return Chart(f"data:image/png;base64,{data}", round(fig.get_figwidth() * _DPI))


def ranker_style(ranker: str) -> dict[str, Any]:
    """Colours of a ranker's bars: the best possible ranking is outlined and dashed."""
    if ranker == "oracle":
        return {"facecolor": "white", "edgecolor": ORACLE, "linestyle": "--", "linewidth": 1.2}
    colour = {"model": MODEL, "legacy_rules": RULES, "random": RANDOM}.get(ranker, "#9ab")
    return {"color": colour}


def percent_axis(ax: Axes, axis: str = "y") -> None:
    """Ticks of a 0-100 axis written as percentages."""
    target = ax.yaxis if axis == "y" else ax.xaxis
    target.set_major_formatter(PercentFormatter(xmax=100, decimals=0, symbol=f"{NBSP}%"))


def drivers_chart(
    labels: Sequence[str], shares: Sequence[float], directions: Sequence[str]
) -> Chart:
    """Horizontal bars of each feature's share of the total contribution, coloured by direction."""
    fig = figure(8, 0.34 * len(labels) + 1.1)
    ax = fig.add_subplot()
    rows = range(len(labels))
    values = [100 * s for s in shares]
    ax.barh(rows, values, height=0.7, color=[DIRECTIONS[d] for d in directions])
    for row, share in zip(rows, shares, strict=True):
        ax.text(100 * share, row, f" {percent(share)}", va="center", fontsize=8.5)
    ax.set_yticks(list(rows), labels)
    ax.invert_yaxis()
    ax.set_xlim(0, max(values, default=1) * 1.15)
    percent_axis(ax, "x")
    ax.set_xlabel("Share of everything that moves the score")
    present = [d for d in DIRECTIONS if d in set(directions)]
    handles = [Patch(color=DIRECTIONS[d], label=d.capitalize()) for d in present]
    ax.legend(handles=handles, loc="lower right", fontsize=9)
    return encode(fig)


def budget_chart(rows: Sequence[dict[str, Any]], rankers: Sequence[str]) -> Chart:
    """Grouped bars: the share of violations each ranker catches at each inspection budget."""
    budgets = sorted({float(r["budget"]) for r in rows})
    recall = {(r["ranker"], float(r["budget"])): float(r["recall"]) for r in rows}
    fig = figure(8, 4)
    ax = fig.add_subplot()
    width = 0.8 / len(rankers)
    for i, ranker in enumerate(rankers):
        offset = (i - (len(rankers) - 1) / 2) * width
        values = [recall.get((ranker, b), math.nan) for b in budgets]
        xs = [j + offset for j in range(len(budgets))]
        bars = ax.bar(
            xs, [100 * v for v in values], width * 0.9, label=ranker_name(ranker),
            **ranker_style(ranker),
        )  # fmt: skip
        ax.bar_label(bars, [percent(v) for v in values], padding=2, fontsize=7.5)
    ax.set_xticks(range(len(budgets)), [f"Inspect top {percent(b)}" for b in budgets])
    ax.set_ylim(0, 112)
    ax.set_yticks(range(0, 101, 25))
    percent_axis(ax)
    ax.set_ylabel("Violations caught")
    fig.legend(loc="outside upper center", ncols=len(rankers), fontsize=9)
    return encode(fig)


def typology_chart(names: Sequence[str], recalls: Mapping[str, Sequence[float]]) -> Chart:
    """Horizontal grouped bars: the share of each scheme's documents each ranker catches."""
    fig = figure(8, 0.55 * len(names) + 1.3)
    ax = fig.add_subplot()
    height = 0.8 / len(recalls)
    for i, (ranker, values) in enumerate(recalls.items()):
        ys = [row + (i - (len(recalls) - 1) / 2) * height for row in range(len(names))]
        bars = ax.barh(
            ys, [100 * v for v in values], height * 0.9, label=ranker_name(ranker),
            **ranker_style(ranker),
        )  # fmt: skip
        ax.bar_label(bars, [percent(v) for v in values], padding=2, fontsize=8)
    ax.set_yticks(range(len(names)), names)
    ax.invert_yaxis()
    ax.set_xlim(0, 112)
    ax.set_xticks(range(0, 101, 25))
    percent_axis(ax, "x")
    ax.set_xlabel("Documents of the scheme caught")
    fig.legend(loc="outside upper center", ncols=len(recalls), fontsize=9)
    return encode(fig)
