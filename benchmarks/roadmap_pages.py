"""p50/p95 of the roadmap, ranking and alignment pages with 50 goals, 300 initiatives and 5,000 features, SQLite and
PostgreSQL.

    uv run python -m benchmarks.roadmap_pages [--features 5000] [--goals 50] [--initiatives 300] [--items 20000]
                                              [--requests 30] [--backend sqlite|postgres|both]

Each backend gets a fresh database, bulk-loaded with 500 accounts (heavy-tailed ARR), 2,000 people, two products,
six teams, the features (each with a plan: 70% in an initiative, an effort, a team, 60% in now/next/later, half
with dates in the coming year), the goals (a company tree: 5 top goals, the rest under them), the initiatives
(each serving one or two goals), feedback items linked to features (popular features get most) and 3,000 votes,
a RICE scorecard per product (reach from the evidence) and hand inputs on 1,000 features. A real `prodops serve`
process answers over loopback; the client signs requests with a read token.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

import httpx
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from benchmarks._server import fresh_backend, percentiles, server, time_requests

SEED_SCRIPT = r"""
import datetime as dt, math, random, sys
from sqlalchemy import insert, select
from rich.progress import Progress
from prodops.platform.registry import load_domains
load_domains()
from prodops.platform.audit import Actor
from prodops.platform.db import session_scope, transaction, utcnow
from prodops.platform.identity import service as identity
from prodops.platform.identity.schemas import UserCreate, TokenCreate
from prodops.platform.org.models import Product, Team
from prodops.domains.customers.models import Account, Person
from prodops.domains.features.models import Feature, FeatureVote
from prodops.domains.feedback.models import FeedbackItem, FeedbackLink
from prodops.domains.roadmap.models import FeaturePlan, Goal, Initiative, InitiativeGoal, Score, Scorecard
from prodops.domains.roadmap.schemas.scoring import BUILTINS

n_features, n_goals, n_initiatives, n_items = (int(a) for a in sys.argv[1:5])
rng = random.Random(11)
now = utcnow()
today = now.date()

