"""Portal pages: customer-facing pages under /p/<slug>, staff pages under /portal and /admin/portals, and the
staff JSON API under /api/v1/portal.

Each module defines its own router and registers it with ``registry.router``; import it here.
"""

from prodops.domains.portal.routes import (
    auth,  # noqa: F401  # portal sign-in: magic links, single sign-on, anonymous post confirmation, sign-out
    public,  # noqa: F401  # the customer-facing portal: boards, ideas, votes, comments, follows, submit
)
