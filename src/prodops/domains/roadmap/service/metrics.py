"""The one door to analytics metrics: live values, series and the catalogue of known metrics.

Every roadmap call to the analytics domain goes through these three functions. When the analytics service (or
its metrics) is not installed or a metric cannot be read, they answer None / empty and the pages say "metric
source not available"; nothing else in the roadmap needs to know.
"""

from __future__ import annotations

import datetime as dt
import importlib
import logging
from types import ModuleType
from typing import Any

from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

_SERVICE = "prodops.domains.analytics.service"


def _analytics() -> ModuleType | None:
    try:
        return importlib.import_module(_SERVICE)
    except ImportError:
        return None


def _function(*names: str) -> Any:
    module = _analytics()
    if module is None:
        return None
    for name in names:
        fn = getattr(module, name, None)
        if callable(fn):
            return fn
    return None


def available() -> bool:
    """True when the analytics service offers metric values."""
    return _function("metric_value") is not None


def current_value(session: Session, key: str) -> float | None:
    """The metric's value now; None when the source is not available or the metric has no value."""
    fn = _function("metric_value")
    if fn is None:
        return None
    try:
        value = fn(session, key)
    except Exception:  # a broken or unknown metric must not break a goal page
        log.warning("metric %r could not be read", key, exc_info=True)
        return None
    return None if value is None else float(value)


def series(session: Session, key: str, start: dt.date, end: dt.date) -> list[tuple[dt.date, float]]:
    """Weekly ``(day, value)`` points of the metric between ``start`` and ``end``; empty when not available."""
    fn = _function("metric_series")
    if fn is None:
        return []
    try:
        points = fn(session, key, start, end, "week")
    except Exception:
        log.warning("series of metric %r could not be read", key, exc_info=True)
        return []
    out: list[tuple[dt.date, float]] = []
    for day, value in points or []:
        if value is None:
            continue
        out.append((day.date() if isinstance(day, dt.datetime) else day, float(value)))
    return out


def known_metrics(session: Session) -> list[tuple[str, str]]:
    """``(key, label)`` of every metric the analytics catalogue offers; empty when not available."""
    fn = _function("known_metrics", "list_metrics", "metric_catalogue", "metrics")
    if fn is None:
        return []
    try:
        found = fn(session)
    except Exception:
        log.warning("the metric catalogue could not be read", exc_info=True)
        return []
    out: list[tuple[str, str]] = []
    for item in found or []:
        if isinstance(item, tuple | list) and item:
            out.append((str(item[0]), str(item[1]) if len(item) > 1 else str(item[0])))
            continue
        key: Any = getattr(item, "key", None) or (item.get("key") if isinstance(item, dict) else None)
        if key:
            label = getattr(item, "label", None) or getattr(item, "name", None)
            if label is None and isinstance(item, dict):
                label = item.get("label") or item.get("name")
            out.append((str(key), str(label or key)))
    return out
