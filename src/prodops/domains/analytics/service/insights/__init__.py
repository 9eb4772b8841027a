"""The insight engine: typed queries in, series and tables out, over any :class:`Warehouse`.

One module per insight kind (trends, funnels, retention, stickiness, lifecycle, adoption, datasets), each with its
definitions in its docstring. All SQL goes through :meth:`Warehouse.query` with ``$name`` parameters (see
:mod:`.sql`), so the engine does not know which database runs it.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import TypeAdapter

from prodops.domains.analytics.service.insights import (
    adoption,
    datasets,
    funnels,
    lifecycle,
    retention,
    stickiness,
    trends,
)
from prodops.domains.analytics.service.insights.types import (
    KINDS,
    DatasetQuery,
    Filter,
    InsightQuery,
    InsightResult,
)
from prodops.platform.warehouse import Warehouse

_RUNNERS: dict[str, Any] = {
    "trends": trends.run,
    "funnel": funnels.run,
    "retention": retention.run,
    "stickiness": stickiness.run,
    "lifecycle": lifecycle.run,
    "adoption": adoption.run,
    "dataset": datasets.run,
}
QUERY_ADAPTER: TypeAdapter[InsightQuery] = TypeAdapter(InsightQuery)
#: The account attributes dashboards filter on, in the order their pickers show.
SEGMENT_FIELDS = ("plan", "segment", "region")


def parse_query(data: Any) -> InsightQuery:
    """A query from JSON-like data (raises pydantic's ValidationError with field locations)."""
    return QUERY_ADAPTER.validate_python(data)


def run(wh: Warehouse, query: InsightQuery, now: dt.datetime | None = None) -> InsightResult:
    """Run one insight. ``now`` fixes "today" for relative date ranges (tests, reproducible dashboards)."""
    return _RUNNERS[query.kind](wh, query, now or dt.datetime.now(dt.UTC))  # type: ignore[no-any-return]


def scoped(
    query: InsightQuery,
    *,
    date_from: str | None = None,
    date_to: str | None = None,
    segment: dict[str, str] | None = None,
) -> InsightQuery:
    """The query with another date range and extra account filters (a dashboard's range and segment picker)."""
    changes: dict[str, Any] = {}
    if date_from:
        changes["date_from"] = date_from
        changes["date_to"] = date_to
    extra = [Filter(source="account", property=k, op="eq", value=v) for k, v in (segment or {}).items() if v]
    if extra and not isinstance(query, DatasetQuery):
        changes["filters"] = [*query.filters, *extra]
    return query.model_copy(update=changes) if changes else query


__all__ = ["KINDS", "QUERY_ADAPTER", "SEGMENT_FIELDS", "InsightQuery", "InsightResult", "parse_query", "run", "scoped"]
