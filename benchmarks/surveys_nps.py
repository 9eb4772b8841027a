"""NPS by segment by month over 1,000,000 responses, SQLite and PostgreSQL.

    uv run python -m benchmarks.surveys_nps [--responses 1000000] [--runs 7] [--backend sqlite|postgres|both]

Each backend gets a fresh database, bulk-loaded with 2,000 accounts (heavy-tailed ARR, the demo's plans, segments
and regions), 10,000 people and one NPS survey with the responses spread over two years (scores drawn per segment).
The timed calls are the functions the results page and API run, in-process (no HTTP): the grouped query and scoring
behind "NPS by segment by month" (`queries.results.breakdown(..., ["period", "segment"])`), and the whole results
page's data (`queries.results.results`: overall, per month, the last two quarters, by segment, plan, region,
product and account, waves) — computed (cache emptied first) and from the cache (which still checks the responses'
fingerprint). p50 of the runs after one warm-up.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

from rich.console import Console
from rich.table import Table

from benchmarks._server import fresh_backend

SCRIPT = r"""
import datetime as dt, random, statistics, sys, time
from sqlalchemy import insert, select, text
from prodops.platform.registry import load_domains
load_domains()
from prodops.platform.audit import Actor
from prodops.platform.db import session_scope, transaction, utcnow
from prodops.platform.org.models import Product
from prodops.domains.customers.models import Account, Person
from prodops.domains.surveys import service
from prodops.domains.surveys.schemas import SurveyIn
from prodops.domains.surveys.models import Response
from prodops.domains.surveys.queries import results

n, runs = int(sys.argv[1]), int(sys.argv[2])
rng = random.Random(11)
PLANS = ["Free", "Starter", "Growth", "Enterprise"]; REGIONS = ["NA", "EMEA", "APAC", "LATAM"]
MOOD = {"Enterprise": 0.6, "Mid-Market": 0.2, "SMB": -0.2}
now = utcnow()
started = time.perf_counter()
with session_scope() as s:
    with transaction(s):
        s.add(Product(key="core", name="Core")); s.flush()
        product = s.scalar(select(Product.id))
        accounts = []
        for i in range(2000):
            arr = round(rng.lognormvariate(9.5, 1.6), 2)
            seg = "Enterprise" if arr > 250_000 else ("Mid-Market" if arr > 30_000 else "SMB")
            accounts.append(dict(name=f"Company {i:05d}", domain=f"company{i}.example", plan=rng.choice(PLANS), arr=arr,
                                 segment=seg, region=rng.choice(REGIONS), lifecycle_stage="active", attributes={},
                                 created_at=now, updated_at=now))
        s.execute(insert(Account), accounts)
        segment_of = dict(s.execute(select(Account.id, Account.segment)).all())
        account_ids = sorted(segment_of)
        s.execute(insert(Person), [dict(email=f"p{i}@company{i % 2000}.example", name="", title="",
                                        account_id=account_ids[i % 2000], attributes={}, created_at=now, updated_at=now)
                                   for i in range(10_000)])
        people = s.execute(select(Person.id, Person.account_id)).all()
    survey = service.create_survey(s, Actor.system("bench"), SurveyIn(name="NPS", status="active", product_id=product))
    base = dict(survey_id=survey.id, wave_id=None, invitation_id=None, product_id=product, channel="email",
                language="en", external_id=None, next_key=None)
    for start in range(0, n, 20_000):
        rows = []
        for _ in range(min(20_000, n - start)):
            pid, aid = people[rng.randrange(len(people))]
            at = now - dt.timedelta(minutes=rng.randrange(2 * 525_600))
            score = max(0, min(10, round(8 + 2.5 * MOOD[segment_of[aid]] + rng.gauss(0, 2))))
            rows.append({**base, "person_id": pid, "account_id": aid, "score": float(score), "started_at": at,
                         "completed_at": at, "responded_at": at})
        with transaction(s):
            s.execute(insert(Response), rows)
    if s.get_bind().dialect.name == "postgresql":
        s.commit(); s.connection().exec_driver_sql("ANALYZE"); s.commit()
    else:
        s.commit(); s.connection().exec_driver_sql("ANALYZE"); s.commit()
    print(f"loaded {n} {time.perf_counter() - started:.0f}", flush=True)

    def timed(fn):
        fn()  # warm-up
        samples = []
        for _ in range(runs):
            t = time.perf_counter(); fn(); samples.append((time.perf_counter() - t) * 1000)
            s.rollback()
        return statistics.median(samples), max(samples)

    by = results.breakdown(s, survey.id, "nps", ["period", "segment"])
    print(f"cells {len(by)}", flush=True)
    p50, worst = timed(lambda: results.breakdown(s, survey.id, "nps", ["period", "segment"]))
    print(f"time NPS by segment by month|{p50:.0f}|{worst:.0f}", flush=True)
    p50, worst = timed(lambda: results.breakdown(s, survey.id, "nps", ["period", "segment"],
                                                 results.Filters(since=now - dt.timedelta(days=365))))
    print(f"time NPS by segment by month, last 12 months|{p50:.0f}|{worst:.0f}", flush=True)
    def cold():
        results.forget()
        return results.results(s, survey.id, interval="month")
    p50, worst = timed(cold)
    print(f"time Whole results page data, computed|{p50:.0f}|{worst:.0f}", flush=True)
    p50, worst = timed(lambda: results.results(s, survey.id, interval="month"))
    print(f"time Whole results page data, cached (fingerprint checked)|{p50:.0f}|{worst:.0f}", flush=True)
"""


def run(backend: str, responses: int, runs: int, console: Console) -> list[tuple[str, str, str, str]]:
    found = []
    with fresh_backend(backend) as env:
        out = subprocess.run(
            [sys.executable, "-c", SCRIPT, str(responses), str(runs)],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        )
        for line in out.stdout.splitlines():
            if line.startswith("loaded"):
                console.print(f"[{backend}] loaded {responses:,} responses in {line.split()[2]} s")
            elif line.startswith("cells"):
                console.print(f"[{backend}] {line.split()[1]} (month, segment) cells")
            elif line.startswith("time "):
                label, p50, worst = line.removeprefix("time ").split("|")
                found.append((backend, label, p50, worst))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--responses", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    args = parser.parse_args()
    console = Console()
    rows = []
    started = time.perf_counter()
    for backend in ["sqlite", "postgres"] if args.backend == "both" else [args.backend]:
        rows.extend(run(backend, args.responses, args.runs, console))
    table = Table(title=f"NPS over {args.responses:,} responses, p50 of {args.runs} runs ({os.cpu_count()} CPUs)")
    for col in ("backend", "call", "p50 ms", "max ms"):
        table.add_column(col, justify="right" if "ms" in col else "left")
    for row in rows:
        table.add_row(*row)
    console.print(table)
    console.print(f"total {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
