"""Analytics use cases: ingestion, identity, event sources, insights, metrics and dashboards.

Other domains read the metrics catalogue through :func:`metric_value` (a metric at a moment) and
:func:`metric_series` (a metric per interval); see :mod:`.metrics`.
"""

from prodops.domains.analytics.service.metrics import metric_series, metric_value

__all__ = ["metric_series", "metric_value"]
