"""Roadmap views: planned features as a now/next/later board or a timeline by month or quarter, in lanes by goal or
team, and their CSV and PNG exports. Never commits.

A feature is on the roadmap when its plan has a bucket or a date. Declined features are left out. The view's
filters apply in SQL; fields the view does not show are never read into the result (so a share link without
``score`` cannot leak one).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from prodops.domains.features import service as features
from prodops.domains.roadmap.models import FeaturePlan, Goal, Initiative, InitiativeGoal
from prodops.domains.roadmap.queries.ranking import lifecycles
from prodops.domains.roadmap.schemas.roadmap import (
    BUCKET_LABELS,
    FIELD_LABELS,
    GoalRef,
    Lane,
    Period,
    RoadmapData,
    RoadmapItem,
    RoadmapView,
)
from prodops.domains.roadmap.service import scoring
from prodops.platform.org.models import Product, Team

BUCKETS = ("now", "next", "later")
PNG_BARS = 150
"""Bars per lane in the PNG export (an image of more is unreadable; the CSV has everything)."""
PNG_CARDS = 40
"""Cards per board column in the PNG export."""
MAX_ITEMS = 5000


def period_start(day: dt.date, granularity: str) -> dt.date:
    if granularity == "quarter":
        return dt.date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
    return day.replace(day=1)


def add_months(day: dt.date, months: int) -> dt.date:
    """The same day ``months`` later (or earlier), clamped to the month's last day."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    last = (dt.date(year + (month == 12), month % 12 + 1, 1) - dt.timedelta(days=1)).day
    return dt.date(year, month, min(day.day, last))


def periods(view: RoadmapView, today: dt.date | None = None) -> list[Period]:
    step = 3 if view.granularity == "quarter" else 1
    first = period_start(view.start or today or dt.datetime.now(dt.UTC).date(), view.granularity)
    found = []
    for n in range(view.periods):
        start = add_months(first, n * step)
        end = add_months(start, step)
        label = f"Q{(start.month - 1) // 3 + 1} {start.year}" if step == 3 else start.strftime("%b %Y")
        found.append(Period(start=start, end=end, label=label))
    return found


def _lookups(session: Session, view: RoadmapView, rows: list[Any]) -> dict[str, Any]:
    """Names and values the view shows, one statement each: initiatives, goals, teams, products, descriptions,
    scores (only those the view's fields need)."""
    initiative_ids = {r.initiative_id for r in rows if r.initiative_id is not None}
    titles: dict[int, str] = {}
    goals: dict[int, list[GoalRef]] = {}
    if initiative_ids and (view.shows("initiative") or view.shows("goals") or view.group == "goal"):
        titles = dict(
            session.execute(select(Initiative.id, Initiative.title).where(Initiative.id.in_(initiative_ids))).all()
        )
        links = session.execute(
            select(InitiativeGoal.initiative_id, Goal.id, Goal.title)
            .join(Goal, Goal.id == InitiativeGoal.goal_id)
            .where(InitiativeGoal.initiative_id.in_(initiative_ids))
            .order_by(Goal.title, Goal.id)
        )
        for initiative_id, goal_id, goal_title in links:
            goals.setdefault(initiative_id, []).append(GoalRef(id=goal_id, title=goal_title))
    teams = dict(session.execute(select(Team.id, Team.name)).all())
    products = dict(session.execute(select(Product.id, Product.name)).all())
    descriptions: dict[int, str] = {}
    if view.shows("description") and rows:
        found = features.features_by_id(session, [r.feature_id for r in rows])
        descriptions = {fid: f.description for fid, f in found.items()}
    scores: dict[int, float | None] = {}
    if view.shows("score") and rows:
        card = scoring.scorecard_for(session, view.product_id)
        if card is not None:
            scores = scoring.scores_for(session, card, [r.feature_id for r in rows])
    return {
        "titles": titles,
        "goals": goals,
        "teams": teams,
        "products": products,
        "descriptions": descriptions,
        "scores": scores,
    }


