"""p50/p95 of the feedback inbox and the demand ranking with 100,000 items and 2,000 features, SQLite and PostgreSQL.

    uv run python -m benchmarks.feedback_pages [--items 100000] [--features 2000] [--requests 50]
                                               [--backend sqlite|postgres|both]

Each backend gets a fresh database, bulk-loaded with 2,000 accounts (heavy-tailed ARR, the demo's plans,
segments and regions), 10,000 people, a saved segment, two products, the features, the items (real review
texts, a year of dates), links for 45% of the items (a few popular features get most of them, as in real
life) and 5,000 votes. A real `prodops serve` process answers over loopback; the client signs requests with a
read token. Figures are wall-clock per request, as a user's client sees them.
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
from prodops.platform.org.models import Product
from prodops.domains.customers.models import Account, Person
from prodops.domains.customers import service as customers
from prodops.domains.customers.schemas import Condition, SegmentIn
from prodops.domains.features.models import Feature, FeatureVote
from prodops.domains.feedback.models import FeedbackItem, FeedbackLink, FeedbackTag
from prodops.domains.feedback.demo import load_reviews

n_items, n_features = int(sys.argv[1]), int(sys.argv[2])
n_accounts, n_people = 2000, 10000
rng = random.Random(7)
PLANS = ["Free", "Starter", "Growth", "Enterprise"]; REGIONS = ["NA", "EMEA", "APAC", "LATAM"]
SOURCES = ["app_review", "support_ticket", "email", "sales_call", "interview", "widget"]
IMPORTANCE = ["not", "nice", "nice", "important", "important", "critical"]
texts = [r.text for r in load_reviews()]
now = utcnow()

def chunks(rows, size=5000):
    for start in range(0, len(rows), size):
        yield rows[start:start + size]

with session_scope() as s:
    actor = Actor.system("bench")
    user = identity.create_user(s, actor, UserCreate(email="bench@example.com", password="bench-password-1", role="viewer"))
    _, token = identity.create_token(s, actor, user.id, TokenCreate(name="bench", scope="read"))
    with Progress(transient=True) as progress, transaction(s):
        task = progress.add_task("loading", total=n_accounts + n_people + n_features + 2 * n_items)
        products = [Product(key="core", name="Core"), Product(key="mobile", name="Mobile")]
        s.add_all(products); s.flush()
        accounts = []
        for i in range(n_accounts):
            arr = round(rng.lognormvariate(9.5, 1.6), 2)
            seg = "Enterprise" if arr > 250_000 else ("Mid-Market" if arr > 30_000 else "SMB")
            accounts.append(dict(name=f"Company {i:05d}", domain=f"company{i}.example", plan=rng.choice(PLANS), arr=arr,
                                 segment=seg, region=rng.choice(REGIONS), lifecycle_stage="active", attributes={},
                                 created_at=now, updated_at=now))
        s.execute(insert(Account), accounts); progress.advance(task, n_accounts)
        account_ids = list(s.scalars(select(Account.id).order_by(Account.id)))
        arr_of = dict(s.execute(select(Account.id, Account.arr)).all())
        people = [dict(email=f"p{i}@company{i % n_accounts}.example", name=f"Person {i}", title="",
                       account_id=account_ids[i % n_accounts], attributes={}, created_at=now, updated_at=now)
                  for i in range(n_people)]
        for chunk in chunks(people): s.execute(insert(Person), chunk)
        progress.advance(task, n_people)
        person_rows = s.execute(select(Person.id, Person.account_id)).all()
        weights = [math.sqrt(arr_of[a] + 2000) for _, a in person_rows]
        features = [dict(title=f"Feature {i:04d}: " + rng.choice(texts)[:60], description="", product_id=products[i % 2].id,
                         area=rng.choice(["Billing", "Reporting", "Mobile", "Search", "Integrations"]), tags=[],
                         status=rng.choice(["idea", "under_consideration", "planned", "in_progress", "shipped"]),
                         release_note="", status_changed_at=now, created_at=now, updated_at=now)
                    for i in range(n_features)]
        for chunk in chunks(features): s.execute(insert(Feature), chunk)
        progress.advance(task, n_features)
        feature_ids = list(s.scalars(select(Feature.id).order_by(Feature.id)))
        popularity = [1 / (rank + 1) ** 0.9 for rank in range(len(feature_ids))]
        pick = rng.choices(range(len(person_rows)), weights=weights, k=n_items)
        for start in range(0, n_items, 5000):
            rows = []
            for i in range(start, min(n_items, start + 5000)):
                pid, aid = person_rows[pick[i]]
                rows.append(dict(title="", text=rng.choice(texts), source=rng.choice(SOURCES), external_id=f"bench-{i}",
                                 person_id=pid, account_id=aid, product_id=products[i % 2].id, area=None, importance=None,
                                 received_at=now - dt.timedelta(minutes=rng.randint(0, 525_600)),
                                 status=rng.choice(["new", "triaged", "linked", "archived"]), notes="", meta={},
                                 created_at=now, updated_at=now))
            s.execute(insert(FeedbackItem), rows)
            progress.advance(task, len(rows))
        item_ids = list(s.scalars(select(FeedbackItem.id).order_by(FeedbackItem.id)))
        links = []
        for item_id in item_ids:
            if rng.random() < 0.45:
                for f in set(rng.choices(feature_ids, weights=popularity, k=1 if rng.random() < 0.85 else 2)):
                    links.append(dict(item_id=item_id, feature_id=f, importance=rng.choice(IMPORTANCE), highlight="",
                                      created_at=now))
        for chunk in chunks(links): s.execute(insert(FeedbackLink), chunk)
        tags = [dict(item_id=i, tag=rng.choice(["bug", "pricing", "ui", "performance"])) for i in item_ids if rng.random() < 0.3]
        for chunk in chunks(tags): s.execute(insert(FeedbackTag), chunk)
        votes = {(rng.choices(feature_ids, weights=popularity)[0], rng.choice(person_rows)[0]) for _ in range(5000)}
        s.execute(insert(FeatureVote), [dict(feature_id=f, person_id=p, created_at=now) for f, p in votes])
        progress.advance(task, n_items)
    customers.create_segment(s, actor, SegmentIn(name="Enterprise in EMEA", filters=[
        Condition(field="segment", op="eq", value="Enterprise"), Condition(field="region", op="eq", value="EMEA")]))
    if s.get_bind().dialect.name == "postgresql":
        # Autovacuum analyzes tables this size within a minute of a bulk load; plans without statistics are
        # not what a running instance sees.
        s.commit()
        s.connection().exec_driver_sql("ANALYZE")
        s.commit()
    print(len(links), len(votes))
print(token)
"""


