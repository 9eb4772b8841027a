"""Demo roadmap: about 8 company, product and team goals with key results (some live from analytics metrics) and 12
weeks of check-ins, about 25 initiatives linked to goals and to demo features with effort and owning team, then a
RICE scorecard per product with hand inputs on about 100 features and buckets or dates for about 150 planned ones.
Seeded from this module's own seeds; seeding twice changes nothing."""

from __future__ import annotations

import datetime as dt
import random

from sqlalchemy import select
from sqlalchemy.orm import Session

from prodops.domains.features import service as features
from prodops.domains.roadmap.models import CheckIn, FeaturePlan, Goal, KeyResult, Scorecard
from prodops.domains.roadmap.schemas.goals import GoalIn, InitiativeIn, KeyResultIn, PlanUpdate
from prodops.domains.roadmap.schemas.scoring import ScorecardIn, ScoreValuesIn
from prodops.domains.roadmap.service import goals, initiatives, plans, scoring
from prodops.platform import audit, registry
from prodops.platform.audit import Actor
from prodops.platform.db import transaction, utcnow
from prodops.platform.demo import DemoContext

ACTOR = Actor.system("demo")

# --- goals, key results, check-ins, initiatives ---------------------------------------------------------

GOALS_SEED = 20_261_130
WEEKS = 12

# key, level, parent key, product key, team key, title, [(title, unit, start, target, metric key or None, weight)]
_GOALS: list[
    tuple[str, str, str | None, str | None, str | None, str, list[tuple[str, str, float, float, str | None, float]]]
] = [
    (
        "grow",
        "company",
        None,
        None,
        None,
        "Grow recurring revenue with customers who stay",
        [
            ("Net revenue retention", "%", 104, 115, None, 2),
            ("Weekly active accounts", "accounts", 1200, 2000, "weekly_active_accounts", 1),
        ],
    ),
    (
        "trust",
        "company",
        None,
        None,
        None,
        "Be the product teams trust with their daily work",
        [
            ("NPS", "", 21, 40, None, 1),
            ("Critical bugs open", "bugs", 34, 5, None, 1),
        ],
    ),
    (
        "core-onboard",
        "product",
        "grow",
        "core",
        None,
        "Make Acme Core the easiest tool to roll out to a team",
        [
            ("Activation within 7 days", "%", 38, 60, "activation_rate", 2),
            ("Median time to first report", "minutes", 45, 15, None, 1),
        ],
    ),
    (
        "core-expand",
        "product",
        "grow",
        "core",
        None,
        "Win expansion in mid-market accounts",
        [
            ("Accounts with 3+ teams", "accounts", 140, 260, None, 1),
            ("Expansion ARR this half", "kUSD", 0, 900, None, 2),
        ],
    ),
    (
        "mobile-quality",
        "product",
        "trust",
        "mobile",
        None,
        "A mobile app that never gets in the way",
        [
            ("Crash-free sessions", "%", 97.1, 99.5, "crash_free_sessions", 2),
            ("Store rating", "stars", 3.6, 4.4, None, 1),
            ("Cold start p90", "ms", 3200, 1500, None, 1),
        ],
    ),
    (
        "mobile-engage",
        "product",
        "grow",
        "mobile",
        None,
        "Bring mobile users back every week",
        [
            ("Weekly returning mobile users", "%", 31, 45, "weekly_returning_mobile", 1),
        ],
    ),
    (
        "platform-speed",
        "team",
        "trust",
        "core",
        "platform",
        "Pages feel instant at any account size",
        [
            ("p95 page time", "ms", 900, 300, None, 1),
            ("Slow-page tickets per week", "tickets", 18, 4, None, 1),
        ],
    ),
    (
        "insights-reports",
        "team",
        "core-onboard",
        "core",
        "insights",
        "Reports people build without help",
        [
            ("Reports created without support", "%", 55, 80, None, 1),
        ],
    ),
]

