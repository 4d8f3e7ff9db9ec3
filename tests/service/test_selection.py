"""The random draw: keyed, so unpredictable without the secret, stable per document, and the
share holds over any stream of ids."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from scipy.stats import binomtest

from riskscore.config import Settings
from riskscore.errors import ConfigError
from riskscore.service.selection import RandomSelection, write_secret

KEY = b"0123456789abcdef0123456789abcdef"


def _unkeyed(document_id: str, share: float) -> bool:
    """The draw before keys: anyone could compute it from the id alone."""
    digest = hashlib.sha256(document_id.encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < share


def test_the_same_document_always_gets_the_same_draw() -> None:
    selection = RandomSelection(KEY, 0.5)
    ids = [f"KZESF-{i:08d}" for i in range(200)]
    assert [selection.drawn(i) for i in ids] == [selection.drawn(i) for i in ids]


def test_ids_an_evader_picks_from_the_unkeyed_hash_are_still_drawn_at_the_share() -> None:
    """An evader who knew the old unkeyed draw sends only ids it would never draw; under the
    key they are drawn at the configured share like any others."""
    share = 0.05
    never = [i for i in (f"KZSNT-{n:09d}" for n in range(60_000)) if not _unkeyed(i, share)]
    drawn = sum(RandomSelection(KEY, share).drawn(i) for i in never)
    assert binomtest(drawn, len(never), share).pvalue > 1e-4


def test_another_key_draws_other_documents() -> None:
    ids = [f"KZDT-{n:08d}" for n in range(20_000)]
    first = {i for i in ids if RandomSelection(KEY, 0.05).drawn(i)}
    second = {i for i in ids if RandomSelection(KEY[::-1], 0.05).drawn(i)}
    assert len(first & second) < 0.2 * len(first)  # independent draws overlap ~5 %


def test_a_share_of_zero_draws_nothing_and_needs_no_secret(tmp_path: Path) -> None:
    selection = RandomSelection.of(Settings(data_dir=tmp_path, random_share=0.0))
    assert not any(selection.drawn(f"D{n}") for n in range(1_000))


def test_a_share_above_zero_needs_a_secret(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="RISKSCORE_RANDOM_SECRET"):
        RandomSelection.of(Settings(data_dir=tmp_path, random_share=0.01))
    with pytest.raises(ConfigError, match="at least 16 bytes"):
        RandomSelection.of(Settings(data_dir=tmp_path, random_secret="short"))


def test_the_secret_comes_from_the_environment_or_the_file(tmp_path: Path) -> None:
    write_secret(tmp_path / "random.secret")
    from_file = RandomSelection.of(Settings(data_dir=tmp_path, random_share=0.5))
    from_env = RandomSelection.of(Settings(data_dir=tmp_path, random_share=0.5,
                                           random_secret=KEY.decode()))  # fmt: skip
    ids = [f"D{n}" for n in range(400)]
    assert [from_env.drawn(i) for i in ids] == [RandomSelection(KEY, 0.5).drawn(i) for i in ids]
    assert [from_file.drawn(i) for i in ids] != [from_env.drawn(i) for i in ids]
