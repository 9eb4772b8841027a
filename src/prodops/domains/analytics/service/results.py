"""Running insights for pages and the API: on the process's warehouse, with a short-lived cache so the chart, the
table and the exports of one insight run its SQL once."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time

from prodops.domains.analytics.service import insights
from prodops.domains.analytics.service.insights import InsightQuery, InsightResult, funnels
from prodops.domains.analytics.service.insights.types import FunnelQuery
from prodops.domains.analytics.service.warehouse import insight_warehouse

CACHE_SECONDS = 30.0
_cache: dict[str, tuple[float, InsightResult]] = {}
_lock = threading.Lock()


def run_query(query: InsightQuery, *, now: dt.datetime | None = None, fresh: bool = False) -> InsightResult:
    """Run ``query`` (relative dates count from ``now``, default the current minute). Results are reused for
    30 seconds unless ``fresh``."""
    moment = (now or dt.datetime.now(dt.UTC)).replace(second=0, microsecond=0)
    key = json.dumps([query.model_dump(mode="json"), moment.isoformat()], sort_keys=True)
    clock = time.monotonic()
    if not fresh:
        with _lock:
            hit = _cache.get(key)
        if hit and clock - hit[0] < CACHE_SECONDS:
            return hit[1]
    result = insights.run(insight_warehouse(), query, now or dt.datetime.now(dt.UTC))
    with _lock:
        if len(_cache) > 500:
            _cache.clear()
        _cache[key] = (clock, result)
    return result


def forget_results() -> None:
    with _lock:
        _cache.clear()


def dropped_off(
    query: FunnelQuery, step: int, *, now: dt.datetime | None = None
) -> tuple[int, list[dict[str, object]]]:
    """The people who reached step ``step - 1`` of a funnel but not ``step`` (see :mod:`.insights.funnels`)."""
    return funnels.dropped_people(insight_warehouse(), query, step, now or dt.datetime.now(dt.UTC))


def segment_choices() -> dict[str, list[str]]:
    """The values dashboards offer in their plan, segment and region pickers (from the warehouse accounts)."""
    wh = insight_warehouse(flush=False)
    found: dict[str, list[str]] = {}
    for column in insights.SEGMENT_FIELDS:
        rows = wh.query(f"SELECT DISTINCT {column} FROM accounts WHERE {column} IS NOT NULL ORDER BY 1 LIMIT 200").rows  # noqa: S608  # whitelisted column
        found[column] = [str(r[0]) for r in rows]
    return found
