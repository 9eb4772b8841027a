"""The alignment report: where planned effort goes against the strategy.

Definitions (README "Strategy and roadmap"):

- **Planned work** = every surviving feature with a roadmap plan; its effort in points (person-weeks converted with
  ``PRODOPS_ROADMAP_POINTS_PER_PERSON_WEEK``), no estimate counting 0. Its team is the plan's team, else its
  initiative's team; its product is the feature's product.
- **Share by goal**: a feature's effort goes to the goals its initiative serves, split equally between them; the rest
  (no initiative, or an initiative linked to no goal) is **unaligned**. Shares are of all planned effort in the view.
- **Share by initiative**: effort per initiative, plus "No initiative".
- **Goals with no planned work** (unstaffed strategy): active goals in the view (the product's or team's goals, and
  goals set for no product or team) for which neither the goal nor any goal below it has planned work.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from prodops.domains.features import service as features
from prodops.domains.roadmap.models import FeaturePlan, Goal, Initiative, InitiativeGoal
from prodops.domains.roadmap.queries._names import team_names, user_names
from prodops.domains.roadmap.queries.initiatives import to_points
from prodops.domains.roadmap.schemas.goals import (
    AlignmentFilters,
    AlignmentReport,
    EffortShare,
    UnalignedFeature,
    UnstaffedGoal,
)
from prodops.platform.config import get_settings

UNALIGNED_LABEL = "Unaligned (no goal)"
NO_INITIATIVE_LABEL = "No initiative"


@dataclass(frozen=True)
class _Work:
    feature_id: int
    title: str
    initiative_id: int | None
    points: float
    estimated: bool
    team_id: int | None


def _work(session: Session, f: AlignmentFilters) -> list[_Work]:
    feats = features.feature_facts().subquery("f")
    team = func.coalesce(FeaturePlan.team_id, Initiative.team_id)
    stmt = (
        select(
            FeaturePlan.feature_id,
            feats.c.title,
            FeaturePlan.initiative_id,
            to_points(FeaturePlan.effort, FeaturePlan.effort_unit).label("points"),
            team.label("team_id"),
        )
        .join(feats, feats.c.feature_id == FeaturePlan.feature_id)
        .outerjoin(Initiative, Initiative.id == FeaturePlan.initiative_id)
        .where(feats.c.merged_into_id.is_(None))
    )
    if f.product_id is not None:
        stmt = stmt.where(feats.c.product_id == f.product_id)
    if f.team_id is not None:
        stmt = stmt.where(team == f.team_id)
    # positional unpacking: attribute access on 5,000 rows costs more than the query
    return [
        _Work(fid, title, iid, float(points or 0), points is not None, team)
        for fid, title, iid, points, team in session.execute(stmt)
    ]


def report(session: Session, f: AlignmentFilters, *, unaligned_limit: int = 500) -> AlignmentReport:
    work = _work(session, f)
    rate = get_settings().roadmap_points_per_person_week
    scale = 1.0 if f.unit == "points" else 1.0 / rate
    links: dict[int, list[int]] = defaultdict(list)
    for initiative_id, goal_id in session.execute(select(InitiativeGoal.initiative_id, InitiativeGoal.goal_id)):
        links[initiative_id].append(goal_id)
    goals = {g.id: g for g in session.scalars(select(Goal))}
    initiatives = {r[0]: r[1] for r in session.execute(select(Initiative.id, Initiative.title))}
    teams = team_names(session)

    total = sum(w.points for w in work)
    by_goal: dict[int | None, list[float]] = defaultdict(lambda: [0, 0.0])
    by_initiative: dict[int | None, list[float]] = defaultdict(lambda: [0, 0.0])
    unaligned_work: list[_Work] = []
    staffed: set[int] = set()
    for w in work:
        slot = by_initiative[w.initiative_id]
        slot[0] += 1
        slot[1] += w.points
        goal_ids = [g for g in links.get(w.initiative_id, []) if g in goals] if w.initiative_id is not None else []
        if goal_ids:
            for g in goal_ids:
                by_goal[g][0] += 1
                by_goal[g][1] += w.points / len(goal_ids)
                staffed.add(g)
        else:
            by_goal[None][0] += 1
            by_goal[None][1] += w.points
            unaligned_work.append(w)
    unaligned_work.sort(key=lambda w: (w.title.lower(), w.feature_id))
    unaligned = [
        UnalignedFeature(
            feature_id=w.feature_id,
            title=w.title,
            initiative_id=w.initiative_id,
            initiative_title=initiatives.get(w.initiative_id) if w.initiative_id else None,
            effort=round(w.points * scale, 2),
            team_name=teams.get(w.team_id) if w.team_id else None,
            reason="no_initiative" if w.initiative_id is None else "initiative_without_goal",
        )
        for w in unaligned_work[:unaligned_limit]
    ]

    def share(key: int | None, counts: list[float], title: str) -> EffortShare:
        return EffortShare(
            id=key,
            title=title,
            features=int(counts[0]),
            effort=round(counts[1] * scale, 2),
            share=counts[1] / total if total > 0 else 0.0,
        )

    goal_rows = [share(g, c, goals[g].title) for g, c in by_goal.items() if g is not None]
    goal_rows.sort(key=lambda r: (-r.effort, -r.features, r.title.lower()))
    if None in by_goal:
        goal_rows.append(share(None, by_goal[None], UNALIGNED_LABEL))
    initiative_rows = [share(i, c, initiatives.get(i, f"#{i}")) for i, c in by_initiative.items() if i is not None]
    initiative_rows.sort(key=lambda r: (-r.effort, -r.features, r.title.lower()))
    if None in by_initiative:
        initiative_rows.append(share(None, by_initiative[None], NO_INITIATIVE_LABEL))

    # a goal is staffed when it or any goal below it has work: walk up from every staffed goal
    covered: set[int] = set()
    for g in staffed:
        current: int | None = g
        while current is not None and current in goals and current not in covered:
            covered.add(current)
            current = goals[current].parent_id
    in_view = [
        g
        for g in goals.values()
        if g.status == "active"
        and (f.product_id is None or g.product_id in (None, f.product_id))
        and (f.team_id is None or g.team_id in (None, f.team_id))
        and g.id not in covered
    ]
    owners = user_names(session, [g.owner_id for g in in_view])
    unstaffed = [
        UnstaffedGoal(id=g.id, title=g.title, level=g.level, owner_name=owners.get(g.owner_id) if g.owner_id else None)
        for g in sorted(in_view, key=lambda g: (("company", "product", "team").index(g.level), g.title.lower()))
    ]
    unaligned_points = by_goal[None][1] if None in by_goal else 0.0
    return AlignmentReport(
        filters=f,
        unit=f.unit,
        total_features=len(work),
        total_effort=round(total * scale, 2),
        unestimated=sum(1 for w in work if not w.estimated),
        aligned_share=(total - unaligned_points) / total if total > 0 else 0.0,
        by_goal=goal_rows,
        by_initiative=initiative_rows,
        unaligned=unaligned,
        unaligned_total=len(unaligned_work),
        unstaffed=unstaffed,
    )


def csv_rows(rep: AlignmentReport, section: str) -> tuple[list[str], list[list[Any]]]:
    """The header and rows of one section of the report, for the CSV export."""
    unit = "points" if rep.unit == "points" else "person_weeks"
    if section in ("goals", "initiatives"):
        rows = rep.by_goal if section == "goals" else rep.by_initiative
        key = "goal_id" if section == "goals" else "initiative_id"
        return (
            [key, "title", "features", f"effort_{unit}", "share"],
            [[r.id or "", r.title, r.features, r.effort, round(r.share, 4)] for r in rows],
        )
    if section == "unaligned":
        return (
            ["feature_id", "title", "initiative_id", "initiative", f"effort_{unit}", "team", "reason"],
            [
                [
                    u.feature_id,
                    u.title,
                    u.initiative_id or "",
                    u.initiative_title or "",
                    u.effort,
                    u.team_name or "",
                    u.reason,
                ]
                for u in rep.unaligned
            ],
        )
    return (
        ["goal_id", "title", "level", "owner"],
        [[g.id, g.title, g.level, g.owner_name or ""] for g in rep.unstaffed],
    )
