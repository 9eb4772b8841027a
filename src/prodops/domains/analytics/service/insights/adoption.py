"""Feature adoption: the share of active accounts that used a feature, per interval.

Definition: a feature is a name and a list of events (optionally the id of the feature in the features catalogue,
kept as a number so higher domains can join it). Per interval (UTC): **active accounts** are the distinct accounts
with any event (that passes the filters); **adopting accounts** are those among them with one of the feature's
events; **adoption** is adopting / active. An event's account is its own, else its person's; events with no account
are not counted.
"""

from __future__ import annotations

import datetime as dt

from prodops.domains.analytics.service.insights import sql as q
from prodops.domains.analytics.service.insights.describe import range_words
from prodops.domains.analytics.service.insights.types import (
    INTERVAL_LABELS,
    AdoptionQuery,
    InsightResult,
    Point,
    SeriesResult,
)
from prodops.platform.warehouse import Warehouse


def run(wh: Warehouse, query: AdoptionQuery, now: dt.datetime) -> InsightResult:
    start, end = q.resolve_range(query.date_from, query.date_to, query.interval, now)
    sql = q.Sql()
    base = q.events_sql(sql, start=start, end=end, filters=query.filters, need=["person"])
    unit = q.TRUNC[query.interval]
    listed = ", ".join(sql.p(e) for e in query.events)
    text = (
        f"WITH ev AS (\n{base}\n)\nSELECT date_trunc('{unit}', ts) AS bucket, count(DISTINCT account_id) AS active,\n"
        f"  count(DISTINCT CASE WHEN event IN ({listed}) THEN account_id END) AS adopting\n"
        "FROM ev WHERE account_id IS NOT NULL GROUP BY 1 ORDER BY 1"
    )
    found = {b: (int(a), int(u)) for b, a, u in wh.query(text, sql.params).rows}
    slots = q.buckets(start, end, query.interval)
    rows: list[list[object]] = []
    points = []
    for b in slots:
        active, adopting = found.get(b, (0, 0))
        share = adopting / active if active else None
        rows.append([q.utc(b), active, adopting, share])
        points.append(Point(bucket=q.utc(b), value=share))
    title = (
        f"Adoption of {query.feature_name}: share of active accounts using it, "
        f"{INTERVAL_LABELS[query.interval].lower()}, {range_words(query.date_from, query.date_to)}"
    )
    return InsightResult(
        kind="adoption",
        title=title,
        date_from=q.utc(start),
        date_to=q.utc(end),
        interval=query.interval,
        series=[SeriesResult(label=f"Adoption of {query.feature_name}", points=points)],
        columns=["Interval", "Active accounts", "Adopting accounts", "Adoption"],
        rows=rows,
        sql=[sql.ran(text)],
        unit="share",
    )
