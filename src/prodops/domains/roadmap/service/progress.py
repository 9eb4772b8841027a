"""How progress is computed and rolls up — the definitions the pages, API, e-mails and README share.

- **Key result progress** = (current − start) / (target − start), clamped to 0..1. It works the same for a measure
  that should fall (start 40, target 10, current 25 → 0.5). No value yet counts as the start (0). Overshooting
  counts as 1, going the wrong way as 0.
- **Goal progress** = the weighted mean of its key results (each with its ``weight``) and its child goals (each
  with the child's ``weight``, counting the child's own rolled-up progress). Items with weight 0 are left out;
  archived child goals and children that nothing measures are left out. A goal with nothing left to average has
  no progress (``None``, shown as "not measured").
- **Health** of a key result: the confidence of its latest check-in; without one, its pace: progress against the
  share of the goal's period already gone (on track within 10 points of the pace, at risk within 25, else off
  track); without a period, no data. A goal's health is the worst of its key results' (then its children's).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

HEALTH_ORDER = {"no_data": 0, "on_track": 1, "at_risk": 2, "off_track": 3}


@dataclass(frozen=True)
class KrNode:
    id: int
    goal_id: int
    start: float
    target: float
    current: float | None
    weight: float = 1.0


@dataclass(frozen=True)
class GoalNode:
    id: int
    parent_id: int | None
    weight: float = 1.0
    status: str = "active"


def kr_progress(start: float, target: float, current: float | None) -> float:
    """(current − start) / (target − start), clamped to 0..1; no value yet is 0."""
    if current is None:
        return 0.0
    if target == start:  # refused on input; kept total for rows written another way
        return 1.0 if current == target else 0.0
    return min(1.0, max(0.0, (current - start) / (target - start)))


def rollup(goals: Iterable[GoalNode], krs: Iterable[KrNode]) -> dict[int, float | None]:
    """Every goal's progress (see the module docstring), computed bottom-up in one pass over the tree."""
    by_id = {g.id: g for g in goals}
    children: dict[int, list[GoalNode]] = defaultdict(list)
    for g in by_id.values():
        if g.parent_id is not None and g.parent_id in by_id and g.parent_id != g.id:
            children[g.parent_id].append(g)
    own: dict[int, list[tuple[float, float]]] = defaultdict(list)
    for kr in krs:
        if kr.goal_id in by_id and kr.weight > 0:
            own[kr.goal_id].append((kr_progress(kr.start, kr.target, kr.current), kr.weight))
    result: dict[int, float | None] = {}
    visiting: set[int] = set()

    def visit(goal_id: int) -> float | None:
        if goal_id in result:
            return result[goal_id]
        if goal_id in visiting:  # a cycle written around the service's check: break it here
            return None
        visiting.add(goal_id)
        parts = list(own.get(goal_id, []))
        for child in children.get(goal_id, []):
            value = visit(child.id)
            if child.status != "archived" and child.weight > 0 and value is not None:
                parts.append((value, child.weight))
        visiting.discard(goal_id)
        total = sum(w for _, w in parts)
        result[goal_id] = sum(p * w for p, w in parts) / total if total > 0 else None
        return result[goal_id]

    for goal_id in by_id:
        visit(goal_id)
    return result


def expected_progress(start: dt.date | None, end: dt.date | None, today: dt.date) -> float | None:
    """The share of the period gone by ``today`` (0..1); None without a period."""
    if start is None or end is None or end <= start:
        return None
    return min(1.0, max(0.0, (today - start).days / (end - start).days))


def kr_health(confidence: str | None, progress: float, expected: float | None) -> str:
    if confidence:
        return confidence
    if expected is None:
        return "no_data"
    if progress >= expected - 0.10:
        return "on_track"
    if progress >= expected - 0.25:
        return "at_risk"
    return "off_track"


def worst(healths: Iterable[str]) -> str:
    return max(healths, key=lambda h: HEALTH_ORDER[h], default="no_data")


def goal_health(goals: Iterable[GoalNode], kr_healths: dict[int, list[str]]) -> dict[int, str]:
    """The worst health of each goal's key results; a goal without key results takes its children's worst."""
    by_id = {g.id: g for g in goals}
    children: dict[int, list[int]] = defaultdict(list)
    for g in by_id.values():
        if g.parent_id in by_id and g.parent_id != g.id and g.status != "archived":
            children[g.parent_id].append(g.id)
    result: dict[int, str] = {}
    visiting: set[int] = set()

    def visit(goal_id: int) -> str:
        if goal_id in result:
            return result[goal_id]
        if goal_id in visiting:
            return "no_data"
        visiting.add(goal_id)
        own = [h for h in kr_healths.get(goal_id, []) if h != "no_data"]
        result[goal_id] = worst(own) if own else worst(visit(c) for c in children.get(goal_id, []))
        visiting.discard(goal_id)
        return result[goal_id]

    for goal_id in by_id:
        visit(goal_id)
    return result
