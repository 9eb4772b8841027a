"""Feedback pages (inbox, capture channels, demand) and the JSON API under /api/v1/feedback.

Each module defines its own router and registers it with ``registry.router``; import it here.
"""

from prodops.platform import registry

registry.nav("Inbox", "/feedback", section="Feedback", order=10)

from prodops.domains.feedback.routes import (  # noqa: E402  # after the nav entry, so it lists first
    api,  # noqa: F401  # the write API (capture, change, links, bulk), file import and CSV export
    capture,  # noqa: F401  # the capture page (every way in, add by hand) and the import wizard
    channels,  # noqa: F401  # capture: raw e-mail API, Zendesk and Intercom webhooks
    demand,  # noqa: F401  # demand ranking, evidence panel, comparison
    inbox,  # noqa: F401  # the triage inbox pages
    intelligence,  # noqa: F401  # search, an item's analysis and near-duplicate suggestions, the widget's similar ideas
    loop,  # noqa: F401  # close the loop: send log panel, preview, send now
    read_api,  # noqa: F401  # the read API (list, item, facets, views)
    themes,  # noqa: F401  # themes: the ranked list with trends, one theme, rename/merge/split, re-cluster
    types,  # noqa: F401  # feedback types: admin page, train on your own labels, correcting an item's type, API
    widget,  # noqa: F401  # the embeddable widget: admin pages, widget.js, the public endpoint
)