_NARRATIVES = {
    "on_track": [
        "Shipped the first slice; the numbers moved as expected.",
        "Steady week. The new flow is rolling out to 50% of accounts.",
        "Ahead of plan after the release on Tuesday.",
    ],
    "at_risk": [
        "Slower than planned: two engineers were pulled into incident work.",
        "The experiment was inconclusive; we are reworking the copy.",
        "Waiting on the data migration before the next step.",
    ],
    "off_track": [
        "Blocked by the billing dependency; escalated to the leadership sync.",
        "The change regressed another metric and was rolled back.",
    ],
}

# title, product key, team key, goal keys
_INITIATIVES: list[tuple[str, str, str, list[str]]] = [
    ("Guided onboarding checklist", "core", "growth", ["core-onboard"]),
    ("Templates gallery", "core", "growth", ["core-onboard", "insights-reports"]),
    ("Invite the whole team in one step", "core", "growth", ["core-onboard", "core-expand"]),
    ("Admin console for multi-team accounts", "core", "platform", ["core-expand"]),
    ("Usage-based upgrade prompts", "core", "growth", ["core-expand", "grow"]),
    ("SSO and SCIM for mid-market", "core", "platform", ["core-expand"]),
    ("Report builder without SQL", "core", "insights", ["insights-reports"]),
    ("Scheduled report delivery", "core", "insights", ["insights-reports"]),
    ("Query engine rewrite", "core", "platform", ["platform-speed"]),
    ("Page performance budget", "core", "platform", ["platform-speed"]),
    ("Bug bash: top 30 crashes", "core", "support", ["trust"]),
    ("Self-serve help centre", "core", "support", ["trust"]),
    ("Start-up crash fixes", "mobile", "mobile", ["mobile-quality"]),
    ("Battery and memory diet", "mobile", "mobile", ["mobile-quality"]),
    ("Offline mode", "mobile", "mobile", ["mobile-quality", "mobile-engage"]),
    ("Smart notifications", "mobile", "mobile", ["mobile-engage"]),
    ("Home-screen widgets", "mobile", "mobile", ["mobile-engage"]),
    ("Dark mode and theming", "mobile", "mobile", ["mobile-engage"]),
    ("Messaging reliability", "mobile", "mobile", ["mobile-quality"]),
    ("Media sharing polish", "mobile", "mobile", ["mobile-engage"]),
    ("Billing system migration", "core", "platform", ["grow"]),
    ("Partner integrations marketplace", "core", "growth", ["grow"]),
    ("Design system refresh", "core", "insights", []),
    ("Internal tooling clean-up", "core", "platform", []),
    ("Android 14 readiness", "mobile", "mobile", []),
]


def _value(start: float, target: float, share: float, rng: random.Random) -> float:
    noise = (target - start) * rng.uniform(-0.06, 0.06)
    value = start + (target - start) * share + noise
    return round(value, 1 if abs(target - start) < 50 else 0)


@registry.demo_seeder("roadmap-goals", order=90)
def seed_goals(session: Session, ctx: DemoContext) -> str:
    """Goals with key results and 12 weeks of check-ins, initiatives linked to goals, and demo features planned in
    them with effort and owning team (about 20 planned features are left unaligned)."""
    if session.scalar(select(Goal.id).limit(1)) is not None:
        return "goals already there"
    rng = random.Random(GOALS_SEED)
    today = utcnow().date()
    period_start = today - dt.timedelta(weeks=WEEKS)
    period_end = today + dt.timedelta(days=90)
    owners = ctx.user_ids[1:] or ctx.user_ids
    ids: dict[str, int] = {}
    pace: dict[int, float] = {}
    for key, level, parent, product, team, title, krs in _GOALS:
        goal = goals.create_goal(
            session,
            ACTOR,
            GoalIn(
                title=title,
                level=level,
                parent_id=ids.get(parent) if parent else None,
                product_id=ctx.product_ids.get(product) if product else None,
                team_id=ctx.team_ids.get(team) if team else None,
                owner_id=rng.choice(owners) if owners else None,
                period_start=period_start,
                period_end=period_end,
                weight=rng.choice((1, 1, 2)),
            ),
        )
        ids[key] = goal.id
        for kr_title, unit, start, target, metric, weight in krs:
            kr = goals.create_key_result(
                session,
                ACTOR,
                goal.id,
                KeyResultIn(
                    title=kr_title,
                    unit=unit,
                    start_value=start,
                    target_value=target,
                    source="metric" if metric else "manual",
                    metric_key=metric,
                    weight=weight,
                    owner_id=rng.choice(owners) if owners else None,
                ),
            )
            pace[kr.id] = rng.choice((0.35, 0.5, 0.55, 0.6, 0.7, 0.25))
    checkins = _seed_checkins(session, rng, pace)
    initiative_ids = _seed_initiatives(session, ctx, rng, ids, owners)
    planned = _seed_plans(session, ctx, rng, initiative_ids)
    return (
        f"{len(ids)} goals, {len(pace)} key results, {checkins} check-ins over {WEEKS} weeks, "
        f"{len(initiative_ids)} initiatives, {planned} features planned"
    )


