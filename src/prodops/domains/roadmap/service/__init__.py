"""Roadmap use cases: the only place that writes goals, key results, check-ins, initiatives, feature plans,
scorecards, scores and share links. One module per area; other domains call this package.

- goals and key results with their rolled-up progress (:mod:`.goals`, definitions in :mod:`.progress`), check-ins
  and metric snapshots (:mod:`.checkins`, metrics read only through :mod:`.metrics`), initiatives
  (:mod:`.initiatives`), feature plans — initiative, effort, team, bucket, dates (:mod:`.plans`: :func:`update_plan`
  is the one writer), check-in reminders and the weekly goals-health summary (:mod:`.reminders`);
- scoring: scorecards (RICE, WSJF, value/effort, custom formulas parsed by ``formula``, never ``eval``) and hand
  values of a feature's score inputs (:mod:`.scoring`);
- share links: read-only links to a roadmap view (:mod:`.sharing`).

Every write is audited and emits a ``roadmap.*`` event after commit.
"""

from prodops.domains.roadmap.queries.goals import get_goal, list_goals
from prodops.domains.roadmap.service import scoring, sharing
from prodops.domains.roadmap.service.checkins import check_in, live_values, snapshot_metrics
from prodops.domains.roadmap.service.goals import (
    create_goal,
    create_key_result,
    delete_goal,
    delete_key_result,
    update_goal,
    update_key_result,
)
from prodops.domains.roadmap.service.initiatives import create_initiative, delete_initiative, update_initiative
from prodops.domains.roadmap.service.plans import get_plan, plans_by_feature, update_plan

__all__ = [
    "check_in",
    "create_goal",
    "create_initiative",
    "create_key_result",
    "delete_goal",
    "delete_initiative",
    "delete_key_result",
    "get_goal",
    "get_plan",
    "list_goals",
    "live_values",
    "plans_by_feature",
    "scoring",
    "sharing",
    "snapshot_metrics",
    "update_goal",
    "update_initiative",
    "update_key_result",
    "update_plan",
]
