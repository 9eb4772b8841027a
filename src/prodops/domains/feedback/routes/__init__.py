"""Feedback pages (inbox, capture channels, demand) and the JSON API under /api/v1/feedback.

Each module defines its own router and registers it with ``registry.router``; import it here.
"""

from prodops.platform import registry

registry.nav("Inbox", "/feedback", section="Feedback", order=10)

from prodops.domains.feedback.routes import (  # noqa: E402  # after the nav entry, so it lists first
    demand,  # noqa: F401  # demand ranking, evidence panel, comparison
    inbox,  # noqa: F401  # the triage inbox pages
    loop,  # noqa: F401  # close the loop: send log panel, preview, send now
    read_api,  # noqa: F401  # the read API (list, item, facets, views)
)