def _items(session: Session, view: RoadmapView) -> list[RoadmapItem]:
    feats = features.feature_facts().subquery("f")
    team = func.coalesce(FeaturePlan.team_id, feats.c.team_id)
    stmt = (
        select(
            feats.c.feature_id,
            feats.c.title,
            feats.c.product_id,
            feats.c.status,
            team.label("team_id"),
            FeaturePlan.initiative_id,
            FeaturePlan.bucket,
            FeaturePlan.start_date,
            FeaturePlan.end_date,
            FeaturePlan.position,
            FeaturePlan.effort,
            FeaturePlan.effort_unit,
        )
        .join(feats, feats.c.feature_id == FeaturePlan.feature_id)
        .where(feats.c.merged_into_id.is_(None))
        .where(
            or_(FeaturePlan.bucket.is_not(None), FeaturePlan.start_date.is_not(None), FeaturePlan.end_date.is_not(None))
        )
    )
    if view.product_id is not None:
        stmt = stmt.where(feats.c.product_id == view.product_id)
    if view.team_id is not None:
        stmt = stmt.where(team == view.team_id)
    if view.goal_id is not None:
        serving = select(InitiativeGoal.initiative_id).where(InitiativeGoal.goal_id == view.goal_id)
        stmt = stmt.where(FeaturePlan.initiative_id.in_(serving))
    rows = list(session.execute(stmt.order_by(FeaturePlan.position, feats.c.feature_id).limit(MAX_ITEMS)))
    life = lifecycles(session, {r.product_id for r in rows})
    rows = [r for r in rows if life.find(r.product_id, r.status)[1] != "declined"]
    names = _lookups(session, view, rows)
    titles, goals, teams, products = names["titles"], names["goals"], names["teams"], names["products"]
    descriptions, scores = names["descriptions"], names["scores"]
    items = []
    for r in rows:
        item = RoadmapItem(
            feature_id=r.feature_id,
            title=r.title,
            product_id=r.product_id,
            product_name=products.get(r.product_id),
            bucket=r.bucket,
            position=r.position or 0,
            team_id=r.team_id,
        )
        if view.shows("status"):
            item.status = r.status
            item.status_label = life.find(r.product_id, r.status)[0]
        if view.shows("team") or view.group == "team":
            item.team_name = teams.get(r.team_id) if r.team_id is not None else None
        if view.shows("initiative"):
            item.initiative_id = r.initiative_id
            item.initiative_title = titles.get(r.initiative_id) if r.initiative_id is not None else None
        if view.shows("goals") or view.group == "goal":
            item.goals = goals.get(r.initiative_id, []) if r.initiative_id is not None else []
        if view.shows("dates") or view.layout == "timeline":
            item.start_date, item.end_date = r.start_date, r.end_date
        if view.shows("effort"):
            item.effort, item.effort_unit = r.effort, r.effort_unit
        if view.shows("score"):
            item.score = scores.get(r.feature_id)
        if view.shows("description"):
            item.description = descriptions.get(r.feature_id, "")
        items.append(item)
    if not view.shows("team"):
        for item in items:
            item.team_id = None if view.group != "team" else item.team_id
    return items


def _lanes(view: RoadmapView, items: list[RoadmapItem]) -> list[Lane]:
    if view.group == "none":
        return [Lane(key="all", title="", items=list(items))]
    lanes: dict[str, Lane] = {}
    for item in items:
        if view.group == "team":
            keys = [(f"team-{item.team_id}", item.team_name or "Team")] if item.team_id else [("none", "No team")]
        else:
            keys = [(f"goal-{g.id}", g.title) for g in item.goals] or [("none", "No goal (unaligned)")]
        for key, title in keys:
            lanes.setdefault(key, Lane(key=key, title=title)).items.append(item)
    return sorted(lanes.values(), key=lambda lane: (lane.key == "none", lane.title.lower()))


def roadmap(session: Session, view: RoadmapView, *, today: dt.date | None = None) -> RoadmapData:
    """The view's planned features, laid out."""
    items = _items(session, view)
    lanes = _lanes(view, items)
    if view.layout == "board":
        for lane in lanes:
            lane.buckets = {b: [] for b in BUCKETS}
            for item in lane.items:
                if item.bucket in lane.buckets:
                    lane.buckets[item.bucket].append(item)
            lane.items = []
        return RoadmapData(view=view, lanes=lanes, total=len(items))
    cols = periods(view, today)
    first, end = cols[0].start, cols[-1].end
    unscheduled: list[RoadmapItem] = []
    unscheduled_ids: set[int] = set()
    outside = 0
    for lane in lanes:
        shown = []
        for item in lane.items:
            start = item.start_date or item.end_date
            finish = item.end_date or item.start_date
            if start is None or finish is None:
                if item.feature_id not in unscheduled_ids:  # an item sits in several goal lanes
                    unscheduled_ids.add(item.feature_id)
                    unscheduled.append(item)
                continue
            if finish < first or start >= end:
                outside += 1
                continue
            item.col_start = next(n for n, p in enumerate(cols, start=1) if max(start, first) < p.end)
            item.col_end = next(
                n for n, p in enumerate(cols, start=1) if min(finish, end - dt.timedelta(days=1)) < p.end
            )
            shown.append(item)
        lane.items = sorted(shown, key=lambda i: (i.start_date or i.end_date or first, i.feature_id))
    return RoadmapData(
        view=view,
        lanes=[lane for lane in lanes if lane.items] or lanes[:1],
        periods=cols,
        unscheduled=unscheduled,
        outside=outside,
        total=len(items),
    )


# --- exports -------------------------------------------------------------------------------------


