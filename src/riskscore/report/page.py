"""The report's page as plain values: every section's words, tables and charts, in order."""

from __future__ import annotations

from typing import Any

from riskscore.report.budget import budget_section, headline, typology_section
from riskscore.report.charts import DIRECTIONS, drivers_chart, styled
from riskscore.report.context import ReportContext
from riskscore.report.formatting import count, day, moment, percent, shorten, span
from riskscore.report.glossary import family_name
from riskscore.report.stability import calibration_section, stability_section

TOP_FEATURES = 15
_LABEL_WIDTH = 58
_WINDOWS: tuple[tuple[str, str], ...] = (
    ("train", "Trained on"),
    ("validation", "Tuned on"),
    ("test", "Tested on"),
)
_FINGERPRINT = {"sha256", "lines", "documents", "first", "last"}


def _header(context: ReportContext) -> dict[str, Any]:
    top = headline(context.evaluation, context.thresholds["red_share"])
    return {
        "title": f"{context.model_name} version {context.model_version}",
        "alias": context.model_alias,
        "test_window": span(*context.windows["test"]),
        "documents": count(context.evaluation["documents"]),
        "headline": top,
        "trained_at": moment(context.trained_at),
    }


def _purpose(thresholds: dict[str, float]) -> dict[str, Any]:
    red, yellow = thresholds["red_share"], thresholds["yellow_share"]
    random_share = thresholds.get("random_share")
    return {
        "red": percent(red),
        "yellow": percent(yellow),
        "green": percent(max(0.0, 1 - red - yellow)),
        "red_width": f"{100 * red:.2f}",
        "yellow_width": f"{100 * yellow:.2f}",
        "red_score": f"{thresholds['red_score']:.2f}",
        "yellow_score": f"{thresholds['yellow_score']:.2f}",
        "random": percent(random_share) if random_share is not None else None,
    }


def _drivers(context: ReportContext) -> dict[str, Any]:
    importance = context.importance.sort_values("mean_abs_contribution", ascending=False)
    total = float(importance["mean_abs_contribution"].sum()) or 1.0
    top = importance.head(TOP_FEATURES)
    shares = [float(v) / total for v in top["mean_abs_contribution"]]
    meanings = [str(m) for m in top["meaning"]]
    directions = [str(d) for d in top["direction"]]
    rows = [
        {"rank": i, "meaning": m, "feature": str(f), "family": family_name(str(fam)),
         "direction": d, "colour": DIRECTIONS[d], "share": percent(s)}
        for i, (m, f, fam, d, s) in enumerate(
            zip(meanings, top["feature"], top["family"], directions, shares, strict=True), start=1
        )
    ]  # fmt: skip
    return {
        "count": len(rows),
        "covered": percent(sum(shares)),
        "strongest": meanings[0] if meanings else "",
        "strongest_share": percent(shares[0]) if shares else "",
        "chart": drivers_chart([shorten(m, _LABEL_WIDTH) for m in meanings], shares, directions)
        if rows
        else None,
        "rows": rows,
    }


def _model(context: ReportContext) -> dict[str, Any]:
    fingerprint = context.data_fingerprint
    facts = [
        ("Model", context.model_name),
        ("Version", context.model_version),
        ("Alias", context.model_alias),
        ("Training run", context.run_id),
        ("Code commit", context.git_commit),
        ("Trained at", moment(context.trained_at)),
    ]
    windows = [(label, span(*context.windows[key])) for key, label in _WINDOWS]
    data = [
        ("Document lines", count(fingerprint["lines"]) if "lines" in fingerprint else "—"),
        ("Documents", count(fingerprint["documents"]) if "documents" in fingerprint else "—"),
    ]
    if "first" in fingerprint and "last" in fingerprint:
        data.append(("Dates", f"{day(fingerprint['first'])} to {day(fingerprint['last'])}"))
    data += [(k.replace("_", " ").capitalize(), str(v)) for k, v in fingerprint.items()
             if k not in _FINGERPRINT]  # fmt: skip
    thresholds = context.thresholds
    channels = [
        ("Red channel", f"top {percent(thresholds['red_share'])} of documents, "
         f"score {thresholds['red_score']:.2f} or more"),
        ("Yellow channel", f"the next {percent(thresholds['yellow_share'])}, "
         f"score {thresholds['yellow_score']:.2f} or more"),
    ]  # fmt: skip
    return {"facts": facts, "windows": windows, "data": data,
            "sha256": str(fingerprint.get("sha256", "")), "channels": channels,
            "test_lines": count(context.evaluation["lines"]),
            "test_documents": count(context.evaluation["documents"])}  # fmt: skip


def build_page(context: ReportContext) -> dict[str, Any]:
    """Everything the template shows, with the charts drawn in the report's style."""
    red = context.thresholds["red_share"]
    with styled():
        return {
            "header": _header(context),
            "purpose": _purpose(context.thresholds),
            "drivers": _drivers(context),
            "budget": budget_section(context.evaluation, red),
            "typologies": typology_section(context.evaluation, red),
            "stability": stability_section(
                context.evaluation, context.importance, context.monthly_importance
            ),
            "calibration": calibration_section(context.evaluation["calibration"]),
            "model": _model(context),
            "card": context.card,
        }
