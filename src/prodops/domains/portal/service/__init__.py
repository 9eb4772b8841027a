"""Portal use cases: the only place that writes portals, boards, portal users, ideas, votes, comments, follows
and the changelog.

- identity (magic links, single sign-on, anonymous posts, the portal session cookie): :mod:`.identity`;
- who may see which portal and board: :mod:`.access`;
- ideas, votes, comments, follows and similar ideas: :mod:`.ideas`; spam and flood checks: :mod:`.abuse`;
- one demand model (ideas, votes and comments filed as feedback linked to the idea's feature): :mod:`.demand`;
- portals, boards, invites and the single-sign-on secret: :mod:`.admin`; the moderation queue, blocking, staff
  edits and deletions: :mod:`.moderation`; proxy votes, official and internal comments: :mod:`.staff`; merging
  duplicate ideas: :mod:`.merge`;
- the changelog: :mod:`.changelog`; e-mail to followers and voters (status changes, official replies, launches)
  and the unfollow links: :mod:`.notifications`; a portal user's data export and account deletion: :mod:`.privacy`.
"""

from prodops.domains.portal.service import notifications  # noqa: F401  # subscribes to feature status changes
