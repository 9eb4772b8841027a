"""Funnels: how many people go through a sequence of steps, how long it takes, and who drops off.

Definitions
- A person **enters** the funnel at their first step-1 event in the date range; the **conversion window**
  (e.g. 14 days) starts then. Every later step must happen in the date range and within the window.
- **Ordered**: step *k* is the person's first step-*k* event at or after the time they reached step *k-1* (strictly
  after it when the step repeats an earlier step's event); other events may happen in between.
- **Strict order**: step *k* must be the very next event the person sent after step *k-1* (among the events that
  pass the insight's filters); any other event in between ends their progress.
- **Conversion** from the first step: people at step *k* / people who entered; from the previous step: people at
  step *k* / people at step *k-1*.
- **Time to convert**: from entering to reaching the last step, for the people who reached it (median and
  average); per step, from the previous step.
- **Breakdown**: by the property's value on the person's step-1 event (event properties) or the person's / account's
  value; the ``limit`` values with most people entering get their own funnel, the rest are "Other".
- **Dropped off at step k**: people who reached step *k-1* but not step *k*.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from prodops.domains.analytics.service.insights import sql as q
from prodops.domains.analytics.service.insights.describe import duration_words, range_words
from prodops.domains.analytics.service.insights.types import (
    FunnelBreakdownResult,
    FunnelQuery,
    FunnelStepResult,
    InsightResult,
)
from prodops.platform.warehouse import Warehouse

DROPPED_LIMIT = 100


def _window(query: FunnelQuery) -> str:
    return q.interval_literal(query.window, query.window_unit)


def funnel_cte(query: FunnelQuery, start: dt.datetime, end: dt.datetime) -> tuple[str, q.Sql]:
    """``WITH ... funnel AS (person_id, bd, t1 .. tN)``: one row per person who entered, ``tK`` NULL when step K was
    not reached."""
    sql = q.Sql()
    n = len(query.steps)
    bd = query.breakdown
    bd_col = f"COALESCE({q.prop(sql, bd.source, bd.property)}, {sql.p(q.NONE_LABEL)}) AS bd" if bd else "NULL AS bd"
    need = [bd.source] if bd else []
    window = _window(query)
    events = [s.event for s in query.steps]
    if query.order == "strict":
        base = q.events_sql(
            sql, start=start, end=end, filters=query.filters, columns=[bd_col, "e.uuid AS uuid"], need=need
        )
        leads = ",\n  ".join(
            f"lead(event, {k}) OVER w AS n{k + 1}, lead(ts, {k}) OVER w AS m{k + 1}" for k in range(1, n)
        )
        e = [sql.p(name) for name in events]
        reached = []
        for k in range(2, n + 1):
            conds = " AND ".join(f"n{j} = {e[j - 1]}" for j in range(2, k + 1))
            reached.append(f"CASE WHEN {conds} AND m{k} <= t1 + {window} THEN m{k} END AS t{k}")
        text = f"""WITH base AS (
{base}
),
seq AS (
  SELECT person_id, bd, event, ts AS t1,
  {leads}
  FROM base
  WINDOW w AS (PARTITION BY person_id ORDER BY ts, uuid)
),
firsts AS (
  SELECT *, row_number() OVER (PARTITION BY person_id ORDER BY t1, n2) AS rn FROM seq WHERE event = {e[0]}
),
funnel AS (
  SELECT person_id, bd, t1, {", ".join(reached)} FROM firsts WHERE rn = 1
)"""  # noqa: S608  # identifiers from whitelists; user text travels as $parameters
        return text, sql
    base = q.events_sql(
        sql, start=start, end=end, events=events, filters=query.filters, columns=[bd_col] if bd else [], need=need
    )
    e = [sql.p(name) for name in events]
    first_bd = "arg_min(bd, ts)" if bd else "NULL"
    s1 = f"SELECT person_id, min(ts) AS t1, {first_bd} AS bd FROM base WHERE event = {e[0]} GROUP BY person_id"  # noqa: S608  # identifiers from whitelists; user text travels as $parameters
    ctes = [f"base AS (\n{base}\n)", f"s1 AS (\n  {s1}\n)"]
    for k in range(2, n + 1):
        after = ">" if events[k - 1] in events[: k - 1] else ">="
        prev = "t1" if k == 2 else f"t{k - 1}"
        ctes.append(
            f"s{k} AS (\n  SELECT s.person_id, s.t1, min(b.ts) AS t{k}\n  FROM s{k - 1} s JOIN base b ON b.person_id = s.person_id\n"  # noqa: S608  # identifiers from whitelists; user text travels as $parameters
            f"  WHERE b.event = {e[k - 1]} AND b.ts {after} s.{prev} AND b.ts <= s.t1 + {window}\n"
            f"  GROUP BY s.person_id, s.t1\n)"
        )
    cols = ", ".join(f"s{k}.t{k}" for k in range(2, n + 1))
    joins = "\n  ".join(f"LEFT JOIN s{k} ON s{k}.person_id = s1.person_id" for k in range(2, n + 1))
    ctes.append(f"funnel AS (\n  SELECT s1.person_id, s1.bd, s1.t1, {cols}\n  FROM s1\n  {joins}\n)")  # noqa: S608  # identifiers from whitelists; user text travels as $parameters
    return "WITH " + ",\n".join(ctes), sql


def _aggregates(n: int) -> str:
    parts = [f"count(t{k}) AS c{k}" for k in range(1, n + 1)]
    for k in range(2, n + 1):
        d = f"date_diff('second', t{k - 1}, t{k})"
        parts.append(f"quantile_cont({d}, 0.5) AS med{k}, avg({d}) AS avg{k}")
    total = f"date_diff('second', t1, t{n})"
    parts.append(f"quantile_cont({total}, 0.5) AS med_total, avg({total}) AS avg_total")
    return ", ".join(parts)


def _steps(query: FunnelQuery, row: dict[str, Any]) -> list[FunnelStepResult]:
    out = []
    first = row["c1"] or 0
    for k, step in enumerate(query.steps, start=1):
        count = int(row[f"c{k}"] or 0)
        prev = int(row[f"c{k - 1}"] or 0) if k > 1 else None
        out.append(
            FunnelStepResult(
                step=k,
                label=step.label or step.event,
                count=count,
                conversion_from_first=(count / first) if first else None,
                conversion_from_previous=None if prev is None else (count / prev if prev else None),
                median_seconds_from_previous=_f(row.get(f"med{k}")),
                avg_seconds_from_previous=_f(row.get(f"avg{k}")),
            )
        )
    return out


def _f(value: Any) -> float | None:
    return None if value is None else float(value)


def run(wh: Warehouse, query: FunnelQuery, now: dt.datetime) -> InsightResult:
    start, end = q.resolve_range(query.date_from, query.date_to, "day", now)
    cte, sql = funnel_cte(query, start, end)
    n = len(query.steps)
    aggs = _aggregates(n)
    if query.breakdown is None:
        text = f"{cte}\nSELECT {aggs} FROM funnel"
    else:
        limit = sql.p(query.breakdown.limit)
        other = sql.p(q.OTHER_LABEL)
        text = (
            f"{cte},\nranked AS (\n  SELECT bd, row_number() OVER (ORDER BY count(*) DESC, bd) AS r FROM funnel GROUP BY bd\n)\n"  # noqa: S608  # identifiers from whitelists; user text travels as $parameters
            f"SELECT NULL AS bd, 0 AS r, {aggs} FROM funnel\nUNION ALL\n"
            f"SELECT CASE WHEN r <= {limit} THEN f.bd ELSE {other} END AS bd, min(r) AS r, {aggs}\n"
            f"FROM funnel f JOIN ranked USING (bd)\nGROUP BY 1\nORDER BY 2"
        )
    result = wh.query(text, sql.params)
    rows = result.dicts()
    overall = rows[0]
    breakdowns = [FunnelBreakdownResult(breakdown=str(r["bd"]), steps=_steps(query, r)) for r in rows[1:]]
    steps = _steps(query, overall)
    columns = ["Step", "People", "Conversion from step 1", "Conversion from previous", "Median time from previous"]
    table = [
        [
            f"{s.step}. {s.label}",
            s.count,
            s.conversion_from_first,
            s.conversion_from_previous,
            duration_words(s.median_seconds_from_previous) if s.step > 1 else "",
        ]
        for s in steps
    ]
    order = "strict order" if query.order == "strict" else "in order"
    names = " → ".join(s.label or s.event for s in query.steps)
    by = f" by {query.breakdown.describe()}" if query.breakdown else ""
    title = f"Funnel {names} ({order}, within {query.window} {query.window_unit}{'s' if query.window != 1 else ''}){by}, {range_words(query.date_from, query.date_to)}"
    return InsightResult(
        kind="funnel",
        title=title,
        date_from=q.utc(start),
        date_to=q.utc(end),
        columns=columns,
        rows=table,
        steps=steps,
        breakdowns=breakdowns,
        median_seconds_to_convert=_f(overall["med_total"]),
        avg_seconds_to_convert=_f(overall["avg_total"]),
        sql=[sql.ran(text)],
    )


def dropped_people(
    wh: Warehouse, query: FunnelQuery, step: int, now: dt.datetime, limit: int = DROPPED_LIMIT
) -> tuple[int, list[dict[str, Any]]]:
    """The people who reached step ``step - 1`` but not ``step`` (2 ≤ step ≤ N): how many, and the most recent
    ``limit`` of them with what the warehouse knows about them (``customer_person_id`` when matched)."""
    if not 2 <= step <= len(query.steps):
        raise ValueError(f"step must be between 2 and {len(query.steps)}")
    start, end = q.resolve_range(query.date_from, query.date_to, "day", now)
    cte, sql = funnel_cte(query, start, end)
    where = f"f.t{step - 1} IS NOT NULL AND f.t{step} IS NULL"
    count = wh.query(f"{cte}\nSELECT count(*) FROM funnel f WHERE {where}", sql.params).scalar()
    text = (
        f"{cte}\nSELECT f.person_id, p.customer_person_id, p.external_id, p.email, p.name, f.t{step - 1} AS reached_at\n"
        f"FROM funnel f LEFT JOIN persons p ON p.person_id = f.person_id\nWHERE {where}\n"
        f"ORDER BY f.t{step - 1} DESC, f.person_id\nLIMIT {int(limit)}"
    )
    people = wh.query(text, sql.params).dicts()
    for person in people:
        person["reached_at"] = q.utc(person["reached_at"])
    return int(count or 0), people
