"""Charts of the report over time and of calibration, as PNG data URIs."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import pandas as pd

from riskscore.report.charts import MODEL, RULES, Chart, encode, figure, percent_axis
from riskscore.report.formatting import month
from riskscore.report.glossary import ranker_name

# Colour and marker of each ranker's line.
_LINES: dict[str, tuple[str, str]] = {"model": (MODEL, "o"), "legacy_rules": (RULES, "s")}


def _month_ticks(months: Sequence[str], compact: bool = False) -> tuple[list[int], list[str]]:
    # At most about twelve labels, so that they never run into each other.
    step = max(1, math.ceil(len(months) / 12))
    positions = list(range(0, len(months), step))
    labels = [month(months[p], compact) for p in positions]
    if compact and labels and "\n" not in labels[0]:
        labels[0] += "\n" + months[positions[0]][:4]  # the first label always says the year
    return positions, labels


def precision_chart(
    months: Sequence[str], precision: Mapping[str, Sequence[float | None]]
) -> Chart:
    """Lines of the monthly share of red-channel inspections that find a violation.

    A month without any value for a ranker (nothing inspected) is left out of its line.
    """
    fig = figure(8, 3.6)
    ax = fig.add_subplot()
    top = 0.0
    for ranker, values in precision.items():
        points = [(i, 100 * v) for i, v in enumerate(values) if v is not None]
        if not points:
            continue
        xs, ys = zip(*points, strict=True)
        colour, marker = _LINES.get(ranker, ("#999999", "."))
        ax.plot(xs, ys, color=colour, marker=marker, linewidth=2, markersize=5,
                label=ranker_name(ranker))  # fmt: skip
        top = max(top, *ys)
    ax.set_xticks(*_month_ticks(months))
    ax.set_xlim(-0.5, len(months) - 0.5)
    ax.set_ylim(0, min(100, top * 1.15) if top > 0 else 100)
    percent_axis(ax)
    ax.set_ylabel("Inspections that find a violation")
    ax.grid(axis="y", color="#e5e5e5")
    fig.legend(loc="outside upper center", ncols=max(1, len(precision)), fontsize=9)
    return encode(fig)


def importance_heatmap(monthly: pd.DataFrame, labels: Sequence[str]) -> Chart:
    """Heatmap of each top feature's average contribution (rows) month by month (columns)."""
    fig = figure(8.8, 0.36 * len(labels) + 1.4)
    ax = fig.add_subplot()
    values = monthly.to_numpy(dtype=float).T
    image = ax.imshow(values, aspect="auto", cmap="Blues", vmin=0, interpolation="nearest")
    ax.set_yticks(range(len(labels)), labels, fontsize=9)
    ax.set_xticks(*_month_ticks([str(m) for m in monthly.index], compact=True), fontsize=9)
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    # Contributions are in log-odds, a unit managers do not read: the scale only says which way.
    bar = fig.colorbar(image, ax=ax, shrink=0.8, pad=0.02, aspect=15)
    low, high = image.get_clim()
    bar.set_ticks([low, high], labels=["weaker", "stronger"], fontsize=9)
    bar.outline.set_visible(False)
    return encode(fig)


def calibration_chart(predicted: Sequence[float], observed: Sequence[float]) -> Chart:
    """Reliability diagram: the observed violation rate against the average score, per group."""
    fig = figure(6.4, 4.6)
    ax = fig.add_subplot()
    edge = max([*predicted, *observed, 0.05])
    limit = min(1.0, math.ceil(edge * 11) / 10)
    ax.plot([0, limit], [0, limit], linestyle="--", color=RULES, linewidth=1,
            label="A score that reads as a probability")  # fmt: skip
    ax.plot(predicted, observed, marker="o", color=MODEL, linewidth=2, label="Model")
    ax.set_xlim(0, limit)
    ax.set_ylim(0, limit)
    ax.set_aspect("equal")
    ax.set_xlabel("Average score of a group of lines")
    ax.set_ylabel("Share of the group with a violation")
    ax.grid(color="#eeeeee")
    ax.legend(loc="upper left", fontsize=9)
    return encode(fig)
