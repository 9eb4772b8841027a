"""Insight questions in words: date ranges and durations as people say them."""

from __future__ import annotations

from prodops.domains.analytics.service.insights.types import RELATIVE

_UNITS = {"h": "hour", "d": "day", "w": "week", "m": "month"}


def range_words(date_from: str, date_to: str | None) -> str:
    """``-90d`` → "last 90 days"; ``2026-01-01`` to ``2026-01-31`` → "2026-01-01 to 2026-01-31"."""
    match = RELATIVE.match(date_from)
    if match and date_to is None:
        n, unit = int(match.group(1)), _UNITS[match.group(2)]
        return f"last {unit}" if n == 1 else f"last {n} {unit}s"
    return f"{date_from} to {date_to or 'now'}"


def duration_words(seconds: float | None) -> str:
    """A duration for people: 45 s, 12 min, 3.5 h, 2.1 days."""
    if seconds is None:
        return "—"
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"
