"""Trends: how much of something happened per interval.

Definitions
- **Total count**: the number of matching events in the interval.
- **Unique people**: the number of distinct people (after merges) with a matching event in the interval.
- **Unique accounts**: the number of distinct accounts with a matching event in the interval; an event's account
  is its own, else its person's; events with neither are not counted.
- **Sum / average / minimum / maximum / median / 90th, 95th, 99th percentile of a property**: over the matching
  events whose event property reads as a number (others are skipped); percentiles are interpolated
  (``quantile_cont``). An interval without such events has no value (sums: 0).
- **Intervals** are hours, days, weeks (Monday to Sunday) or calendar months in UTC; every interval of the range is
  shown, those without events as 0.
- **Filters** keep the events whose event, person or account property passes every test (equals, not equals
  — also true when the property is missing —, contains ignoring case, greater or less than a number, is set,
  is not set).
- **Breakdown** by an event, person or account property: one line per value. When there are more values than the
  limit, the values with the largest sum over the period's intervals get their own line and the rest are
  measured together as **Other** (a person counts once in Other, not once per value); events without the
  property are "(none)".
- **Compare with the previous period**: the same measure over the same length of time just before the range,
  drawn interval by interval over the current one.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from prodops.domains.analytics.service.insights import sql as q
from prodops.domains.analytics.service.insights.describe import range_words
from prodops.domains.analytics.service.insights.types import (
    INTERVAL_LABELS,
    PROPERTY_MATHS,
    InsightResult,
    Point,
    RanSql,
    Series,
    SeriesResult,
    TrendsQuery,
)
from prodops.platform.warehouse import Warehouse

AGGREGATES = {
    "total": "count(*)",
    "people": "count(DISTINCT person_id)",
    "accounts": "count(DISTINCT account_id)",
    "sum": "sum(val)",
    "avg": "avg(val)",
    "min": "min(val)",
    "max": "max(val)",
    "median": "quantile_cont(val, 0.5)",
    "p90": "quantile_cont(val, 0.9)",
    "p95": "quantile_cont(val, 0.95)",
    "p99": "quantile_cont(val, 0.99)",
}
ZERO_FILLED = {"total", "people", "accounts", "sum"}
DISTINCT_MATHS = {"people", "accounts"}
FOLDABLE: dict[str, Callable[[list[Any]], Any]] = {"total": sum, "sum": sum, "min": min, "max": max}


def _number(value: Any, math: str) -> float | None:
    if value is None:
        return 0 if math in ZERO_FILLED else None
    return int(value) if math in {"total", "people", "accounts"} else float(value)


def _series_sql(
    query: TrendsQuery, series: Series, start: dt.datetime, end: dt.datetime, top: list[str] | None
) -> tuple[str, q.Sql]:
    sql = q.Sql()
    bd = query.breakdown
    agg = AGGREGATES[series.math]
    if series.math in DISTINCT_MATHS:
        # Who was active per interval, deduplicated before the person and account joins (see actors_sql).
        base = q.actors_sql(
            sql,
            start=start,
            end=end,
            unit=query.interval,
            events=[series.event] if series.event else None,
            filters=query.filters,
            breakdown=(bd.source, bd.property) if bd else None,
            accounts=series.math == "accounts",
        )
        bucket = "bucket"
    else:
        columns: list[str] = []
        need: list[str] = []
        if series.math in PROPERTY_MATHS:
            columns.append(f"{q.numeric_prop(sql, 'event', series.property or '')} AS val")
        if bd is not None:
            columns.append(f"COALESCE({q.prop(sql, bd.source, bd.property)}, {sql.p(q.NONE_LABEL)}) AS bd")
            need.append(bd.source)
        base = q.events_sql(
            sql,
            start=start,
            end=end,
            events=[series.event] if series.event else None,
            filters=query.filters,
            columns=columns,
            need=need,
        )
        bucket = f"date_trunc('{q.TRUNC[query.interval]}', ts)"
    if bd is None:
        text = f"SELECT {bucket} AS bucket, {agg} AS value\nFROM (\n{base}\n) t\nGROUP BY 1\nORDER BY 1"
    else:
        label = "bd"
        if top is not None:
            listed = ", ".join(sql.p(v) for v in top)
            label = f"CASE WHEN bd IN ({listed}) THEN bd ELSE {sql.p(q.OTHER_LABEL)} END"
        text = f"SELECT {bucket} AS bucket, {label} AS bd, {agg} AS value\nFROM (\n{base}\n) t\nGROUP BY 1, 2\nORDER BY 1, 2"
    return text, sql


def _measure(
    wh: Warehouse, query: TrendsQuery, series: Series, start: dt.datetime, end: dt.datetime, ran: list[RanSql]
) -> dict[str | None, dict[dt.datetime, Any]]:
    """Breakdown value (None without a breakdown) → bucket → value, with top-N + Other applied."""
    text, sql = _series_sql(query, series, start, end, None)
    ran.append(sql.ran(text))
    found: dict[str | None, dict[dt.datetime, Any]] = defaultdict(dict)
    rows = wh.query(text, sql.params).rows
    for row in rows:
        if query.breakdown is None:
            found[None][row[0]] = row[1]
        else:
            found[row[1]][row[0]] = row[2]
    bd = query.breakdown
    if bd is None:
        return {None: found[None]}  # the line is drawn (all zeros) even when nothing matched
    if len(found) <= bd.limit:
        return found
    ranked = sorted(found, key=lambda k: (-sum(float(v or 0) for v in found[k].values()), str(k)))
    top = [str(k) for k in ranked[: bd.limit]]
    fold = FOLDABLE.get(series.math)
    if fold is not None:
        other: dict[dt.datetime, list[Any]] = defaultdict(list)
        for key in ranked[bd.limit :]:
            for bucket, value in found[key].items():
                if value is not None:
                    other[bucket].append(value)
        kept: dict[str | None, dict[dt.datetime, Any]] = {k: found[k] for k in top}
        kept[q.OTHER_LABEL] = {b: fold(vs) for b, vs in other.items()}
        return kept
    text, sql = _series_sql(query, series, start, end, top)
    ran.append(sql.ran(text))
    regrouped: dict[str | None, dict[dt.datetime, Any]] = {k: {} for k in [*top, q.OTHER_LABEL]}
    for bucket, key, value in wh.query(text, sql.params).rows:
        regrouped.setdefault(key, {})[bucket] = value
    return regrouped


def run(wh: Warehouse, query: TrendsQuery, now: dt.datetime) -> InsightResult:
    start, end = q.resolve_range(query.date_from, query.date_to, query.interval, now)
    slots = q.buckets(start, end, query.interval)
    ran: list[RanSql] = []
    out: list[SeriesResult] = []
    periods = [(start, end, slots, False)]
    if query.compare:
        prev_start = q.trunc(start - (end - start), query.interval)
        periods.append((prev_start, start, q.buckets(prev_start, start, query.interval), True))
    for series in query.series:
        name = series.describe()
        for p_start, p_end, p_slots, is_previous in periods:
            measured = _measure(wh, query, series, p_start, p_end, ran)
            for key, values in measured.items():
                label = name if key is None else (f"{key}" if len(query.series) == 1 else f"{name} · {key}")
                if is_previous:
                    label += " (previous period)"
                fill = 0 if series.math in ZERO_FILLED else None
                # The previous period is drawn over the current one, interval by interval from the first.
                points = [
                    Point(
                        bucket=q.utc(shown),
                        value=_number(values.get(p_slots[i], fill), series.math) if i < len(p_slots) else None,
                    )
                    for i, shown in enumerate(slots)
                ]
                out.append(SeriesResult(label=label, breakdown=key, compare=is_previous, points=points))
    columns = ["Interval", *[s.label for s in out]]
    rows = [[q.utc(b), *[s.points[i].value for s in out]] for i, b in enumerate(slots)]
    first = query.series[0].describe() if len(query.series) == 1 else ", ".join(s.describe() for s in query.series)
    by = f" by {query.breakdown.describe()}" if query.breakdown else ""
    title = f"{first}{by}, {INTERVAL_LABELS[query.interval].lower()}, {range_words(query.date_from, query.date_to)}"
    return InsightResult(
        kind="trends",
        title=title,
        date_from=q.utc(start),
        date_to=q.utc(end),
        interval=query.interval,
        series=out,
        columns=columns,
        rows=rows,
        sql=ran,
    )