def _seed_checkins(session: Session, rng: random.Random, pace: dict[int, float]) -> int:
    """Weekly check-ins (metric key results: weekly snapshots) drifting toward each key result's pace by now; a few
    owners stopped checking in 9–16 days ago, so their key results are due."""
    now = utcnow()
    rows = 0
    with transaction(session):
        krs = list(session.scalars(select(KeyResult).order_by(KeyResult.id)))
        entries = []
        for kr in krs:
            final = pace[kr.id]
            skip_last = 0 if rng.random() > 0.3 else rng.choice((1, 2))
            last: CheckIn | None = None
            for week in range(WEEKS, skip_last - 1, -1):
                share = final * (WEEKS - week) / WEEKS
                value = _value(kr.start_value, kr.target_value, share, rng)
                at = now - dt.timedelta(weeks=week, hours=rng.randint(0, 30)) + dt.timedelta(days=1)
                if kr.source == "metric":
                    last = CheckIn(key_result_id=kr.id, value=value, source="metric", created_at=at)
                else:
                    confidence = "on_track" if final >= 0.5 else ("at_risk" if final >= 0.3 else "off_track")
                    if rng.random() < 0.15:
                        confidence = rng.choice(("on_track", "at_risk"))
                    last = CheckIn(
                        key_result_id=kr.id,
                        value=value,
                        confidence=confidence,
                        narrative=rng.choice(_NARRATIVES[confidence]) if rng.random() < 0.7 else "",
                        source="manual",
                        author_id=kr.owner_id,
                        created_at=at,
                    )
                session.add(last)
                rows += 1
            if last is not None:
                kr.current_value = last.value
                if last.source == "manual":
                    kr.confidence = last.confidence
                    kr.last_checkin_at = last.created_at
            entries.append((kr.id, kr.title, {"current_value": [None, kr.current_value]}))
        audit.record_many(session, ACTOR, entity_type="key_result", action="demo_checkins", entries=entries)
    return rows


def _seed_initiatives(
    session: Session, ctx: DemoContext, rng: random.Random, goal_ids: dict[str, int], owners: list[int]
) -> list[tuple[int, str, int | None]]:
    today = utcnow().date()
    out: list[tuple[int, str, int | None]] = []
    for title, product, team, goal_keys in _INITIATIVES:
        start = today + dt.timedelta(days=rng.choice((-60, -30, -14, 0, 14, 45)))
        initiative = initiatives.create_initiative(
            session,
            ACTOR,
            InitiativeIn(
                title=title,
                product_id=ctx.product_ids.get(product),
                team_id=ctx.team_ids.get(team),
                owner_id=rng.choice(owners) if owners else None,
                status=rng.choice(("active", "active", "proposed")),
                start_date=start,
                end_date=start + dt.timedelta(days=rng.choice((45, 60, 90, 120))),
                goal_ids=[goal_ids[k] for k in goal_keys],
            ),
        )
        out.append((initiative.id, product, ctx.team_ids.get(team)))
    return out


