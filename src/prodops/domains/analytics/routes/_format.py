"""Insight numbers and tables for people: formatted cells, definitions as Markdown, CSV rows."""

from __future__ import annotations

import datetime as dt
import inspect
from typing import Any

from markupsafe import Markup

from prodops.domains.analytics.service.insights import (
    adoption,
    datasets,
    funnels,
    lifecycle,
    retention,
    stickiness,
    trends,
)
from prodops.domains.analytics.service.insights.describe import duration_words
from prodops.domains.analytics.service.insights.types import InsightResult
from prodops.platform.web import fmt_compact, fmt_money, fmt_number, render_markdown

_MODULES = {
    "trends": trends,
    "funnel": funnels,
    "retention": retention,
    "stickiness": stickiness,
    "lifecycle": lifecycle,
    "adoption": adoption,
    "dataset": datasets,
}
_SHARE_COLUMNS = ("Conversion", "Share", "Adoption")


def definitions(kind: str) -> Markup:
    """The definitions written in the insight module's docstring, as sanitised HTML."""
    doc = inspect.getdoc(_MODULES[kind]) or ""
    _, _, body = doc.partition("\n\n")
    return render_markdown(body)


def when(value: dt.datetime, interval: str | None) -> str:
    if interval == "hour":
        return value.strftime("%a %d %b %Y %H:00")
    if interval == "month":
        return value.strftime("%B %Y")
    if interval == "week":
        return "Week of " + value.strftime("%d %b %Y")
    return value.strftime("%a %d %b %Y")


def cell(value: Any, column: str, interval: str | None) -> str:
    if value is None:
        return "—"
    if isinstance(value, dt.datetime):
        return when(value, interval)
    if isinstance(value, float) and column.startswith(_SHARE_COLUMNS):
        return f"{value:.1%}"
    if isinstance(value, float) and column.startswith("Retention"):
        return f"{value:.1%}"
    if isinstance(value, bool | str):
        return str(value)
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer() and abs(value) < 1e15):
        return fmt_number(value)
    return fmt_number(value, 2)


def table(result: InsightResult) -> list[list[str]]:
    rows = [[cell(v, result.columns[i], result.interval) for i, v in enumerate(row)] for row in result.rows]
    if result.kind == "retention":
        # Cohort cells also say which share of the cohort came back.
        for shown, row in zip(rows, result.rows, strict=True):
            size = row[1]
            for i in range(3, len(row)):
                if row[i] is not None and size:
                    shown[i] = f"{shown[i]} ({row[i] / size:.0%})"
    return rows


def csv_rows(result: InsightResult) -> list[list[Any]]:
    return [[v.isoformat() if isinstance(v, dt.datetime) else v for v in row] for row in result.rows]


def metric_value(value: float | None, fmt: str, unit: str = "") -> str:
    """A metric reading as people read it: 12.4K, 42%, $1.2M, 3.5 h."""
    if value is None:
        return "—"
    if fmt == "percent":
        return f"{value:.1%}"
    if fmt == "currency":
        return fmt_money(value)
    if fmt == "duration":
        return duration_words(value)
    return fmt_compact(value) if abs(value) >= 10_000 else fmt_number(value, 0 if float(value).is_integer() else 2)


def metric_change(change: float | None, fmt: str) -> str:
    if change is None:
        return ""
    sign = "+" if change > 0 else ("−" if change < 0 else "±")
    size = abs(change)
    if fmt == "percent":
        return f"{sign}{size * 100:.1f} pts"
    return f"{sign}{metric_value(size, fmt)}"
