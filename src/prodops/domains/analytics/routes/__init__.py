"""Analytics pages and APIs: event ingestion endpoints, event sources, insights, metrics and dashboards.

Each module defines its own router and registers it with ``registry.router``; import it here.
"""

from prodops.platform import registry

registry.nav("Event sources", "/admin/analytics/sources", section="Administration", order=50, min_role="admin")

from prodops.domains.analytics.routes import (  # noqa: E402  # after the nav entries
    capture,  # noqa: F401  # Segment HTTP API and PostHog capture endpoints
    sources,  # noqa: F401  # event sources: admin pages and API
)
