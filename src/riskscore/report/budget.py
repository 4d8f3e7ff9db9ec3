"""What an inspection budget catches, overall and scheme by scheme, in words and tables."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from riskscore.report.charts import budget_chart, typology_chart
from riskscore.report.formatting import count, percent
from riskscore.report.glossary import RANKER_NOTES, RANKERS, ranker_name, typology_name

_CHART_VIEWS: dict[str, str] = {
    "truth": "every document, with what really happened: SIMULATED, customs cannot observe it",
    "labels": "only the documents customs inspected, with what the inspections found",
}
_SMALL = 200  # below this many selected documents a hit rate is shown with its interval
_VIEWS: dict[str, tuple[str, str]] = {
    "truth": (
        "What really happened (SIMULATED: known only in simulation, not observable by customs)",
        "Every document of the test window, with the violations the simulation planted, "
        "whether anyone inspected them or not.",
    ),
    "labels": (
        "What customs can observe: the inspected documents",
        "Only the documents customs inspected, with the violations the inspections found. "
        "Those documents were picked mostly by the current rules, so violations nobody "
        "inspected are missing from this view.",
    ),
}


def main_view(evaluation: dict[str, Any]) -> str:
    """The view the headline figures use: the truth when the data has it, else the labels."""
    return "truth" if "truth" in evaluation else "labels"


def nearest_budget(rows: Sequence[dict[str, Any]], share: float) -> float:
    """The evaluated budget closest to `share` (the red channel's share of documents)."""
    return min({float(r["budget"]) for r in rows}, key=lambda b: abs(b - share))


def rankers_of(rows: Sequence[dict[str, Any]]) -> list[str]:
    """The rankers present in budget rows, in the report's order."""
    present = {r["ranker"] for r in rows}
    return [r for r in RANKERS if r in present] + sorted(present - set(RANKERS))


def _row(rows: Sequence[dict[str, Any]], ranker: str, budget: float) -> dict[str, Any] | None:
    return next(
        (r for r in rows if r["ranker"] == ranker and abs(float(r["budget"]) - budget) < 1e-9),
        None,
    )


def headline(evaluation: dict[str, Any], red_share: float) -> dict[str, Any]:
    """Violations the model and the current rules catch in the red channel's budget."""
    view = evaluation[main_view(evaluation)]
    budget = nearest_budget(view["budgets"], red_share)
    model = _row(view["budgets"], "model", budget)
    rules = _row(view["budgets"], "legacy_rules", budget)
    return {"budget": percent(budget), "positives": count(view["positives"]),
            "model": _cell(model, view["positives"]), "rules": _cell(rules, view["positives"]),
            "truth": main_view(evaluation) == "truth"}  # fmt: skip


def _cell(row: dict[str, Any] | None, positives: int) -> dict[str, str] | None:
    if row is None:
        return None
    ci = row.get("precision_ci95")
    small = ci is not None and int(row["selected"]) < _SMALL
    return {
        "caught": count(row["caught"]),
        "positives": count(positives),
        "recall": percent(row["recall"]),
        "precision": percent(row["precision"]),
        "interval": f"{percent(ci[0])} to {percent(ci[1])}" if small and ci else "",
    }


def _sentence(evaluation: dict[str, Any], red_share: float) -> str:
    top = headline(evaluation, red_share)
    model, rules = top["model"], top["rules"]
    if model is None:
        return ""
    where = "of documents" if top["truth"] else "of the documents customs inspected"
    text = (
        f"Inspecting the top {top['budget']} {where}, the model catches {model['caught']} "
        f"of {top['positives']} violations ({model['recall']}"
        + (", SIMULATED: counted on the simulation's truth)" if top["truth"] else ")")
    )
    if rules is not None:
        text += f", the current rules catch {rules['caught']} ({rules['recall']})"
    return text + "."


def _table(view: dict[str, Any], key: str) -> dict[str, Any]:
    rankers = rankers_of(view["budgets"])
    budgets = sorted({float(r["budget"]) for r in view["budgets"]})
    rows = []
    for budget in budgets:
        cells = [_cell(_row(view["budgets"], r, budget), view["positives"]) for r in rankers]
        selected = max(int(r["selected"]) for r in view["budgets"] if r["budget"] == budget)
        rows.append({"budget": percent(budget), "selected": count(selected), "cells": cells})
    title, note = _VIEWS[key]
    pr_auc = view.get("pr_auc", {})
    auc = ", ".join(f"{ranker_name(r)} {pr_auc[r]:.2f}" for r in rankers if r in pr_auc)
    return {"key": key, "title": title, "note": note, "documents": count(view["documents"]),
            "positives": count(view["positives"]),
            "rankers": [{"key": r, "name": ranker_name(r)} for r in rankers],
            "rows": rows, "pr_auc": auc}  # fmt: skip


def budget_section(evaluation: dict[str, Any], red_share: float) -> dict[str, Any]:
    """The budget section: headline sentence, recall chart and one table per label view."""
    key = main_view(evaluation)
    view = evaluation[key]
    rankers = rankers_of(view["budgets"])
    views = [k for k in ("truth", "labels") if k in evaluation]
    present = {r for k in views for r in rankers_of(evaluation[k]["budgets"])}
    return {
        "sentence": _sentence(evaluation, red_share),
        "simulated": "truth" in evaluation,
        "chart": budget_chart(view["budgets"], rankers),
        "chart_view": _CHART_VIEWS[key],
        "tables": [_table(evaluation[k], k) for k in views],
        "rankers": [(ranker_name(r), RANKER_NOTES[r]) for r in RANKERS if r in present],
    }


def typology_section(evaluation: dict[str, Any], red_share: float) -> dict[str, Any]:
    """Recall of each evasion scheme at the red budget, model against the current rules."""
    rows = evaluation.get("truth", {}).get("typology_recall", [])
    if not rows:
        return {"available": False}
    budget = nearest_budget(rows, red_share)
    chosen = [r for r in rows if abs(float(r["budget"]) - budget) < 1e-9]
    rankers = [r for r in ("model", "legacy_rules") if any(x["ranker"] == r for x in chosen)]
    recall = {(r["typology"], r["ranker"]): float(r["recall"]) for r in chosen}
    documents = {r["typology"]: int(r["documents"]) for r in chosen}
    order = sorted(documents, key=lambda t: (-documents[t], t))
    table = [
        {"name": typology_name(t)[0], "description": typology_name(t)[1],
         "documents": count(documents[t]),
         "recall": [percent(recall.get((t, r), 0.0)) for r in rankers]}
        for t in order
    ]  # fmt: skip
    series = {r: [recall.get((t, r), 0.0) for t in order] for r in rankers}
    return {
        "available": True,
        "budget": percent(budget),
        "rankers": [ranker_name(r) for r in rankers],
        "rows": table,
        "sentence": _typology_sentence(order, series, percent(budget)),
        "chart": typology_chart([typology_name(t)[0] for t in order], series),
    }


def _typology_sentence(order: list[str], series: dict[str, list[float]], budget: str) -> str:
    model = series.get("model")
    if not model:
        return ""
    strong = sum(v >= 0.5 for v in model)
    text = (
        f"Inspecting the top {budget} of documents, the model catches at least half of the "
        f"documents of {strong} of the {len(order)} schemes"
    )
    rules = series.get("legacy_rules")
    if rules:
        better = sum(m > r for m, r in zip(model, rules, strict=True))
        on = f"all {better}" if better == len(order) else f"{better} of them"
        text += f" and does better than the current rules on {on}"
    weakest = min(range(len(order)), key=lambda i: model[i])
    name = typology_name(order[weakest])[0].lower()
    return text + f". Its weakest spot is {name} ({percent(model[weakest])} caught)."
