"""Demo usage events: about 5,000,000 events over the last 180 days for the demo's people, generated with NumPy and
written straight into the warehouse through Arrow (not through HTTP).

What the data shows, so insights have something to find:

- a sign-up funnel for people who joined during the window: ``Signed Up`` → ``Onboarding Completed`` →
  ``Project Created`` → ``Teammate Invited``, each step within days of the previous one, with drop-off at each step;
- retention that decays after sign-up and then flattens (sticky users stay), and churn: some people stop for good;
  people who never finished onboarding churn much sooner;
- weekly seasonality: weekdays busy, weekends quiet, and a working-hours daily rhythm;
- a feature launch: ``AI Summary Generated`` does not exist before day 120 of the window (60 days ago), then ramps
  up over a month, adopted first by accounts on the bigger plans.

The size follows ``PRODOPS_DEMO_EVENTS`` (tests seed a small version). Seeding is idempotent: a warehouse that already
holds demo events is left alone.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from prodops.domains.analytics.service import identity, pipeline, sources
from prodops.domains.analytics.service.schema import ensure_schema
from prodops.domains.customers import service as customers
from prodops.platform import registry
from prodops.platform.config import get_settings
from prodops.platform.demo import ACTOR, DemoContext
from prodops.platform.warehouse import DuckDBWarehouse, Warehouse, get_warehouse

SEED = 7_180_2026
DAYS = 180
LAUNCH_DAY = 120
DEMO_SOURCE = "Demo web app"
FUNNEL = ("Signed Up", "Onboarding Completed", "Project Created", "Teammate Invited")
FUNNEL_RATES = (0.72, 0.6, 0.45)
"""Share of people who take each next step."""
LAUNCHED = "AI Summary Generated"
# Everyday events and their shares of activity.
EVENTS = {
    "$pageview": 0.36,
    "Dashboard Viewed": 0.16,
    "Report Viewed": 0.12,
    "Project Opened": 0.1,
    "Search Performed": 0.08,
    "Comment Added": 0.07,
    "Export Created": 0.05,
    "Filter Applied": 0.045,
    "Integration Connected": 0.005,
}
PAGES = [
    "/dashboard",
    "/projects",
    "/reports",
    "/settings",
    "/search",
    "/projects/board",
    "/reports/weekly",
    "/billing",
]
# Monday first: quiet weekends.
WEEKDAY = np.array([1.0, 1.06, 1.05, 1.0, 0.88, 0.32, 0.27])
# Share of a day's events per UTC hour: working hours.
HOURS = np.array([1, 1, 1, 1, 1, 2, 3, 5, 8, 10, 10, 9, 8, 9, 10, 10, 9, 7, 5, 4, 3, 2, 2, 1], dtype=float)
ADOPTION = {"Enterprise": 0.75, "Growth": 0.55, "Starter": 0.3, "Free": 0.15}


def _props(values: list[dict[str, Any]]) -> np.ndarray:
    return np.array([json.dumps(v, separators=(",", ":")) for v in values], dtype=object)


class _People:
    """Who joined when, how far they got in the funnel, and how engaged they are."""

    def __init__(self, rng: np.random.Generator, n: int) -> None:
        # 45% were customers before the window; the rest sign up during it, more of them lately.
        self.joined_before = rng.random(n) < 0.45
        signup = np.where(self.joined_before, -1, np.floor(DAYS * np.sqrt(rng.random(n))).astype(int))
        self.signup_day = np.minimum(signup, DAYS - 1)
        self.onboarded = self.joined_before | (rng.random(n) < FUNNEL_RATES[0])
        self.created = self.onboarded & (rng.random(n) < FUNNEL_RATES[1])
        self.invited = self.created & (rng.random(n) < FUNNEL_RATES[2])
        # How often someone shows up (people who never finished onboarding rarely come back), how much they do,
        # and when they stop for good.
        self.sticky = rng.beta(2.2, 2.5, n) * np.where(self.onboarded, 1.0, 0.25)
        self.intensity = rng.lognormal(0.0, 0.6, n)
        self.churn_after = rng.exponential(140, n) * np.where(self.onboarded, 1.0, 0.2)


def _activity(
    rng: np.random.Generator, p: _People, weekday: np.ndarray, n_events: int
) -> tuple[np.ndarray, np.ndarray]:
    """(person index, day) of every everyday event: active days decay after sign-up, follow the week, stop at churn."""
    n = len(p.sticky)
    days = np.arange(DAYS)
    age = np.where(p.joined_before[:, None], 365 + days[None, :], days[None, :] - p.signup_day[:, None])
    alive = (age >= 0) & (age <= p.churn_after[:, None] + np.where(p.joined_before, 365, 0)[:, None])
    decay = 0.4 + 0.6 * np.exp(-np.maximum(age, 0) / 12.0)
    p_active = np.clip(p.sticky[:, None] * decay * weekday[None, :], 0, 0.97) * alive
    active = rng.random((n, DAYS)) < p_active
    active[np.arange(n), np.clip(p.signup_day, 0, None)] |= ~p.joined_before  # everyone is active on sign-up day
    per_active = n_events / max(1.0, float((active * p.intensity[:, None] * weekday[None, :]).sum()))
    lam = p.intensity[:, None] * per_active * weekday[None, :]
    counts = np.where(active, 1 + rng.poisson(np.maximum(lam - 1, 0)), 0)
    person_idx, day_idx = np.nonzero(counts)
    reps = counts[person_idx, day_idx]
    ev_person, ev_day = np.repeat(person_idx, reps), np.repeat(day_idx, reps)
    if len(ev_person) > n_events:  # a small demo: fewer events than active days; keep an even sample
        keep = np.sort(rng.choice(len(ev_person), n_events, replace=False))
        ev_person, ev_day = ev_person[keep], ev_day[keep]
    return ev_person, ev_day


def _names(
    rng: np.random.Generator, ev_person: np.ndarray, ev_day: np.ndarray, adoption: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Event names and properties; adopters' accounts take up the launched feature from the launch day, ramping up."""
    total = len(ev_person)
    names = np.array([*EVENTS, LAUNCHED], dtype=object)
    shares = np.array(list(EVENTS.values()))
    kind = rng.choice(len(EVENTS), total, p=shares / shares.sum())
    adopter = rng.random(len(adoption)) < adoption
    ramp = np.clip((ev_day - LAUNCH_DAY + 1) / 30.0, 0, 1) * (ev_day >= LAUNCH_DAY)
    launched = adopter[ev_person] & (rng.random(total) < 0.14 * ramp)
    kind = np.where(launched, len(EVENTS), kind)
    page_props = _props([{"$current_url": p} for p in PAGES])
    other_props = _props([{"source": s} for s in ("web", "web", "web", "mobile", "api")])
    props = np.where(kind == 0, page_props[rng.integers(0, len(PAGES), total)], other_props[rng.integers(0, 5, total)])
    return names[kind], np.where(launched, '{"model":"small","length":"short"}', props)


