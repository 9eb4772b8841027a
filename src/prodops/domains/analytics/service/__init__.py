"""Analytics use cases: ingestion, identity, event sources, insights, metrics and dashboards.

Other domains read the metrics catalogue through :func:`metric_value` (a metric at a moment) and
:func:`metric_series` (a metric per interval); see :mod:`.metrics`.
"""

from prodops.domains.analytics.service.metrics import list_metrics, metric_series, metric_value

__all__ = ["list_metrics", "metric_series", "metric_value"]
