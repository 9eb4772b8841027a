"""Portal pages: customer-facing pages under /p/<slug>, staff pages under /portal and /admin/portals, and the
staff JSON API under /api/v1/portal.

Each module defines its own router and registers it with ``registry.router``; import it here.
"""

from prodops.domains.portal.routes import (
    admin,  # noqa: F401  # admins: portals, boards, invites, the single-sign-on secret (pages and API)
    api,  # noqa: F401  # the staff JSON API for ideas: list, proxy votes, answers, moderation, merge, blocking
    auth,  # noqa: F401  # portal sign-in: magic links, single sign-on, anonymous post confirmation, sign-out
    privacy,  # noqa: F401  # a portal user's account: their data as JSON, deleting the account; unfollow links
    public,  # noqa: F401  # the customer-facing portal: boards, ideas, votes, comments, follows, submit
    roadmap,  # noqa: F401  # the public roadmap, changelog and Atom feed; the staff changelog editor
    staff,  # noqa: F401  # staff pages: ideas across portals, moderation queue, idea staff view, feature panel
)
