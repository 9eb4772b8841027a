"""p50/p95 of the accounts list API and page with 100,000 accounts, on SQLite and PostgreSQL.

    uv run python -m benchmarks.accounts_list [--accounts 100000] [--requests 100] [--backend sqlite|postgres|both]

Each backend gets a fresh database, bulk-loaded with accounts (heavy-tailed ARR, the demo's plans,
segments and regions) and 30,000 people; a real `prodops serve` process answers over loopback; the
client signs requests with a read token. Figures are wall-clock per request, as a user's client sees them.
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
import random, sys
from sqlalchemy import insert, text
from rich.progress import Progress
from prodops.platform.db import session_scope, transaction, utcnow
from prodops.platform.registry import load_domains
from prodops.platform.audit import Actor
from prodops.platform.identity import service as identity
from prodops.platform.identity.schemas import UserCreate, TokenCreate
load_domains()
from prodops.domains.customers.models import Account, Person
n = int(sys.argv[1]); rng = random.Random(7)
PLANS = ["Free", "Starter", "Growth", "Enterprise"]; REGIONS = ["NA", "EMEA", "APAC", "LATAM"]
STAGES = ["trial", "onboarding", "active", "expansion", "at_risk", "churned"]
with session_scope() as s:
    user = identity.create_user(s, Actor.system("bench"), UserCreate(email="bench@example.com", password="bench-password-1", role="viewer"))
    _, token = identity.create_token(s, Actor.system("bench"), user.id, TokenCreate(name="bench", scope="read"))
    now = utcnow()
    with Progress(transient=True) as progress:
        task = progress.add_task("loading accounts", total=n)
        for start in range(0, n, 5000):
            rows = []
            for i in range(start, min(n, start + 5000)):
                arr = round(rng.lognormvariate(9.5, 1.6), 2)
                seg = "Enterprise" if arr > 250_000 else ("Mid-Market" if arr > 30_000 else "SMB")
                rows.append(dict(name=f"Company {i:06d} {rng.choice(['Labs','Systems','Group','Health','Retail'])}",
                    domain=f"company{i}.example", plan=rng.choice(PLANS), arr=arr, segment=seg,
                    region=rng.choice(REGIONS), lifecycle_stage=rng.choice(STAGES), owner_id=user.id,
                    external_id=f"acc-{i}", attributes={"industry": rng.choice(["saas", "retail", "health"]), "seats": rng.randint(1, 5000)},
                    created_at=now, updated_at=now))
            with transaction(s):
                s.execute(insert(Account), rows)
            progress.advance(task, len(rows))
        people = [dict(email=f"p{i}@company{i % n}.example", name=f"Person {i}", title="", account_id=(i % n) + 1,
                       attributes={}, created_at=now, updated_at=now) for i in range(min(n * 3 // 10, 30000))]
        with transaction(s):
            s.execute(insert(Person), people)
    # Refresh planner statistics after the bulk load, as PostgreSQL's autovacuum (or SQLite's optimize) would.
    with transaction(s):
        s.execute(text("ANALYZE"))
print(token)
"""

QUERIES = {
    "API, first page (50)": ("/api/v1/customers/accounts", {}),
    "API, sorted by ARR desc": ("/api/v1/customers/accounts", {"sort": "-arr"}),
    "API, segment + region filter": ("/api/v1/customers/accounts", {"segment": "Enterprise", "region": "EMEA"}),
    "API, search 'company 0421'": ("/api/v1/customers/accounts", {"q": "company 0421"}),
    "API, page 1,000": ("/api/v1/customers/accounts", {"page": 1000}),
    "Page, first page": ("/customers/accounts", {}),
    "Page, sorted by ARR + filter": ("/customers/accounts", {"sort": "-arr", "plan": "Enterprise"}),
}


def run(backend: str, accounts: int, n: int, console: Console) -> list[tuple[str, str, float, float]]:
    results = []
    with fresh_backend(backend) as env:
        started = time.perf_counter()
        out = subprocess.run(
            [sys.executable, "-c", SEED_SCRIPT, str(accounts)], env=env, check=True, capture_output=True, text=True
        )
        token = out.stdout.strip().splitlines()[-1]
        console.print(f"[{backend}] loaded {accounts:,} accounts in {time.perf_counter() - started:.1f} s")
        with (
            server(env) as base,
            httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30) as client,
        ):
            total = client.get("/api/v1/customers/accounts", params={"per_page": 1}).json()["total"]
            assert total == accounts, total
            with Progress(console=console, transient=True) as progress:
                task = progress.add_task(f"[{backend}] timing", total=len(QUERIES))
                for label, (path, params) in QUERIES.items():
                    samples = time_requests(lambda path=path, params=params: client.get(path, params=params), n)
                    p50, p95 = percentiles(samples)
                    results.append((backend, label, p50, p95))
                    progress.advance(task)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    args = parser.parse_args()
    console = Console()
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    rows = []
    for backend in backends:
        rows.extend(run(backend, args.accounts, args.requests, console))
    table = Table(
        title=f"Accounts list, {args.accounts:,} accounts, {args.requests} requests each ({os.cpu_count()} CPUs)"
    )
    for col in ("backend", "request", "p50 ms", "p95 ms"):
        table.add_column(col, justify="right" if "ms" in col else "left")
    for backend, label, p50, p95 in rows:
        table.add_row(backend, label, f"{p50:.1f}", f"{p95:.1f}")
    console.print(table)


if __name__ == "__main__":
    main()