def _seed_plans(
    session: Session, ctx: DemoContext, rng: random.Random, initiative_ids: list[tuple[int, str, int | None]]
) -> int:
    """About 4 open features per initiative (same product) with effort in points or person-weeks, and about 20
    planned features in no initiative."""
    product_keys = {pid: key for key, pid in ctx.product_ids.items()}
    open_features = [
        f
        for f in features.list_features(session, per_page=500, sort="title").items
        if f.status_kind not in ("shipped", "declined")
    ]
    session.rollback()
    rng.shuffle(open_features)
    by_product: dict[str, list[int]] = {}
    for f in open_features:
        by_product.setdefault(product_keys.get(f.product_id or -1, ""), []).append(f.id)
    planned = 0
    for initiative_id, product, team_id in initiative_ids:
        pool = by_product.get(product, [])
        for _ in range(rng.choice((3, 4, 4, 5))):
            if not pool:
                break
            unit = "person_weeks" if rng.random() < 0.25 else "points"
            effort = float(rng.choice((1, 2, 3, 4, 6)) if unit == "person_weeks" else rng.choice((2, 3, 5, 8, 13)))
            plans.update_plan(
                session,
                ACTOR,
                pool.pop(),
                PlanUpdate(
                    initiative_id=initiative_id,
                    effort=effort if rng.random() > 0.08 else None,
                    effort_unit=unit,
                    team_id=team_id,
                ),
            )
            planned += 1
    rest = [fid for pool in by_product.values() for fid in pool]
    teams = list(ctx.team_ids.values())
    for fid in rest[:20]:
        plans.update_plan(
            session,
            ACTOR,
            fid,
            PlanUpdate(effort=float(rng.choice((2, 3, 5, 8))), team_id=rng.choice(teams) if teams else None),
        )
        planned += 1
    return planned


# --- prioritisation and roadmap placement ------------------------------------------------------------

PRIORITISATION_SEED = 20_261_201
IMPACTS = (0.25, 0.5, 1, 1, 2, 2, 3)
CONFIDENCES = (0.5, 0.8, 0.8, 1.0)


@registry.demo_seeder("roadmap-prioritisation", order=95)
def seed_prioritisation(session: Session, ctx: DemoContext) -> str:
    """A RICE scorecard per demo product with hand impact/confidence (and effort where the plan has none) on about
    100 features, and now/next/later buckets with dates on about 150 open features."""
    if session.scalar(select(Scorecard.id).limit(1)) is not None:
        return "scorecards already there"
    rng = random.Random(PRIORITISATION_SEED)
    cards = {
        pid: scoring.create_scorecard(
            session, ACTOR, ScorecardIn(name=f"RICE · {key.title()}", product_id=pid, kind="rice")
        )
        for key, pid in sorted(ctx.product_ids.items())
    }
    session.rollback()
    open_features = [
        f
        for f in features.list_features(session, per_page=500, sort="title").items
        if f.status_kind not in ("shipped", "declined")
    ]
    rng.shuffle(open_features)
    planned_already = set(session.scalars(select(FeaturePlan.feature_id).where(FeaturePlan.bucket.is_not(None))))
    efforts = dict(session.execute(select(FeaturePlan.feature_id, FeaturePlan.effort)).all())
    session.rollback()
    today = dt.datetime.now(dt.UTC).date().replace(day=1)
    placed = 0
    for n, feature in enumerate(open_features[:150]):
        if feature.id in planned_already:
            continue
        bucket = "now" if feature.status_kind == "active" else rng.choice(("now", "next", "next", "later", "later"))
        offset = {"now": 0, "next": 2, "later": 5}[bucket] + rng.randint(0, 2)
        start = (today + dt.timedelta(days=31 * offset)).replace(day=rng.choice((1, 8, 15)))
        end = start + dt.timedelta(days=rng.choice((14, 30, 45, 60, 90)))
        plans.update_plan(
            session,
            ACTOR,
            feature.id,
            PlanUpdate(bucket=bucket, start_date=start, end_date=end, position=1024 * (n + 1)),
        )
        placed += 1
    scored = 0
    for feature in open_features[:100]:
        card = cards.get(feature.product_id) if feature.product_id is not None else None
        if card is None:
            continue
        values: dict[str, float | None] = {"impact": rng.choice(IMPACTS), "confidence": rng.choice(CONFIDENCES)}
        if efforts.get(feature.id) is None:
            values["effort"] = float(rng.choice((1, 2, 3, 5, 8, 13)))
        scoring.set_inputs(session, ACTOR, card.id, feature.id, ScoreValuesIn(values=values))
        scored += 1
    return f"{len(cards)} RICE scorecards, {scored} features scored by hand, {placed} placed on the roadmap"