def _funnel(rng: np.random.Generator, p: _People) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(person index, step, second) of the funnel events of people who signed up in the window; each step comes
    hours or days after the previous one."""
    n = len(p.sticky)
    signup_second = p.signup_day * 86400.0 + rng.integers(8 * 3600, 18 * 3600, n)
    step_delay = np.column_stack([np.zeros(n)] + [rng.exponential(d, n) * 86400 for d in (0.4, 1.5, 3.0)])
    step_at = signup_second[:, None] + step_delay.cumsum(axis=1)
    joiners = np.nonzero(~p.joined_before)[0]
    reached = [np.ones(n, bool), p.onboarded, p.created, p.invited]
    who = [joiners[reached[step][joiners]] for step in range(4)]
    fp = np.concatenate(who)
    fs = np.concatenate([np.full(len(w), step) for step, w in enumerate(who)])
    seconds = step_at[fp, fs]
    keep = seconds < DAYS * 86400
    return fp[keep], fs[keep], seconds[keep]


def generate(
    n_events: int, people: list[tuple[int, str, int | None]], plans: dict[int, str], now: dt.datetime
) -> dict[str, Any]:
    """The demo events as column arrays (NumPy / Arrow-ready), about ``n_events`` of them, in time order.

    ``people`` are ``(customers person id, e-mail, account id)``; ``plans`` maps account ids to plans.
    """
    rng = np.random.default_rng(SEED)
    start = (now - dt.timedelta(days=DAYS)).replace(hour=0, minute=0, second=0, microsecond=0)
    weekday = WEEKDAY[(start.weekday() + np.arange(DAYS)) % 7]
    p = _People(rng, len(people))
    ev_person, ev_day = _activity(rng, p, weekday, n_events)
    seconds = rng.choice(24, len(ev_person), p=HOURS / HOURS.sum()) * 3600 + rng.integers(0, 3600, len(ev_person))
    adoption = np.array([ADOPTION.get(plans.get(a or -1, "Free"), 0.15) for _, _, a in people])
    ev_name, ev_props = _names(rng, ev_person, ev_day, adoption)
    fp, fs, f_seconds = _funnel(rng, p)
    all_seconds = np.concatenate([ev_day * 86400.0 + seconds, f_seconds])
    order = np.argsort(all_seconds, kind="stable")
    base_us = int(start.replace(tzinfo=dt.UTC).timestamp()) * 1_000_000
    return {
        "person_index": np.concatenate([ev_person, fp])[order],
        "timestamp_us": base_us + (all_seconds[order] * 1_000_000).astype(np.int64),
        "event": np.concatenate([ev_name, np.array(FUNNEL, dtype=object)[fs]])[order],
        "properties": np.concatenate([ev_props, np.full(len(fp), '{"source":"web"}', dtype=object)])[order],
    }


def _write(wh: Warehouse, cols: dict[str, Any], people: list[tuple[int, str, int | None]], source_id: int) -> int:
    import pyarrow as pa
    import pyarrow.compute as pc

    n = len(cols["event"])
    idx = pa.array(cols["person_index"])
    distinct = pa.array([f"user-{cid}" for cid, _, _ in people]).take(idx)
    accounts = pa.array([a for _, _, a in people], type=pa.int64()).take(idx)
    ts = pa.array(cols["timestamp_us"], type=pa.timestamp("us"))
    lag = pa.array(np.random.default_rng(SEED + 1).integers(200_000, 4_000_000, n), type=pa.duration("us"))
    table = pa.table(
        {
            "uuid": pc.binary_join_element_wise("demo-", pc.cast(pa.array(np.arange(n)), pa.string()), ""),
            "event": pa.array(cols["event"], type=pa.string()),
            "distinct_id": distinct,
            "person_id": pc.add(idx, 1).cast(pa.int64()),
            "account_id": accounts,
            "timestamp": ts,
            "received_at": pc.add(ts, lag),
            "source_id": pa.array(np.full(n, source_id, dtype=np.int32)),
            "properties": pa.array(cols["properties"], type=pa.string()),
        }
    )
    if not isinstance(wh, DuckDBWarehouse):
        raise RuntimeError("the demo writes events straight into DuckDB; set PRODOPS_WAREHOUSE_URL to a DuckDB file")
    with wh.cursor() as cur:
        cur.register("demo_events", table)
        cur.execute("INSERT INTO events SELECT * FROM demo_events")
        cur.unregister("demo_events")
    return n


def _source_id(session: Session) -> int:
    for s in sources.list_sources(session):
        if s.name == DEMO_SOURCE:
            return s.id
    return sources.create_source(session, ACTOR, sources.SourceIn(name=DEMO_SOURCE, kind="any")).id


def seed_events(session: Session, n_events: int, now: dt.datetime | None = None) -> str:
    """Seed the demo events (idempotent); returns a summary."""
    wh = get_warehouse()
    ensure_schema(wh)
    if wh.query("SELECT count(*) FROM events WHERE uuid LIKE 'demo-%'").scalar():
        return "demo events already there"
    if n_events <= 0:
        return "no demo events (PRODOPS_DEMO_EVENTS=0)"
    started = time.perf_counter()
    pipeline.stop_pipeline()  # it holds the identity graph in memory; it reloads on next use
    source_id = _source_id(session)
    people = [
        (pid, email, account_id)
        for pid, email, _ext, _name, account_id in session.execute(customers.person_mirror_facts())
    ]
    plans = {row.account_id: row.plan for row in session.execute(customers.account_mirror_facts())}
    if not people:
        return "no customers people to generate events for"
    if wh.query("SELECT count(*) FROM persons").scalar():
        return "the warehouse already has persons; demo events skipped"
    now = now or dt.datetime.now(dt.UTC).replace(tzinfo=None)
    cols = generate(n_events, people, plans, now)
    n = _write(wh, cols, people, source_id)
    created = now - dt.timedelta(days=DAYS)
    wh.append(
        "persons",
        identity.PERSON_COLUMNS,
        [
            (i + 1, cid, f"user-{cid}", email, None, account, json.dumps({"email": email}), created, now)
            for i, (cid, email, account) in enumerate(people)
        ],
    )
    wh.append(
        "person_distinct_ids",
        ("distinct_id", "person_id"),
        [(f"user-{cid}", i + 1) for i, (cid, _, _) in enumerate(people)],
    )
    identity.sync_accounts(session, wh)
    sources.record_usage(session, {source_id: (n, 0, dt.datetime.now(dt.UTC))})
    return f"{n:,} usage events for {len(people):,} people over {DAYS} days in {time.perf_counter() - started:.1f} s"


@registry.demo_seeder("analytics events", order=15)
def seed(session: Session, ctx: DemoContext) -> str:
    return seed_events(session, get_settings().demo_events)


# --- insights, metrics and dashboards ---------------------------------------------------------------------------

DEMO_DASHBOARD = "Product health"


def _demo_insights() -> list[tuple[str, str, dict[str, Any]]]:
    """Saved insights over the demo's events: name, description, query."""
    by_plan = {"source": "account", "property": "plan", "limit": 5}
    return [
        (
            "Daily active people by plan",
            "Who uses the product each day, split by the plan of their account.",
            {
                "kind": "trends",
                "series": [{"math": "people"}],
                "interval": "day",
                "date_from": "-90d",
                "breakdown": by_plan,
            },
        ),
        (
            "Sign-up funnel",
            "From sign-up to inviting a teammate, within 14 days.",
            {"kind": "funnel", "steps": [{"event": e} for e in FUNNEL], "window": 14, "date_from": "-90d"},
        ),
        (
            "Weekly retention after sign-up",
            "People who signed up, coming back to their dashboards week after week.",
            {
                "kind": "retention",
                "target_event": FUNNEL[0],
                "return_event": "Dashboard Viewed",
                "interval": "week",
                "periods": 11,
                "date_from": "-12w",
            },
        ),
        (
            f"{LAUNCHED} adoption",
            "Share of active accounts using the AI summaries launched 60 days ago.",
            {
                "kind": "adoption",
                "feature_name": "AI summaries",
                "events": [LAUNCHED],
                "interval": "week",
                "date_from": "-26w",
            },
        ),
        (
            "Lifecycle of active people",
            "New, returning, resurrecting and dormant people per week.",
            {"kind": "lifecycle", "interval": "week", "date_from": "-16w"},
        ),
        (
            "How many days a month people use dashboards",
            "Stickiness of Dashboard Viewed over the last 30 days.",
            {"kind": "stickiness", "event": "Dashboard Viewed", "interval": "day", "date_from": "-30d"},
        ),
        (
            "Reports viewed, this month against the last",
            "Report Viewed per day, compared with the previous 30 days.",
            {
                "kind": "trends",
                "series": [{"event": "Report Viewed"}],
                "interval": "day",
                "date_from": "-30d",
                "compare": True,
            },
        ),
        (
            "Feedback received per day",
            "The feedback dataset, by the day it arrived.",
            {
                "kind": "dataset",
                "dataset": "feedback",
                "date_column": "received_at",
                "interval": "day",
                "date_from": "-90d",
            },
        ),
    ]


