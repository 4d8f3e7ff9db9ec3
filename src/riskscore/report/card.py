"""The model card of a registered version: what it is for, what it was fitted on, how well it
does and where it falls short, in sections a reviewer reads in two minutes.

`model_card` builds the sections from what a run records (the model's metadata, thresholds
and evaluation); `card_markdown` writes them as the Markdown logged with the run, and the
managers' report shows the same sections. Figures on inspected labels (what customs can
observe) carry 95 % Wilson intervals; figures on the simulated truth are marked as such.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from riskscore.report.formatting import count, percent
from riskscore.report.glossary import ranker_name

_INTENDED_USE = (
    "Ranks customs and tax documents (DT, SNT, ESF) by the risk that they belong to a chain "
    "re-exporting sanctioned goods, so that inspectors look at the riskiest first. The system "
    "recommends; an officer decides. A score is not evidence of a violation, and no document "
    "is refused or held on the score alone."
)
_SELECTED = (
    "Labels are inspection results: documents nobody inspected are unlabelled, and inspections "
    "were chosen mostly by the current rules, so figures on inspected labels describe the kind "
    "of documents inspectors already look at."
)
_ALL_INSPECTED = (
    "Every document of the test window carries a label, so its figures are not biased by who "
    "chose the inspections; they still depend on how well those inspections found violations."
)
_LIMITS = (
    "Where the intervals are wide the counts are small: a difference inside them is noise.",
    "The model learns schemes that were found before; a new scheme shows only through the "
    "random share of inspections.",
    "Features read the parties' history inside this dataset only: a firm new to the data looks "
    "new whatever its real age.",
)


@dataclass(frozen=True)
class Section:
    """One section of the card: a title, paragraphs and an optional table (header + rows)."""

    title: str
    paragraphs: list[str] = field(default_factory=list)
    header: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)


def _interval(ci: list[float] | None) -> str:
    return "—" if ci is None else f"{percent(ci[0])} to {percent(ci[1])}"


def _budget_table(view: dict[str, Any], rankers: tuple[str, ...]) -> list[list[str]]:
    rows = []
    for row in view["budgets"]:
        if row["ranker"] not in rankers:
            continue
        rows.append([
            f"top {percent(row['budget'])}", ranker_name(row["ranker"]),
            f"{count(row['caught'])} of {count(row['selected'])}", percent(row["precision"]),
            _interval(row.get("precision_ci95")), percent(row["recall"]),
            _interval(row.get("recall_ci95")),
        ])  # fmt: skip
    return rows


_HEADER = ["budget", "ranker", "caught of selected", "precision", "95 % interval", "recall",
           "95 % interval"]  # fmt: skip


def model_card(
    name: str, version: str, metadata: dict[str, Any], thresholds: dict[str, float],
    evaluation: dict[str, Any],
) -> list[Section]:  # fmt: skip
    """The card's sections for one registered version."""
    use = Section("Intended use", [f"{name} version {version}. {_INTENDED_USE}"])
    sections = [use, _data(metadata, thresholds)]
    labels = evaluation["labels"]
    sections.append(Section(
        "Metrics on inspected labels (what customs can observe)",
        [f"Test window, {count(labels['documents'])} inspected documents, "
         f"{count(labels['positives'])} with a violation found. Precision: share of the "
         "selected documents with a violation; recall: share of the violations found."],
        _HEADER, _budget_table(labels, ("model", "raw_lightgbm", "legacy_rules", "random")),
    ))  # fmt: skip
    if "truth" in evaluation:
        truth = evaluation["truth"]
        sections.append(Section(
            "Metrics on the simulated truth (SIMULATED: not observable by customs)",
            [f"Every document of the test window ({count(truth['documents'])}, of which "
             f"{count(truth['positives'])} are evasion in the simulation). The oracle is the "
             "generator's chain-start probability, decided when a chain starts; a model that "
             "sees how the chain unfolds can beat it."],
            _HEADER, _budget_table(truth, ("model", "raw_lightgbm", "legacy_rules", "oracle")),
        ))  # fmt: skip
    sections.append(_per_type(evaluation, thresholds["red_share"]))
    everyone = labels["documents"] == evaluation["documents"]
    limits = [_ALL_INSPECTED if everyone else _SELECTED, *_LIMITS]
    limits += [f"Warning: {w}." for w in metadata.get("warnings", [])]
    sections.append(Section("Known limits", limits))
    return sections


def _data(metadata: dict[str, Any], thresholds: dict[str, float]) -> Section:
    windows = metadata["windows"]
    fingerprint = metadata["fingerprint"]
    source = metadata.get("split_source", "config")
    paragraphs = [
        f"Windows (split from {source}): train {windows['train'][0]}..{windows['train'][1]}, "
        f"validation {windows['validation'][0]}..{windows['validation'][1]}, "
        f"test {windows['test'][0]}..{windows['test'][1]}.",
        f"Dataset fingerprint (SHA-256 of its documents, firms and outcomes files): "
        f"{fingerprint.get('sha256')}; {count(fingerprint['lines'])} lines, "
        f"{count(fingerprint['documents'])} documents, "
        f"{fingerprint['first']}..{fingerprint['last']}, "
        f"home country {fingerprint.get('home_country', 'KZ')}.",
        f"Label source: {metadata.get('label_source', 'inspection outcomes')}.",
        f"Channels: red = top {percent(thresholds['red_share'])} of documents, yellow = the next "
        f"{percent(thresholds['yellow_share'])} (thresholds set on validation).",
    ]
    return Section("Data", paragraphs)


def _per_type(evaluation: dict[str, Any], red_share: float) -> Section:
    rows = []
    for doc_type, views in sorted(evaluation.get("by_doc_type", {}).items()):
        for key, label in (("labels", "inspected labels"), ("truth", "SIMULATED truth")):
            if key not in views:
                continue
            view = views[key]
            model = [r for r in view["budgets"] if r["ranker"] == "model"]
            if not model:
                continue
            row = min(model, key=lambda r: abs(r["budget"] - red_share))
            rows.append([
                doc_type, label, count(view["documents"]), count(view["positives"]),
                percent(row["precision"]), _interval(row.get("precision_ci95")),
            ])  # fmt: skip
    return Section(
        "Per document type (model at the red budget, each type ranked on its own)",
        [],
        ["type", "labels", "documents", "positives", "precision", "95 % interval"],
        rows,
    )


def card_markdown(sections: list[Section]) -> str:
    """The card as Markdown."""
    lines = ["# Model card", ""]
    for section in sections:
        lines += [f"## {section.title}", ""]
        for paragraph in section.paragraphs:
            lines += [paragraph, ""]
        if section.header:
            lines.append("| " + " | ".join(section.header) + " |")
            lines.append("|" + "---|" * len(section.header))
            lines += ["| " + " | ".join(row) + " |" for row in section.rows]
            lines.append("")
    return "\n".join(lines)
