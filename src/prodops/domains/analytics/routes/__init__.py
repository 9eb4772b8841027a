"""Analytics pages and APIs: event ingestion endpoints, event sources, insights, metrics and dashboards.

Each module defines its own router and registers it with ``registry.router``; import it here.
"""

from prodops.platform import registry

registry.nav("Event sources", "/admin/analytics/sources", section="Administration", order=50, min_role="admin")
registry.nav("Analytics", "/analytics", section="Product", order=40)
registry.nav("Metrics", "/analytics/metrics", section="Product", order=41)
registry.nav("Dashboards", "/analytics/dashboards", section="Product", order=42)

from prodops.domains.analytics.routes import (  # noqa: E402  # after the nav entries
    api,  # noqa: F401  # insights, metrics and dashboards JSON API
    capture,  # noqa: F401  # Segment HTTP API and PostHog capture endpoints
    dashboards,  # noqa: F401  # dashboards, tiles, exports, share links
    insights,  # noqa: F401  # overview, builder, saved insights
    metrics,  # noqa: F401  # the metrics catalogue
    sources,  # noqa: F401  # event sources: admin pages and API
)
