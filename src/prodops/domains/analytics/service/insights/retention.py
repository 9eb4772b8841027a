"""Retention: of the people who did something in a period, how many came back in each later period.

Definitions
- **Cohorts** are days, weeks (Monday to Sunday) or calendar months (UTC) in the date range.
- **First-time**: a person belongs to the cohort of the period of their first target event ever (people whose
  first target event is before the range are left out).
- **Recurring**: a person belongs to the cohort of every period in the range in which they did the target event.
- **Period 0** is the cohort itself (100%). A person **returns in period k** (k ≥ 1) when they did the return event
  in the k-th period after their cohort's period (in the date range). Periods that have not started by the end of
  the range are left empty, not counted as 0.
- The **retention curve** averages the cohorts, weighted by their size, over the cohorts whose period k has
  started.
"""

from __future__ import annotations

import datetime as dt

from prodops.domains.analytics.service.insights import sql as q
from prodops.domains.analytics.service.insights.describe import range_words
from prodops.domains.analytics.service.insights.types import InsightResult, RetentionQuery
from prodops.platform.warehouse import Warehouse


def retention_sql(query: RetentionQuery, start: dt.datetime, end: dt.datetime) -> tuple[str, q.Sql]:
    sql = q.Sql()
    unit = q.TRUNC[query.interval]
    first_time = query.cohort == "first_time"
    target = q.events_sql(
        sql, start=None if first_time else start, end=end, events=[query.target_event], filters=query.filters
    )
    back = q.events_sql(sql, start=start, end=end, events=[query.return_event], filters=query.filters)
    if first_time:
        s = sql.p(start)
        cohort = (
            f"SELECT person_id, date_trunc('{unit}', min(ts)) AS c FROM target GROUP BY person_id HAVING min(ts) >= {s}"  # noqa: S608  # identifiers from whitelists; user text travels as $parameters
        )
    else:
        cohort = f"SELECT DISTINCT person_id, date_trunc('{unit}', ts) AS c FROM target"  # noqa: S608  # identifiers from whitelists; user text travels as $parameters
    periods = sql.p(query.periods)
    text = f"""WITH target AS (
{target}
),
back AS (
{back}
),
cohort AS (
  {cohort}
),
act AS (
  SELECT DISTINCT person_id, date_trunc('{unit}', ts) AS a FROM back
),
sizes AS (
  SELECT c, count(*) AS n FROM cohort GROUP BY c
),
ret AS (
  SELECT co.c, date_diff('{unit}', co.c, act.a) AS k, count(DISTINCT co.person_id) AS n
  FROM cohort co JOIN act ON act.person_id = co.person_id AND act.a > co.c
  GROUP BY 1, 2
)
SELECT c, 0 AS k, n FROM sizes
UNION ALL
SELECT c, k, n FROM ret WHERE k <= {periods}
ORDER BY 1, 2"""  # noqa: S608  # identifiers from whitelists; user text travels as $parameters
    return text, sql


def run(wh: Warehouse, query: RetentionQuery, now: dt.datetime) -> InsightResult:
    start, end = q.resolve_range(query.date_from, query.date_to, query.interval, now)
    text, sql = retention_sql(query, start, end)
    cells: dict[dt.datetime, dict[int, int]] = {}
    for c, k, n in wh.query(text, sql.params).rows:
        cells.setdefault(c, {})[int(k)] = int(n)
    columns = ["Cohort", "People", *[f"{query.interval.title()} {k}" for k in range(query.periods + 1)]]
    rows = []
    returned = [0] * (query.periods + 1)
    eligible = [0] * (query.periods + 1)
    for cohort in q.buckets(start, end, query.interval):
        found = cells.get(cohort, {})
        size = found.get(0, 0)
        row: list[object] = [q.utc(cohort), size]
        for k in range(query.periods + 1):
            if q.add(cohort, query.interval, k) >= end:
                row.append(None)
                continue
            row.append(found.get(k, 0))
            returned[k] += found.get(k, 0)
            eligible[k] += size
        rows.append(row)
    curve = [[k, (returned[k] / eligible[k]) if eligible[k] else None] for k in range(query.periods + 1)]
    kind = "first-time" if query.cohort == "first_time" else "recurring"
    title = (
        f"{query.interval.title()}ly retention ({kind}): {query.target_event} then {query.return_event}, "
        f"{range_words(query.date_from, query.date_to)}"
    ).replace("Dayly", "Daily")
    return InsightResult(
        kind="retention",
        title=title,
        date_from=q.utc(start),
        date_to=q.utc(end),
        interval=query.interval,
        columns=columns,
        rows=rows,
        sql=[sql.ran(text)],
        curve=curve,
    )
