"""Promotion: the challenger becomes champion only if it catches more on the same test window.

Both models score the challenger's test window with their own feature statistics; the
comparison is precision at the red-channel budget on the inspected labels (what a customs
service can check). With ground truth present the same figure on the truth is recorded too.
The decision and its figures are written as tags on the challenger's model version. A
challenger registered with a warning (`registry.WARNING_TAG`: too few positives, or no better
than random on validation) is refused unless forced.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from riskscore import registry
from riskscore.data import World, load_world
from riskscore.errors import RegistryError
from riskscore.features import build_features
from riskscore.model import RiskModel
from riskscore.registry import Client, Registered
from riskscore.training.evaluate import documents_of, top_share
from riskscore.training.pipeline import Baselines, score_window
from riskscore.training.split import in_window
from riskscore.training.train import attach_outcomes


@dataclass(frozen=True)
class Decision:
    """What promote decided and why."""

    promoted: bool
    reason: str
    challenger: Registered
    champion: Registered | None
    figures: dict[str, float]


def red_precision(
    model: RiskModel, world: World, window: tuple[str, str], share: float
) -> dict[str, float]:
    """Precision at the model's red budget on the window, on labels (and on the world's truth
    when it has one)."""
    lines = attach_outcomes(world.documents, world.outcomes)
    mask = in_window(lines["issued_at"], date.fromisoformat(window[0]),
                     date.fromisoformat(window[1]))  # fmt: skip
    features = build_features(world.documents, model.stats, world.firms, world.outcomes)
    baselines = Baselines(truth=world.truth)
    docs = documents_of(score_window(model, world.documents, features, lines, mask, baselines, 0))
    inspected = docs[docs["inspected"]]
    chosen = top_share(inspected["model"].to_numpy(), share)
    figures = {"precision_labels": float(inspected["violation_found"].to_numpy()[chosen].mean())}
    if "is_evasion" in docs:
        chosen_all = top_share(docs["model"].to_numpy(), share)
        figures["precision_truth"] = float(docs["is_evasion"].to_numpy()[chosen_all].mean())
    return figures


def promote(
    client: Client, name: str, force: bool = False, data_dir: Path | None = None
) -> Decision:
    """Move `champion` to the challenger if it beats the champion (or `force`), compared on
    `data_dir` (default: the dataset the challenger was trained on)."""
    challenger = registry.resolve(client, name, "challenger")
    if challenger is None:
        raise RegistryError(f"model {name!r} has no challenger: run `riskscore train` first")
    champion = registry.resolve(client, name, "champion")
    if champion is not None and champion.version == challenger.version:
        return Decision(False, "the challenger is already champion", challenger, champion, {})
    warning = registry.version_tags(client, challenger).get(registry.WARNING_TAG)
    if warning and not force:
        return _refused(client, challenger, champion, warning)
    new = registry.load_model(challenger)
    world = load_world(data_dir or Path(new.metadata["data_dir"]))
    window = (str(new.metadata["windows"]["test"][0]), str(new.metadata["windows"]["test"][1]))
    share = new.thresholds["red_share"]  # both models are judged at the same budget
    figures: dict[str, float] = {
        f"challenger_{k}": v for k, v in red_precision(new, world, window, share).items()
    }
    if champion is None:
        promoted, reason = (
            True,
            "no champion yet" + (" (forced past its warning)" if warning else ""),
        )
    else:
        old = registry.load_model(champion)
        if _overlaps(old, window):
            figures["champion_saw_test_window"] = 1.0
        figures |= {f"champion_{k}": v for k, v in red_precision(old, world, window, share).items()}
        better = figures["challenger_precision_labels"] > figures["champion_precision_labels"]
        if figures.get("champion_saw_test_window"):
            better = False  # the champion trained or validated on these documents: no fair test
        promoted = better or force
        reason = (
            "beats the champion"
            if better
            else ("forced" if force else "does not beat the champion")
        )
        if figures.get("champion_saw_test_window") and not force:
            reason = "not comparable: the champion trained or validated on this test window"
    tags: dict[str, Any] = {
        "promotion_decision": "promoted" if promoted else "rejected",
        "promotion_reason": reason,
        "compared_on_window": f"{window[0]}..{window[1]}",
        "compared_with_version": champion.version if champion else "none",
    }
    registry.tag_version(client, challenger, tags | figures)
    if promoted:
        registry.set_alias(client, challenger, "champion")
    return Decision(promoted, reason, challenger, champion, figures)


def _refused(
    client: Client, challenger: Registered, champion: Registered | None, warning: str
) -> Decision:
    """A challenger registered with a warning is not promoted unless forced; the decision is
    recorded on its version."""
    reason = f"registered with a warning ({warning}); promote with --force to override"
    registry.tag_version(client, challenger, {"promotion_decision": "rejected",
                                              "promotion_reason": reason})  # fmt: skip
    return Decision(False, reason, challenger, champion, {})


def _overlaps(model: RiskModel, window: tuple[str, ...]) -> bool:
    """Whether the model's training or validation window reaches into `window`."""
    first, last = window[0], window[1]
    seen = [model.metadata["windows"][name] for name in ("train", "validation")]
    return any(start <= last and end >= first for start, end in seen)
