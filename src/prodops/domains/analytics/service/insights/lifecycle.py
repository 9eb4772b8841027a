"""Lifecycle: who is new, returning, resurrecting and dormant in each interval (PostHog's definitions).

Definitions, for the people with a matching event, per interval (hour, day, week or month, UTC):
- **New**: active in this interval, and this is the first interval they were ever active in. (PostHog counts a
  person as new in the interval the person was created; here it is their first matching event, which also holds
  for people whose history was imported.)
- **Returning**: active in this interval and in the one just before.
- **Resurrecting**: active in this interval, not in the one before, but in some earlier one.
- **Dormant**: active in the interval before, not in this one. Shown as a negative number, as PostHog does.
Activity before the date range counts for telling these apart.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from prodops.domains.analytics.service.insights import sql as q
from prodops.domains.analytics.service.insights.describe import range_words
from prodops.domains.analytics.service.insights.types import (
    INTERVAL_LABELS,
    InsightResult,
    LifecycleQuery,
    Point,
    SeriesResult,
)
from prodops.platform.warehouse import Warehouse

STATUSES = ("new", "returning", "resurrecting", "dormant")


def run(wh: Warehouse, query: LifecycleQuery, now: dt.datetime) -> InsightResult:
    start, end = q.resolve_range(query.date_from, query.date_to, query.interval, now)
    sql = q.Sql()
    base = q.events_sql(sql, start=None, end=end, events=[query.event] if query.event else None, filters=query.filters)
    unit = q.TRUNC[query.interval]
    one = q.interval_literal(1, unit)
    s, e = sql.p(start), sql.p(end)
    text = f"""WITH ev AS (
{base}
),
act AS (
  SELECT DISTINCT person_id, date_trunc('{unit}', ts) AS b FROM ev
),
seq AS (
  SELECT person_id, b,
    min(b) OVER (PARTITION BY person_id) AS first_b,
    lag(b) OVER (PARTITION BY person_id ORDER BY b) AS prev_b,
    lead(b) OVER (PARTITION BY person_id ORDER BY b) AS next_b
  FROM act
)
SELECT b AS bucket,
  CASE WHEN b = first_b THEN 'new' WHEN prev_b = b - {one} THEN 'returning' ELSE 'resurrecting' END AS status,
  count(*) AS people
FROM seq WHERE b >= {s} AND b < {e}
GROUP BY 1, 2
UNION ALL
SELECT b + {one} AS bucket, 'dormant' AS status, -count(*) AS people
FROM seq WHERE (next_b IS NULL OR next_b > b + {one}) AND b + {one} >= {s} AND b + {one} < {e}
GROUP BY 1, 2
ORDER BY 1, 2"""  # noqa: S608  # identifiers from whitelists; user text travels as $parameters
    found: dict[str, dict[dt.datetime, int]] = defaultdict(dict)
    for bucket, status, people in wh.query(text, sql.params).rows:
        found[status][bucket] = int(people)
    slots = q.buckets(start, end, query.interval)
    series = [
        SeriesResult(
            label=status.title(),
            breakdown=status,
            points=[Point(bucket=q.utc(b), value=found[status].get(b, 0)) for b in slots],
        )
        for status in STATUSES
    ]
    rows = [[q.utc(b), *[found[s].get(b, 0) for s in STATUSES]] for b in slots]
    title = (
        f"Lifecycle of people doing {query.event or 'any event'}, {INTERVAL_LABELS[query.interval].lower()}, "
        f"{range_words(query.date_from, query.date_to)}"
    )
    return InsightResult(
        kind="lifecycle",
        title=title,
        date_from=q.utc(start),
        date_to=q.utc(end),
        interval=query.interval,
        series=series,
        columns=["Interval", *[s.title() for s in STATUSES]],
        rows=rows,
        sql=[sql.ran(text)],
    )