# After the feedback, portal and surveys seeders, so the datasets it loads hold their rows.
@registry.demo_seeder("analytics insights", order=60)
def seed_insights(session: Session, ctx: DemoContext) -> str:
    """Default metrics, saved insights and a dashboard over the demo events; the datasets loaded (idempotent)."""
    from prodops.domains.analytics.service import dashboards, datasets, metrics, saved

    started = time.perf_counter()
    loaded = datasets.load_datasets(session)
    added_metrics = metrics.seed_default_metrics(session, ACTOR)
    known = {i.name: i.id for i in saved.list_insights(session, per_page=500).items}
    for name, description, query in _demo_insights():
        if name not in known:
            data = saved.InsightIn.model_validate({"name": name, "description": description, "query": query})
            known[name] = saved.create_insight(session, ACTOR, data).id
    boards = [d for d, _ in dashboards.list_dashboards(session) if d.name == DEMO_DASHBOARD]
    if not boards:
        board = dashboards.create_dashboard(
            session,
            ACTOR,
            dashboards.DashboardIn(
                name=DEMO_DASHBOARD,
                description="The numbers the product team looks at every Monday.",
                date_from="-90d",
                refresh_seconds=300,
            ),
        )
        for key in ("weekly_active_accounts", "daily_active_people"):
            metric = metrics.get_metric(session, key)
            dashboards.add_tile(session, ACTOR, board.id, dashboards.TileIn(metric_id=metric.id))
        for name, width in [
            ("Daily active people by plan", 2),
            ("Sign-up funnel", 1),
            ("Weekly retention after sign-up", 1),
            (f"{LAUNCHED} adoption", 1),
            ("Feedback received per day", 1),
        ]:
            dashboards.add_tile(session, ACTOR, board.id, dashboards.TileIn(insight_id=known[name], width=width))
    rows = ", ".join(f"{n:,} {name}" for name, n in loaded.items())
    return (
        f"{len(added_metrics)} metrics, {len(_demo_insights())} saved insights, dashboard “{DEMO_DASHBOARD}”; "
        f"datasets loaded ({rows}) in {time.perf_counter() - started:.1f} s"
    )


# --- end of insights, metrics and dashboards --------------------------------------------------------------------
