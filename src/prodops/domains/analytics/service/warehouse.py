"""The warehouse as insights see it: the process-wide one, with the analytics tables present and the events
that ingestion still holds in memory made visible first."""

from __future__ import annotations

import importlib
import threading

from prodops.domains.analytics.service.schema import ensure_schema
from prodops.platform.warehouse import Warehouse, get_warehouse

_ready: set[int] = set()
_lock = threading.Lock()


def insight_warehouse(*, flush: bool = True) -> Warehouse:
    """The warehouse to run insights on. With ``flush``, buffered events are written first (when ingestion
    buffers), so an insight run from the UI sees every event already answered with 200."""
    wh = get_warehouse()
    if id(wh) not in _ready:
        with _lock:
            ensure_schema(wh)
            _ready.add(id(wh))
    if flush:
        flush_buffered()
    return wh


def flush_buffered() -> None:
    """Write the events the ingestion pipeline of this process still buffers (none when it ingests nothing)."""
    pipeline = importlib.import_module("prodops.domains.analytics.service.pipeline")
    pipeline.flush()
