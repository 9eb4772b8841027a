"""The one door to analytics metrics: live values, series and the catalogue of known metrics.

Every roadmap call to the analytics domain goes through these functions. A key result naming a metric that is
not in the catalogue (deleted, or a typo) or that cannot be read answers None / empty, and the pages say
"metric source not available" for it; a broken metric never breaks a goal page.
"""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy.orm import Session

from prodops.domains.analytics import service as analytics
from prodops.platform.errors import NotFound

log = logging.getLogger(__name__)


def current_value(session: Session, key: str) -> float | None:
    """The metric's value now (its measure over the interval that just ended); None when it is unknown or
    cannot be read."""
    try:
        value = analytics.metric_value(session, key)
    except NotFound:
        return None
    except Exception:  # a broken metric must not break a goal page
        log.warning("metric %r could not be read", key, exc_info=True)
        return None
    return None if value is None else float(value)


def series(session: Session, key: str, start: dt.date, end: dt.date) -> list[tuple[dt.date, float]]:
    """Weekly ``(day, value)`` points of the metric between ``start`` and ``end``; empty when unknown."""
    try:
        points = analytics.metric_series(session, key, start, end, "week")
    except NotFound:
        return []
    except Exception:
        log.warning("series of metric %r could not be read", key, exc_info=True)
        return []
    return [(p.bucket.date(), float(p.value)) for p in points if p.value is not None]


def known_metrics(session: Session) -> list[tuple[str, str]]:
    """``(key, name)`` of every metric in the analytics catalogue."""
    return [(m.key, m.name) for m in analytics.list_metrics(session)]
