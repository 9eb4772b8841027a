"""Roadmap use cases: the only place that writes goals, key results, check-ins, initiatives, feature plans,
scorecards, scores and share links. One module per area; other domains call this package.

- scoring: scorecards (RICE, WSJF, value/effort, custom formulas parsed by ``formula``, never ``eval``) and hand
  values of a feature's score inputs (:mod:`.scoring`);
- share links: read-only links to a roadmap view (:mod:`.sharing`).
"""

from prodops.domains.roadmap.service import scoring

__all__ = ["scoring"]
