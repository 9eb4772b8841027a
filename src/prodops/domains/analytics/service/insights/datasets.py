"""Dataset charts: rows per interval of an operational dataset loaded into the warehouse as ``ds_<name>``.

Definition: the number of rows of the dataset whose date column falls in each interval (UTC) of the range,
optionally only rows whose chosen column equals a value (compared as text). Column names are checked against
the table's own columns before they are quoted into the SQL.
"""

from __future__ import annotations

import datetime as dt

from prodops.domains.analytics.service.insights import sql as q
from prodops.domains.analytics.service.insights.describe import range_words
from prodops.domains.analytics.service.insights.types import (
    INTERVAL_LABELS,
    DatasetQuery,
    InsightResult,
    Point,
    SeriesResult,
)
from prodops.platform.errors import ValidationFailed
from prodops.platform.warehouse import Warehouse


def table_name(dataset: str) -> str:
    return f"ds_{dataset}"


def dataset_columns(wh: Warehouse, dataset: str) -> list[str] | None:
    """The columns of a loaded dataset; None when it has not been loaded."""
    found = wh.query(
        "SELECT column_name FROM information_schema.columns WHERE table_name = $t ORDER BY ordinal_position",
        {"t": table_name(dataset)},
    )
    return [r[0] for r in found.rows] or None


def ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def run(wh: Warehouse, query: DatasetQuery, now: dt.datetime) -> InsightResult:
    columns = dataset_columns(wh, query.dataset)
    if columns is None:
        raise ValidationFailed("dataset", f"the dataset “{query.dataset}” has not been loaded into the warehouse yet")
    if query.date_column not in columns:
        raise ValidationFailed("date_column", f"the dataset has no column “{query.date_column}”")
    if query.where_column and query.where_column not in columns:
        raise ValidationFailed("where_column", f"the dataset has no column “{query.where_column}”")
    start, end = q.resolve_range(query.date_from, query.date_to, query.interval, now)
    sql = q.Sql()
    when = f"CAST({ident(query.date_column)} AS TIMESTAMP)"
    where = [f"{when} >= {sql.p(start)}", f"{when} < {sql.p(end)}"]
    if query.where_column:
        where.append(f"CAST({ident(query.where_column)} AS VARCHAR) = {sql.p(query.where_value)}")
    text = (
        f"SELECT date_trunc('{q.TRUNC[query.interval]}', {when}) AS bucket, count(*) AS n\n"
        f"FROM {table_name(query.dataset)}\nWHERE {' AND '.join(where)}\nGROUP BY 1 ORDER BY 1"
    )
    found = {b: int(n) for b, n in wh.query(text, sql.params).rows}
    slots = q.buckets(start, end, query.interval)
    label = f"Rows of {query.dataset}" + (
        f" where {query.where_column} is “{query.where_value}”" if query.where_column else ""
    )
    points = [Point(bucket=q.utc(b), value=found.get(b, 0)) for b in slots]
    title = f"{label} by {query.date_column}, {INTERVAL_LABELS[query.interval].lower()}, {range_words(query.date_from, query.date_to)}"
    return InsightResult(
        kind="dataset",
        title=title,
        date_from=q.utc(start),
        date_to=q.utc(end),
        interval=query.interval,
        series=[SeriesResult(label=label, points=points)],
        columns=["Interval", label],
        rows=[[p.bucket, p.value] for p in points],
        sql=[sql.ran(text)],
    )
