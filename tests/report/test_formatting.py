from __future__ import annotations

import pytest

from riskscore.report.formatting import count, percent, shorten, span


@pytest.mark.parametrize(
    ("share", "expected"),
    [(0.0, "0\xa0%"), (0.0042, "0.4\xa0%"), (0.095, "9.5\xa0%"), (0.0999, "10\xa0%"),
     (0.2749, "27\xa0%"), (1.0, "100\xa0%")],
    ids=["zero", "below-one", "one-decimal", "rounds-up-to-ten", "whole", "all"],
)  # fmt: skip
def test_percent(share: float, expected: str) -> None:
    assert percent(share) == expected


def test_count_separates_thousands() -> None:
    assert count(1_234_567) == "1,234,567"


@pytest.mark.parametrize(
    ("first", "last", "expected"),
    [("2024-07-01", "2024-07-10", "1 Jul 2024 to 10 Jul 2024 (10\xa0days)"),
     ("2021-01-01", "2023-06-30", "1 Jan 2021 to 30 Jun 2023 (30\xa0months)")],
    ids=["days", "months"],
)  # fmt: skip
def test_span(first: str, last: str, expected: str) -> None:
    assert span(first, last) == expected


def test_shorten_keeps_short_text_whole() -> None:
    assert shorten("Route", 10) == "Route"
    assert len(shorten("x" * 80, 58)) == 58
