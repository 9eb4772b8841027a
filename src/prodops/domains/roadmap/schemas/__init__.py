"""Roadmap API shapes, one module per area: ``goals`` (goals, key results, check-ins, initiatives, feature plans,
alignment), ``scoring`` (scorecards and scores) and ``roadmap`` (roadmap views and share links)."""