def queries(top: int, second: int) -> dict[str, tuple[str, dict[str, object], dict[str, str]]]:
    htmx = {"HX-Request": "true"}
    return {
        "Inbox page": ("/feedback", {}, {}),
        "Inbox API, first page (50)": ("/api/v1/feedback", {}, {}),
        "Inbox API, Enterprise + linked": ("/api/v1/feedback", {"segment": "Enterprise", "status": "linked"}, {}),
        "Demand page (ranking, chart, 50 rows)": ("/feedback/demand", {}, {}),
        "Demand page, Enterprise, last 90 days": ("/feedback/demand", {"segment": "Enterprise", "period": "90d"}, {}),
        "Demand API, by ARR": ("/api/v1/feedback/demand", {"sort": "-arr"}, {}),
        "Demand API, saved segment": ("/api/v1/feedback/demand", {"segment_id": 1}, {}),
        "Evidence panel, top feature": (f"/feedback/features/{top}/evidence", {}, htmx),
        "Compare API, Enterprise": ("/api/v1/feedback/compare", {"a": top, "b": second, "segment": "Enterprise"}, {}),
    }


def run(backend: str, items: int, features: int, n: int, console: Console) -> list[tuple[str, str, float, float]]:
    results = []
    with fresh_backend(backend) as env:
        started = time.perf_counter()
        out = subprocess.run(
            [sys.executable, "-c", SEED_SCRIPT, str(items), str(features)],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        )
        lines = out.stdout.strip().splitlines()
        token = lines[-1]
        links, votes = lines[-2].split()
        console.print(
            f"[{backend}] loaded {items:,} items, {features:,} features, {int(links):,} links, {int(votes):,} votes "
            f"in {time.perf_counter() - started:.0f} s"
        )
        with (
            server(env) as base,
            httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=60) as client,
        ):
            inbox = client.get("/api/v1/feedback", params={"per_page": 1})
            assert inbox.status_code == 200 and inbox.json()["total"] > 0, inbox.text
            ranking = client.get("/api/v1/feedback/demand", params={"per_page": 2}).json()
            top, second = (r["feature_id"] for r in ranking["items"])
            with Progress(console=console, transient=True) as progress:
                plan = queries(top, second)
                task = progress.add_task(f"[{backend}] timing", total=len(plan))
                for label, (path, params, headers) in plan.items():
                    samples = time_requests(
                        lambda path=path, params=params, headers=headers: client.get(
                            path, params=params, headers=headers
                        ),
                        n,
                        warmup=3,
                    )
                    p50, p95 = percentiles(samples)
                    results.append((backend, label, p50, p95))
                    progress.advance(task)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--features", type=int, default=2_000)
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    args = parser.parse_args()
    console = Console()
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    rows = []
    for backend in backends:
        rows.extend(run(backend, args.items, args.features, args.requests, console))
    table = Table(
        title=f"Feedback pages, {args.items:,} items, {args.features:,} features, "
        f"{args.requests} requests each ({os.cpu_count()} CPUs)"
    )
    for col in ("backend", "request", "p50 ms", "p95 ms"):
        table.add_column(col, justify="right" if "ms" in col else "left")
    for backend, label, p50, p95 in rows:
        table.add_row(backend, label, f"{p50:.1f}", f"{p95:.1f}")
    console.print(table)


if __name__ == "__main__":
    main()