with session_scope() as s:
    actor = Actor.system("bench")
    user = identity.create_user(s, actor, UserCreate(email="bench@example.com", password="bench-password-1", role="viewer"))
    _, token = identity.create_token(s, actor, user.id, TokenCreate(name="bench", scope="read"))
    with Progress(transient=True) as progress, transaction(s):
        task = progress.add_task("loading", total=6)
        products = [Product(key="core", name="Core"), Product(key="mobile", name="Mobile")]
        teams = [Team(key=f"t{i}", name=name) for i, name in enumerate(["Platform", "Growth", "Mobile", "Billing", "Search", "Data"])]
        s.add_all(products + teams); s.flush()
        accounts = [dict(name=f"Company {i:04d}", domain=f"c{i}.example", plan="Growth", arr=round(rng.lognormvariate(9.5, 1.6), 2),
                         segment="SMB", region="EMEA", lifecycle_stage="active", attributes={}, created_at=now, updated_at=now)
                    for i in range(500)]
        s.execute(insert(Account), accounts)
        account_ids = list(s.scalars(select(Account.id).order_by(Account.id)))
        s.execute(insert(Person), [dict(email=f"p{i}@c{i % 500}.example", name=f"P {i}", title="", account_id=account_ids[i % 500],
                                        attributes={}, created_at=now, updated_at=now) for i in range(2000)])
        person_rows = s.execute(select(Person.id, Person.account_id)).all()
        progress.advance(task)
        goals = []
        for i in range(n_goals):
            goals.append(dict(title=f"Goal {i:02d}", description="", level="company" if i < 5 else "team", parent_id=None,
                              product_id=products[i % 2].id, team_id=teams[i % 6].id if i >= 5 else None, status="active",
                              weight=1.0, created_at=now, updated_at=now))
        s.execute(insert(Goal), goals)
        goal_ids = list(s.scalars(select(Goal.id).order_by(Goal.id)))
        for gid in goal_ids[5:]:
            s.get(Goal, gid).parent_id = goal_ids[gid % 5]
        s.execute(insert(Initiative), [dict(title=f"Initiative {i:03d}", description="", product_id=products[i % 2].id,
                                            team_id=teams[i % 6].id, status="active", created_at=now, updated_at=now)
                                       for i in range(n_initiatives)])
        initiative_ids = list(s.scalars(select(Initiative.id).order_by(Initiative.id)))
        s.execute(insert(InitiativeGoal), [dict(initiative_id=iid, goal_id=g) for iid in initiative_ids
                                           for g in set(rng.sample(goal_ids, rng.choice((1, 1, 2))))])
        progress.advance(task)
        s.execute(insert(Feature), [dict(title=f"Feature {i:04d}", description="", product_id=products[i % 2].id, area="Core",
                                         tags=[], team_id=teams[i % 6].id,
                                         status=rng.choice(["idea", "under_consideration", "planned", "in_progress", "shipped"]),
                                         release_note="", status_changed_at=now, created_at=now, updated_at=now)
                                    for i in range(n_features)])
        feature_ids = list(s.scalars(select(Feature.id).order_by(Feature.id)))
        plans = []
        for n, fid in enumerate(feature_ids):
            start = today + dt.timedelta(days=rng.randint(-60, 330)) if rng.random() < 0.5 else None
            plans.append(dict(feature_id=fid, initiative_id=rng.choice(initiative_ids) if rng.random() < 0.7 else None,
                              effort=float(rng.choice((1, 2, 3, 5, 8, 13))), effort_unit="points",
                              team_id=teams[rng.randrange(6)].id, bucket=rng.choice(("now", "next", "later")) if rng.random() < 0.6 else None,
                              start_date=start, end_date=start + dt.timedelta(days=rng.choice((14, 30, 60, 90))) if start else None,
                              position=1024 * n, created_at=now, updated_at=now))
        s.execute(insert(FeaturePlan), plans)
        progress.advance(task)
        popularity = [1 / (rank + 1) ** 0.9 for rank in range(len(feature_ids))]
        items = [dict(title="", text="Please add this.", source="email", external_id=f"b-{i}", person_id=person_rows[i % 2000][0],
                      account_id=person_rows[i % 2000][1], product_id=None, area=None, importance=None,
                      received_at=now - dt.timedelta(minutes=rng.randint(0, 525_600)), status="linked", notes="", meta={},
                      created_at=now, updated_at=now) for i in range(n_items)]
        for start in range(0, len(items), 5000):
            s.execute(insert(FeedbackItem), items[start:start + 5000])
        item_ids = list(s.scalars(select(FeedbackItem.id).order_by(FeedbackItem.id)))
        links = [dict(item_id=i, feature_id=rng.choices(feature_ids, weights=popularity)[0], importance="important", highlight="",
                      created_at=now) for i in item_ids if rng.random() < 0.6]
        for start in range(0, len(links), 5000):
            s.execute(insert(FeedbackLink), links[start:start + 5000])
        votes = {(rng.choices(feature_ids, weights=popularity)[0], rng.choice(person_rows)[0]) for _ in range(3000)}
        s.execute(insert(FeatureVote), [dict(feature_id=f, person_id=p, created_at=now) for f, p in votes])
        progress.advance(task)
        formula, inputs = BUILTINS["rice"]
        for p in products:
            s.add(Scorecard(name=f"RICE {p.name}", product_id=p.id, kind="rice", formula=formula,
                            inputs=[i.model_dump() for i in inputs], active=True))
        s.flush()
        cards = {c.product_id: c.id for c in s.scalars(select(Scorecard))}
        product_of = dict(s.execute(select(Feature.id, Feature.product_id)).all())
        s.execute(insert(Score), [dict(scorecard_id=cards[product_of[fid]], feature_id=fid, score=None, computed_at=now,
                                       inputs={"impact": rng.choice((0.5, 1, 2, 3)), "confidence": rng.choice((0.5, 0.8, 1))})
                                  for fid in rng.sample(feature_ids, 1000)])
        progress.advance(task)
    if s.get_bind().dialect.name == "postgresql":
        s.commit()
        s.connection().exec_driver_sql("ANALYZE")
        s.commit()
    print(len(links), len(votes))
