"""Goals with their rolled-up progress and health, key results, check-ins and progress history.

Goals are few (tens to hundreds), so the tree is read whole — two statements — and rolled up in Python with the
definitions of ``service/progress.py``."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from prodops.domains.roadmap.models import CheckIn, Goal, InitiativeGoal, KeyResult
from prodops.domains.roadmap.queries._names import product_names, team_names, user_names
from prodops.domains.roadmap.schemas.goals import (
    CheckInOut,
    GoalDetail,
    GoalFilters,
    GoalOut,
    GoalRef,
    KeyResultOut,
    ProgressPoint,
)
from prodops.domains.roadmap.service import progress as calc
from prodops.platform.db import utcnow
from prodops.platform.errors import NotFound

#: A key result is due for a check-in when no person checked in for this long.
CHECKIN_DAYS = 7


@dataclass
class Tree:
    goals: dict[int, Goal]
    krs: list[KeyResult]
    progress: dict[int, float | None]
    health: dict[int, str]
    kr_progress: dict[int, float]
    kr_health: dict[int, str]
    children: dict[int, list[int]] = field(default_factory=dict)

    def order(self, roots: Sequence[int] | None = None) -> list[tuple[int, int]]:
        """(goal id, depth) depth-first, children by title."""
        out: list[tuple[int, int]] = []
        seen: set[int] = set()
        starts = (
            roots
            if roots is not None
            else [g.id for g in self.goals.values() if g.parent_id is None or g.parent_id not in self.goals]
        )
        stack = [(gid, 0) for gid in sorted(starts, key=self._key, reverse=True)]
        while stack:
            gid, depth = stack.pop()
            if gid in seen:
                continue
            seen.add(gid)
            out.append((gid, depth))
            stack.extend((c, depth + 1) for c in sorted(self.children.get(gid, []), key=self._key, reverse=True))
        # goals caught in a cycle have no root: list them last rather than lose them
        out.extend((gid, 0) for gid in sorted(self.goals) if gid not in seen)
        return out

    def _key(self, gid: int) -> tuple[int, str]:
        goal = self.goals[gid]
        return (("company", "product", "team").index(goal.level), goal.title.lower())

    def descendants(self, goal_id: int) -> set[int]:
        found: set[int] = set()
        stack = [goal_id]
        while stack:
            for child in self.children.get(stack.pop(), []):
                if child not in found:
                    found.add(child)
                    stack.append(child)
        return found


def _nodes(goals: dict[int, Goal]) -> list[calc.GoalNode]:
    return [calc.GoalNode(g.id, g.parent_id, g.weight, g.status) for g in goals.values()]


def load_tree(session: Session, today: dt.date | None = None, values: dict[int, float | None] | None = None) -> Tree:
    """Every goal and key result with progress and health. ``values`` replaces key results' current values
    (live metric values, or the values at a past moment)."""
    today = today or utcnow().date()
    goals = {g.id: g for g in session.scalars(select(Goal))}
    krs = list(session.scalars(select(KeyResult).order_by(KeyResult.goal_id, KeyResult.id)))
    current = {kr.id: (values[kr.id] if values is not None and kr.id in values else kr.current_value) for kr in krs}
    nodes = [calc.KrNode(kr.id, kr.goal_id, kr.start_value, kr.target_value, current[kr.id], kr.weight) for kr in krs]
    progress = calc.rollup(_nodes(goals), nodes)
    kr_progress = {n.id: calc.kr_progress(n.start, n.target, n.current) for n in nodes}
    kr_health: dict[int, str] = {}
    by_goal: dict[int, list[str]] = defaultdict(list)
    for kr in krs:
        goal = goals[kr.goal_id]
        expected = calc.expected_progress(goal.period_start, goal.period_end, today)
        health = calc.kr_health(kr.confidence, kr_progress[kr.id], expected)
        kr_health[kr.id] = health
        if kr.weight > 0:
            by_goal[kr.goal_id].append(health)
    children: dict[int, list[int]] = defaultdict(list)
    for g in goals.values():
        if g.parent_id is not None and g.parent_id in goals and g.parent_id != g.id:
            children[g.parent_id].append(g.id)
    return Tree(
        goals=goals,
        krs=krs,
        progress=progress,
        health=calc.goal_health(_nodes(goals), by_goal),
        kr_progress=kr_progress,
        kr_health=kr_health,
        children=dict(children),
    )


def _goal_out(tree: Tree, goal: Goal, depth: int, names: dict[str, dict[int, str]]) -> GoalOut:
    parent = tree.goals.get(goal.parent_id) if goal.parent_id is not None else None
    return GoalOut(
        id=goal.id,
        title=goal.title,
        description=goal.description,
        level=goal.level,
        parent_id=goal.parent_id,
        parent_title=parent.title if parent else None,
        product_id=goal.product_id,
        product_name=names["products"].get(goal.product_id) if goal.product_id else None,
        team_id=goal.team_id,
        team_name=names["teams"].get(goal.team_id) if goal.team_id else None,
        owner_id=goal.owner_id,
        owner_name=names["users"].get(goal.owner_id) if goal.owner_id else None,
        period_start=goal.period_start,
        period_end=goal.period_end,
        status=goal.status,
        weight=goal.weight,
        progress=tree.progress.get(goal.id),
        health=tree.health.get(goal.id, "no_data"),
        key_result_count=sum(1 for kr in tree.krs if kr.goal_id == goal.id),
        child_count=len(tree.children.get(goal.id, [])),
        depth=depth,
        created_at=goal.created_at,
        updated_at=goal.updated_at,
    )


def _names(session: Session, tree: Tree) -> dict[str, dict[int, str]]:
    owners = [g.owner_id for g in tree.goals.values()] + [kr.owner_id for kr in tree.krs]
    return {"products": product_names(session), "teams": team_names(session), "users": user_names(session, owners)}


def _kr_out(tree: Tree, kr: KeyResult, names: dict[int, str], now: dt.datetime, metric_ok: bool = True) -> KeyResultOut:
    out = KeyResultOut.model_validate(kr, from_attributes=True)
    out.owner_name = names.get(kr.owner_id) if kr.owner_id else None
    out.progress = tree.kr_progress.get(kr.id, 0.0)
    out.health = tree.kr_health.get(kr.id, "no_data")  # type: ignore[assignment]
    out.due = is_due(kr.last_checkin_at, now)
    out.metric_available = metric_ok
    return out


def is_due(last_checkin_at: dt.datetime | None, now: dt.datetime | None = None) -> bool:
    now = now or utcnow()
    return last_checkin_at is None or last_checkin_at < now - dt.timedelta(days=CHECKIN_DAYS)


def list_goals(session: Session, filters: GoalFilters | None = None, tree: Tree | None = None) -> list[GoalOut]:
    """Goals as a tree (depth-first, ``depth`` set). With filters, the matching goals in the same order."""
    f = filters or GoalFilters()
    tree = tree or load_tree(session)
    names = _names(session, tree)
    out: list[GoalOut] = []
    q = (f.q or "").lower()
    for gid, depth in tree.order():
        goal = tree.goals[gid]
        if q and q not in goal.title.lower():
            continue
        if any(
            value is not None and getattr(goal, key) != value
            for key, value in (
                ("level", f.level),
                ("status", f.status),
                ("product_id", f.product_id),
                ("team_id", f.team_id),
                ("owner_id", f.owner_id),
            )
        ):
            continue
        if f.health is not None and tree.health.get(gid) != f.health:
            continue
        out.append(_goal_out(tree, goal, depth if not f.active() else 0, names))
    return out


def goal_refs(session: Session, ids: Sequence[int] | None = None) -> list[GoalRef]:
    stmt = select(Goal.id, Goal.title, Goal.level).order_by(Goal.title)
    if ids is not None:
        stmt = stmt.where(Goal.id.in_(list(ids)))
    return [GoalRef(id=r.id, title=r.title, level=r.level) for r in session.execute(stmt)]


def goal_choices(session: Session, exclude: int | None = None) -> list[tuple[int, str]]:
    """(id, indented title) of every goal but ``exclude`` and its descendants: the possible parents."""
    tree = load_tree(session)
    banned = {exclude, *tree.descendants(exclude)} if exclude is not None else set()
    return [(gid, "— " * depth + tree.goals[gid].title) for gid, depth in tree.order() if gid not in banned]


def get_goal(
    session: Session, goal_id: int, *, live: dict[int, float | None] | None = None, unavailable: set[int] | None = None
) -> GoalDetail:
    """One goal with its key results, child goals and initiatives. ``live`` holds the metric key results' live
    values; ``unavailable`` the key results whose metric source could not be read."""
    tree = load_tree(session, values=live)
    goal = tree.goals.get(goal_id)
    if goal is None:
        raise NotFound("goal", goal_id)
    names = _names(session, tree)
    now = utcnow()
    base = _goal_out(tree, goal, 0, names)
    detail = GoalDetail(**base.model_dump())
    detail.key_results = [
        _kr_out(tree, kr, names["users"], now, kr.id not in (unavailable or set()))
        for kr in tree.krs
        if kr.goal_id == goal_id
    ]
    detail.children = [
        _goal_out(tree, tree.goals[c], 1, names) for c in sorted(tree.children.get(goal_id, []), key=tree._key)
    ]
    from prodops.domains.roadmap.queries.initiatives import initiatives_for_goal

    detail.initiatives = initiatives_for_goal(session, goal_id)
    return detail


def get_key_result(session: Session, kr_id: int, live: float | None = None, metric_ok: bool = True) -> KeyResultOut:
    kr = session.get(KeyResult, kr_id)
    if kr is None:
        raise NotFound("key result", kr_id)
    goal = session.get(Goal, kr.goal_id)
    assert goal is not None
    current = live if live is not None else kr.current_value
    p = calc.kr_progress(kr.start_value, kr.target_value, current)
    expected = calc.expected_progress(goal.period_start, goal.period_end, utcnow().date())
    out = KeyResultOut.model_validate(kr, from_attributes=True)
    out.current_value = current
    out.owner_name = user_names(session, [kr.owner_id]).get(kr.owner_id) if kr.owner_id else None
    out.progress = p
    out.health = calc.kr_health(kr.confidence, p, expected)  # type: ignore[assignment]
    out.due = is_due(kr.last_checkin_at)
    out.metric_available = metric_ok
    return out


def list_key_results(session: Session, goal_id: int) -> list[KeyResultOut]:
    if session.get(Goal, goal_id) is None:
        raise NotFound("goal", goal_id)
    return get_goal(session, goal_id).key_results


def checkins(session: Session, kr_id: int, *, limit: int = 200, people_only: bool = False) -> list[CheckInOut]:
    """The newest check-ins of a key result (metric snapshots too unless ``people_only``)."""
    if session.get(KeyResult, kr_id) is None:
        raise NotFound("key result", kr_id)
    stmt = select(CheckIn).where(CheckIn.key_result_id == kr_id)
    if people_only:
        stmt = stmt.where(CheckIn.source == "manual")
    rows = list(session.scalars(stmt.order_by(CheckIn.created_at.desc(), CheckIn.id.desc()).limit(limit)))
    names = user_names(session, [r.author_id for r in rows])
    out = []
    for row in rows:
        item = CheckInOut.model_validate(row, from_attributes=True)
        item.author_name = names.get(row.author_id) if row.author_id else None
        out.append(item)
    return out


def checkin_count(session: Session, kr_id: int) -> int:
    return session.scalar(select(func.count()).select_from(CheckIn).where(CheckIn.key_result_id == kr_id)) or 0


# --- history ----------------------------------------------------------------------------------------------


def values_at(session: Session, at: dt.datetime, kr_ids: Sequence[int] | None = None) -> dict[int, float | None]:
    """Each key result's value at ``at``: its last check-in (person or metric snapshot) made by then; None before
    its first (progress counts it at the start)."""
    latest = select(CheckIn.key_result_id.label("kr"), func.max(CheckIn.created_at).label("at")).where(
        CheckIn.created_at <= at
    )
    if kr_ids is not None:
        latest = latest.where(CheckIn.key_result_id.in_(list(kr_ids)))
    last = latest.group_by(CheckIn.key_result_id).subquery("last")
    stmt = select(CheckIn.key_result_id, CheckIn.value, CheckIn.id).join(
        last, (last.c.kr == CheckIn.key_result_id) & (last.c.at == CheckIn.created_at)
    )
    found: dict[int, float | None] = {}
    for kr_id, value, _ in sorted(session.execute(stmt), key=lambda r: r[2]):
        found[kr_id] = value
    ids = kr_ids if kr_ids is not None else list(session.scalars(select(KeyResult.id)))
    return {i: found.get(i) for i in ids}


def progress_history(
    session: Session, goal_id: int, *, weeks: int = 12, end: dt.date | None = None
) -> list[ProgressPoint]:
    """The goal's rolled-up progress at the end of each of the last ``weeks`` weeks (and today), from the
    check-ins of the key results in its subtree."""
    tree = load_tree(session)
    if goal_id not in tree.goals:
        raise NotFound("goal", goal_id)
    subtree = {goal_id, *tree.descendants(goal_id)}
    kr_ids = [kr.id for kr in tree.krs if kr.goal_id in subtree]
    end = end or utcnow().date()
    rows = (
        session.execute(
            select(CheckIn.key_result_id, CheckIn.value, CheckIn.created_at)
            .where(CheckIn.key_result_id.in_(kr_ids))
            .order_by(CheckIn.created_at, CheckIn.id)
        ).all()
        if kr_ids
        else []
    )
    goals = [g for g in tree.goals.values() if g.id in subtree]
    nodes = _nodes({g.id: g for g in goals})
    days = [end - dt.timedelta(weeks=w) for w in range(weeks, -1, -1)]
    points: list[ProgressPoint] = []
    values: dict[int, float | None] = dict.fromkeys(kr_ids)
    i = 0
    for day in days:
        cutoff = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
        while i < len(rows) and rows[i][2] < cutoff:
            values[rows[i][0]] = rows[i][1]
            i += 1
        krs = [
            calc.KrNode(kr.id, kr.goal_id, kr.start_value, kr.target_value, values[kr.id], kr.weight)
            for kr in tree.krs
            if kr.goal_id in subtree
        ]
        points.append(ProgressPoint(day=day, progress=calc.rollup(nodes, krs).get(goal_id)))
    return points


def kr_ids_of_goal(session: Session, goal_id: int) -> list[int]:
    return list(session.scalars(select(KeyResult.id).where(KeyResult.goal_id == goal_id)))


def goals_of_initiatives(session: Session, initiative_ids: Sequence[int]) -> dict[int, list[GoalRef]]:
    if not initiative_ids:
        return {}
    rows = session.execute(
        select(InitiativeGoal.initiative_id, Goal.id, Goal.title, Goal.level)
        .join(Goal, Goal.id == InitiativeGoal.goal_id)
        .where(InitiativeGoal.initiative_id.in_(list(initiative_ids)))
        .order_by(Goal.title)
    )
    out: dict[int, list[GoalRef]] = defaultdict(list)
    for r in rows:
        out[r.initiative_id].append(GoalRef(id=r.id, title=r.title, level=r.level))
    return dict(out)


def metric_krs(session: Session) -> list[KeyResult]:
    """Key results whose value comes from an analytics metric, of goals not archived."""
    return list(
        session.scalars(
            select(KeyResult)
            .join(Goal, Goal.id == KeyResult.goal_id)
            .where(KeyResult.source == "metric", KeyResult.metric_key.is_not(None), Goal.status != "archived")
            .order_by(KeyResult.id)
        )
    )