def export_csv(data: RoadmapData) -> str:
    """The view's features as CSV: one row per feature (and lane), only the view's fields."""
    view = data.view
    header = ["feature_id", "title"]
    if view.group != "none":
        header.append("lane")
    header.append("bucket")
    extra = [f for f in ("status", "team", "initiative", "goals", "dates", "effort", "score") if view.shows(f)]
    for name in extra:
        header.extend({"dates": ["start_date", "end_date"], "effort": ["effort", "effort_unit"]}.get(name, [name]))
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    lanes = data.lanes
    rows: list[tuple[Lane, RoadmapItem]] = []
    for lane in lanes:
        items = [i for b in BUCKETS for i in lane.buckets.get(b, [])] if view.layout == "board" else lane.items
        rows.extend((lane, i) for i in items)
    if view.layout == "timeline":
        rows.extend((Lane(key="", title="Not scheduled"), i) for i in data.unscheduled)
    for lane, item in rows:
        line: list[Any] = [item.feature_id, _cell(item.title)]
        if view.group != "none":
            line.append(_cell(lane.title))
        line.append(item.bucket or "")
        for name in extra:
            if name == "status":
                line.append(_cell(item.status_label or ""))
            elif name == "team":
                line.append(_cell(item.team_name or ""))
            elif name == "initiative":
                line.append(_cell(item.initiative_title or ""))
            elif name == "goals":
                line.append(_cell("; ".join(g.title for g in item.goals)))
            elif name == "dates":
                line.extend([item.start_date or "", item.end_date or ""])
            elif name == "effort":
                line.extend(["" if item.effort is None else item.effort, item.effort_unit or ""])
            elif name == "score":
                line.append("" if item.score is None else round(item.score, 4))
        writer.writerow(line)
    return out.getvalue()


def _cell(text: str) -> str:
    """Spreadsheets run text starting with = + - @ as a formula: prefix it with a quote."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def export_spec(data: RoadmapData) -> dict[str, Any]:
    """A Vega-Lite spec of the view for the PNG export: a Gantt chart for the timeline, columns for the board."""
    view = data.view
    if view.layout == "timeline":
        values: list[dict[str, Any]] = []
        for lane in data.lanes:
            for item in lane.items[:PNG_BARS]:
                first = item.start_date or item.end_date
                last = item.end_date or item.start_date
                if first is None or last is None:
                    continue
                values.append(
                    {
                        "title": item.title[:60],
                        "lane": lane.title or (item.team_name or ""),
                        "start": first.isoformat(),
                        "end": (last + dt.timedelta(days=1)).isoformat(),
                    }
                )
        return {
            "$schema": "https://vega.github.io/schema/vega-lite/v5.json",
            "title": f"Roadmap by {view.granularity}",
            "width": 900,
            "height": {"step": 18},
            "data": {"values": values},
            "mark": {"type": "bar", "cornerRadius": 3},
            "encoding": {
                "y": {"field": "title", "type": "nominal", "sort": {"field": "start"}, "title": None},
                "x": {
                    "field": "start",
                    "type": "temporal",
                    "title": None,
                    "scale": {"domain": [data.periods[0].start.isoformat(), data.periods[-1].end.isoformat()]},
                },
                "x2": {"field": "end"},
                "color": {"field": "lane", "type": "nominal", "title": GROUP_TITLE.get(view.group, "Lane")},
            },
        }
    cards: list[dict[str, Any]] = []
    for lane in data.lanes:
        for bucket in BUCKETS:
            for n, item in enumerate(lane.buckets.get(bucket, [])[:PNG_CARDS]):
                cards.append(
                    {
                        "bucket": BUCKET_LABELS[bucket],
                        "lane": lane.title or "Roadmap",
                        "row": n,
                        "title": item.title[:48],
                    }
                )
    return {
        "$schema": "https://vega.github.io/schema/vega-lite/v5.json",
        "title": "Now / next / later",
        "data": {"values": cards},
        "facet": {"row": {"field": "lane", "type": "nominal", "title": None}},
        "spec": {
            "width": 780,
            "height": {"step": 18},
            "mark": {"type": "text", "align": "left", "dx": -120},
            "encoding": {
                "x": {
                    "field": "bucket",
                    "type": "nominal",
                    "sort": ["Now", "Next", "Later"],
                    "axis": {"orient": "top"},
                    "title": None,
                },
                "y": {"field": "row", "type": "ordinal", "axis": None},
                "text": {"field": "title"},
            },
        },
        "resolve": {"scale": {"y": "independent"}},
    }


GROUP_TITLE = {"none": "Team", "goal": "Goal", "team": "Team"}
FIELD_TITLES = FIELD_LABELS


def goal_choices(session: Session) -> list[tuple[int, str]]:
    """(id, title) of the goals that are not archived, for the roadmap's goal filter."""
    stmt = select(Goal.id, Goal.title).where(Goal.status != "archived").order_by(Goal.title, Goal.id)
    return [(gid, title) for gid, title in session.execute(stmt)]
