"""One number for a time window: what a metric reads at a moment (the trailing interval before it).

Same definitions as the series they come from (trends, adoption, dataset), but over the window [start, end)
as a whole instead of per calendar interval: the unique people of a 7-day window are the people active at any
time in those 7 days.
"""

from __future__ import annotations

import datetime as dt

from prodops.domains.analytics.service.insights import datasets
from prodops.domains.analytics.service.insights import sql as q
from prodops.domains.analytics.service.insights.trends import AGGREGATES
from prodops.domains.analytics.service.insights.types import (
    PROPERTY_MATHS,
    AdoptionQuery,
    DatasetQuery,
    InsightQuery,
    TrendsQuery,
)
from prodops.platform.errors import ValidationFailed
from prodops.platform.warehouse import Warehouse


def check_single_series(query: InsightQuery) -> None:
    """Refuse a query that does not produce exactly one series (a metric's definition)."""
    if isinstance(query, TrendsQuery):
        if len(query.series) != 1:
            raise ValidationFailed("definition.series", "a metric measures exactly one series")
        if query.breakdown is not None:
            raise ValidationFailed("definition.breakdown", "a metric has no breakdown: it is one number over time")
        if query.compare:
            raise ValidationFailed("definition.compare", "a metric compares by itself; leave compare off")
    elif not isinstance(query, AdoptionQuery | DatasetQuery):
        raise ValidationFailed("definition.kind", "a metric is a trend, a feature adoption or a dataset count")


def value(wh: Warehouse, query: InsightQuery, start: dt.datetime, end: dt.datetime) -> float | None:
    start, end = q.naive(start), q.naive(end)
    sql = q.Sql()
    if isinstance(query, TrendsQuery):
        series = query.series[0]
        columns, need = [], []
        if series.math == "accounts":
            need.append("person")
        if series.math in PROPERTY_MATHS:
            columns.append(f"{q.numeric_prop(sql, 'event', series.property or '')} AS val")
        base = q.events_sql(
            sql,
            start=start,
            end=end,
            events=[series.event] if series.event else None,
            filters=query.filters,
            columns=columns,
            need=need,
        )
        found = wh.query(f"SELECT {AGGREGATES[series.math]} FROM (\n{base}\n) t", sql.params).scalar()  # noqa: S608  # identifiers from whitelists; user text travels as $parameters
        if found is None:
            return 0.0 if series.math in {"total", "people", "accounts", "sum"} else None
        return float(found)
    if isinstance(query, AdoptionQuery):
        base = q.events_sql(sql, start=start, end=end, filters=query.filters, need=["person"])
        listed = ", ".join(sql.p(e) for e in query.events)
        row = wh.query(
            f"SELECT count(DISTINCT account_id), count(DISTINCT CASE WHEN event IN ({listed}) THEN account_id END)\n"
            f"FROM (\n{base}\n) t WHERE account_id IS NOT NULL",
            sql.params,
        ).rows[0]
        return (row[1] / row[0]) if row[0] else None
    if isinstance(query, DatasetQuery):
        return _dataset_window(wh, query, start, end)
    raise ValidationFailed("definition.kind", "a metric is a trend, a feature adoption or a dataset count")


def _dataset_window(wh: Warehouse, query: DatasetQuery, start: dt.datetime, end: dt.datetime) -> float:
    columns = datasets.dataset_columns(wh, query.dataset)
    if columns is None or query.date_column not in columns:
        return 0.0
    sql = q.Sql()
    when = f"CAST({datasets.ident(query.date_column)} AS TIMESTAMP)"
    where = [f"{when} >= {sql.p(start)}", f"{when} < {sql.p(end)}"]
    if query.where_column and query.where_column in columns:
        where.append(f"CAST({datasets.ident(query.where_column)} AS VARCHAR) = {sql.p(query.where_value)}")
    text = f"SELECT count(*) FROM {datasets.table_name(query.dataset)} WHERE {' AND '.join(where)}"  # noqa: S608  # identifiers from whitelists; user text travels as $parameters
    return float(wh.query(text, sql.params).scalar() or 0)
