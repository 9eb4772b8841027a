"""Roadmap pages and the JSON API under /api/v1/roadmap: goals and check-ins, initiatives, the alignment report,
prioritisation (ranked list, scorecards), roadmap views with re-planning, exports and share links."""

from prodops.domains.roadmap.routes import alignment, api, evidence, goals, initiatives, prioritise, roadmap
from prodops.platform import registry

registry.nav("Goals", "/roadmap/goals", section="Strategy", order=10)
registry.nav("Initiatives", "/roadmap/initiatives", section="Strategy", order=20)
registry.nav("Roadmap", "/roadmap", section="Strategy", order=30)
registry.nav("Prioritise", "/roadmap/prioritise", section="Strategy", order=40)
registry.nav("Alignment", "/roadmap/alignment", section="Strategy", order=50)
registry.nav("Scorecards", "/admin/roadmap/scorecards", section="Administration", order=40, min_role="admin")

__all__ = ["alignment", "api", "evidence", "goals", "initiatives", "prioritise", "roadmap"]
