"""Stickiness: how many of the period's intervals people were active in.

Definition: for every person with at least one matching event in the date range, count the distinct intervals
(days, weeks or months, UTC) in which they had one; the insight shows how many people were active in exactly
1, 2, … N intervals, N being the number of intervals in the range, and each count's share of those people.
"""

from __future__ import annotations

import datetime as dt

from prodops.domains.analytics.service.insights import sql as q
from prodops.domains.analytics.service.insights.describe import range_words
from prodops.domains.analytics.service.insights.types import InsightResult, StickinessQuery
from prodops.platform.warehouse import Warehouse


def run(wh: Warehouse, query: StickinessQuery, now: dt.datetime) -> InsightResult:
    start, end = q.resolve_range(query.date_from, query.date_to, query.interval, now)
    sql = q.Sql()
    base = q.events_sql(sql, start=start, end=end, events=[query.event] if query.event else None, filters=query.filters)
    unit = q.TRUNC[query.interval]
    text = (
        f"WITH ev AS (\n{base}\n),\nper AS (\n  SELECT person_id, count(DISTINCT date_trunc('{unit}', ts)) AS n FROM ev GROUP BY person_id\n)\n"  # noqa: S608  # identifiers from whitelists; user text travels as $parameters
        "SELECT n, count(*) AS people FROM per GROUP BY n ORDER BY n"
    )
    found = {int(n): int(c) for n, c in wh.query(text, sql.params).rows}
    total = sum(found.values())
    slots = len(q.buckets(start, end, query.interval))
    rows: list[list[object]] = [
        [n, found.get(n, 0), (found.get(n, 0) / total) if total else None] for n in range(1, max(slots, 1) + 1)
    ]
    unit_word = {"day": "days", "week": "weeks", "month": "months"}[query.interval]
    title = f"Stickiness of {query.event or 'any event'}: people by {unit_word} active, {range_words(query.date_from, query.date_to)}"
    return InsightResult(
        kind="stickiness",
        title=title,
        date_from=q.utc(start),
        date_to=q.utc(end),
        interval=query.interval,
        columns=[f"{unit_word.title()} active", "People", "Share"],
        rows=rows,
        sql=[sql.ran(text)],
    )
