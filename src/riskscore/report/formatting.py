"""Numbers and dates written for people: percentages, thousands separators, short dates."""

from __future__ import annotations

from datetime import date, datetime

# A non-breaking space keeps "42 %" on one line wherever the browser wraps.
NBSP = "\u00a0"


def percent(share: float) -> str:
    """A share as a percentage: whole numbers from 10 % up, one decimal below.

    >>> percent(0.4231), percent(0.05), percent(0.0042), percent(1.0)
    ('42\\xa0%', '5\\xa0%', '0.4\\xa0%', '100\\xa0%')
    """
    value = 100 * share
    if abs(value) >= 10 or round(value, 1) == round(value):
        return f"{round(value):d}{NBSP}%"
    return f"{value:.1f}{NBSP}%"


def count(number: float) -> str:
    """A count with thousands separators.

    >>> count(135556), count(7.0)
    ('135,556', '7')
    """
    return f"{round(number):,d}"


def day(iso: str) -> str:
    """An ISO date or timestamp as a short day: "1 Jul 2024".

    >>> day("2024-07-01"), day("2024-12-31 00:00:00")
    ('1 Jul 2024', '31 Dec 2024')
    """
    parsed = date.fromisoformat(iso[:10])
    return f"{parsed.day} {parsed:%b %Y}"


def moment(iso: str) -> str:
    """An ISO timestamp as day and minute, or the text as given when it is not ISO.

    >>> moment("2025-01-15T09:30:12+00:00"), moment("yesterday")
    ('15 Jan 2025, 09:30 UTC', 'yesterday')
    """
    try:
        parsed = datetime.fromisoformat(iso)
    except ValueError:
        return iso
    zone = f" {parsed.tzname()}" if parsed.tzinfo is not None else ""
    return f"{parsed.day} {parsed:%b %Y, %H:%M}{zone}"


def month(period: str, compact: bool = False) -> str:
    """A "YYYY-MM" month as a short axis label; `compact` gives the year only in January.

    >>> month("2024-07"), month("2024-07", compact=True), month("2025-01", compact=True)
    ('Jul 24', 'Jul', 'Jan\\n2025')
    """
    first = date.fromisoformat(period + "-01")
    if not compact:
        return f"{first:%b %y}"
    return f"{first:%b}\n{first:%Y}" if first.month == 1 else f"{first:%b}"


def span(first: str, last: str) -> str:
    """A window of days in words, with its length in months.

    >>> span("2024-07-01", "2024-12-31")
    '1 Jul 2024 to 31 Dec 2024 (6\xa0months)'
    """
    days = (date.fromisoformat(last[:10]) - date.fromisoformat(first[:10])).days + 1
    months = round(days / 30.44)
    length = f"{months}{NBSP}months" if months > 1 else f"{days}{NBSP}days"
    return f"{day(first)} to {day(last)} ({length})"


def shorten(text: str, width: int) -> str:
    """The text cut to `width` characters, with an ellipsis when cut.

    >>> shorten("Days since the firm was registered", 20)
    'Days since the firm…'
    """
    if len(text) <= width:
        return text
    return text[: width - 1].rstrip() + "…"
