from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from riskscore.errors import ConfigError
from riskscore.training.config import default_config_text, load_config
from riskscore.training.train import attach_outcomes, channel_thresholds, labelled_masks

ROOT = Path(__file__).resolve().parents[2]


def test_the_editable_copy_of_the_default_config_is_the_packaged_one() -> None:
    assert (ROOT / "training" / "configs" / "default.toml").read_text() == default_config_text()


def test_default_config_parses_and_flags_override() -> None:
    config = load_config(None, {"lightgbm.seed": 9, "split.test_end": "2024-06-30"})
    assert config.lightgbm.seed == 9
    assert str(config.split.test_end) == "2024-06-30"
    assert config.split.windows()["validation"][0].isoformat() == "2023-07-01"


@pytest.mark.parametrize(
    ("override", "named"),
    [
        ({"split.train_end": "2025-01-01"}, "windows must follow each other"),
        ({"lightgbm.learning_rate": -1}, "lightgbm.learning_rate"),
        ({"channels.red_share": 2}, "channels.red_share"),
        ({"lightgbm.colour": "red"}, "lightgbm.colour"),
    ],
    ids=["windows-out-of-order", "negative-rate", "share-above-one", "unknown-key"],
)
def test_bad_configs_name_the_field(override: dict[str, object], named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        load_config(None, override)


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nope\.toml"):
        load_config(tmp_path / "nope.toml")


def test_labels_only_count_once_recorded_before_the_next_window() -> None:
    config = load_config()
    issued = ["2023-06-01", "2023-06-20", "2023-08-01", "2023-08-02"]
    documents = pd.DataFrame(
        {"document_id": list("ABCD"), "item_no": 1, "issued_at": pd.to_datetime(issued, utc=True)}
    )
    recorded = ["2023-06-15", "2023-07-10", "2023-08-20"]
    outcomes = pd.DataFrame(
        {
            "document_id": list("ABC"),
            "item_no": 1,
            "violation_found": [True, False, True],
            "recorded_at": pd.to_datetime(recorded, utc=True),
        }
    )
    lines = attach_outcomes(documents, outcomes)
    masks = labelled_masks(lines, config.split)
    assert masks["train"].tolist() == [True, False, False, False]  # B's label came too late
    assert masks["validation"].tolist() == [False, False, True, False]  # D was never inspected


def test_channel_thresholds_send_the_configured_shares() -> None:
    config = load_config()
    scores = np.random.default_rng(0).random(10_000)
    t = channel_thresholds(scores, config.channels)
    assert (scores >= t["red_score"]).mean() == pytest.approx(0.02, abs=0.002)
    assert (scores >= t["yellow_score"]).mean() == pytest.approx(0.10, abs=0.003)