print(token)
"""


def pages() -> dict[str, tuple[str, dict[str, object]]]:
    return {
        "Roadmap board, all teams": ("/roadmap", {}),
        "Roadmap board, one team": ("/roadmap", {"team_id": 2}),
        "Roadmap board by goal, one product": ("/roadmap", {"group": "goal", "product_id": 1}),
        "Roadmap timeline by quarter, lanes by team": (
            "/roadmap",
            {"layout": "timeline", "granularity": "quarter", "group": "team", "periods": 4},
        ),
        "Roadmap view API, one team": ("/api/v1/roadmap/view", {"team_id": 2}),
        "Ranking page (RICE, 2,500 features, 50 rows)": ("/roadmap/prioritise", {"product_id": 1}),
        "Ranking page, one team": ("/roadmap/prioritise", {"product_id": 1, "team_id": 2}),
        "Ranking API (RICE, 50 rows)": ("/api/v1/roadmap/ranking", {"product_id": 2}),
        "Alignment page": ("/roadmap/alignment", {}),
    }


def run(backend: str, args: argparse.Namespace, console: Console) -> list[tuple[str, str, float, float]]:
    results = []
    with fresh_backend(backend) as env:
        started = time.perf_counter()
        out = subprocess.run(
            [
                sys.executable,
                "-c",
                SEED_SCRIPT,
                str(args.features),
                str(args.goals),
                str(args.initiatives),
                str(args.items),
            ],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        )
        lines = out.stdout.strip().splitlines()
        token = lines[-1]
        links, votes = lines[-2].split()
        console.print(
            f"[{backend}] loaded {args.features:,} features, {args.goals} goals, {args.initiatives} initiatives, "
            f"{int(links):,} links, {int(votes):,} votes in {time.perf_counter() - started:.0f} s"
        )
        with (
            server(env, start_timeout=240) as base,
            httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=120) as client,
            Progress(console=console, transient=True) as progress,
        ):
            plan = pages()
            task = progress.add_task(f"[{backend}] timing", total=len(plan))
            for label, (path, params) in plan.items():
                if client.get(path, params=params).status_code == 404:
                    console.print(f"[{backend}] {label}: {path} not found, skipped")
                    progress.advance(task)
                    continue
                samples = time_requests(
                    lambda path=path, params=params: client.get(path, params=params), args.requests, warmup=2
                )
                p50, p95 = percentiles(samples)
                results.append((backend, label, p50, p95))
                progress.advance(task)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--features", type=int, default=5_000)
    parser.add_argument("--goals", type=int, default=50)
    parser.add_argument("--initiatives", type=int, default=300)
    parser.add_argument("--items", type=int, default=20_000)
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    args = parser.parse_args()
    console = Console()
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    for backend in backends:  # a table per backend, printed as soon as it is measured
        rows = run(backend, args, console)
        table = Table(
            title=f"Roadmap pages, {args.features:,} features, {args.goals} goals, {args.initiatives} initiatives, "
            f"{args.requests} requests each ({os.cpu_count()} CPUs)"
        )
        for col in ("backend", "request", "p50 ms", "p95 ms"):
            table.add_column(col, justify="right" if "ms" in col else "left")
        for name, label, p50, p95 in rows:
            table.add_row(name, label, f"{p50:.1f}", f"{p95:.1f}")
        console.print(table)


if __name__ == "__main__":
    main()
