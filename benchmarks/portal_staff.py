"""The portal's staff side on the demo data: how long the portal demo seeder takes, and p50/p95 of the staff pages
and API (idea list, moderation queue, the most voted idea's staff view, the feature page's panel), SQLite and
PostgreSQL.

    uv run python -m benchmarks.portal_staff [--requests 50] [--backend sqlite|postgres|both]

Each backend gets a fresh database seeded by the demo seeders the portal needs (platform, customers, features,
portal: ~300 ideas, ~5,800 votes, ~450 comments, ~6,500 feedback items filed). A real `prodops serve` process
answers over loopback; the client signs requests with a read token (pages accept it too). Figures are
wall-clock per request, as a user's client sees them.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

import httpx
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from benchmarks._server import fresh_backend, percentiles, server, time_requests

SEED_SCRIPT = r"""
import random, time
from prodops.platform.registry import load_domains
load_domains()
from prodops.platform.audit import Actor
from prodops.platform.db import session_scope
from prodops.platform.demo import SEED, DemoContext, _seed_platform
from prodops.platform.identity import service as identity
from prodops.platform.identity.schemas import TokenCreate, UserCreate
from prodops.domains.customers import demo as customers_demo
from prodops.domains.features import demo as features_demo
from prodops.domains.portal import demo as portal_demo

ctx = DemoContext(rng=random.Random(SEED))
with session_scope() as s:
    _seed_platform(s, ctx)
    customers_demo.seed(s, ctx)
    features_demo.seed(s, ctx)
with session_scope() as s:
    started = time.perf_counter()
    summary = portal_demo.seed(s, ctx)
    seconds = time.perf_counter() - started
with session_scope() as s:
    actor = Actor.system("bench")
    user = identity.create_user(s, actor, UserCreate(email="bench@example.com", password="bench-password-1", role="viewer"))
    _, token = identity.create_token(s, actor, user.id, TokenCreate(name="bench", scope="read"))
    if s.get_bind().dialect.name == "postgresql":
        s.commit()
        s.connection().exec_driver_sql("ANALYZE")
        s.commit()
print(f"{seconds:.2f}")
print(summary)
print(token)
"""


def queries(top: int, feature: int) -> dict[str, tuple[str, dict[str, object], dict[str, str]]]:
    htmx = {"HX-Request": "true"}
    return {
        "Idea list page (newest, 50)": ("/portal", {}, {}),
        "Idea list, most votes, one board": ("/portal", {"sort": "-votes", "board_id": 1}, htmx),
        "Idea list, search": ("/portal", {"q": "export"}, htmx),
        "Moderation queue page": ("/portal/queue", {}, {}),
        "Idea staff view, most voted": (f"/portal/ideas/{top}", {}, {}),
        "Idea votes chart (JSON)": (f"/portal/ideas/{top}/votes.json", {}, {}),
        "Feature page panel": (f"/portal/features/{feature}/ideas", {}, htmx),
        "API ideas, most votes": ("/api/v1/portal/ideas", {"sort": "-votes"}, {}),
        "API voters of the most voted (200)": (f"/api/v1/portal/ideas/{top}/votes", {}, {}),
    }


def run(backend: str, n: int, console: Console) -> tuple[list[tuple[str, str, float, float]], str]:
    results = []
    with fresh_backend(backend) as env:
        started = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", SEED_SCRIPT], env=env, check=True, capture_output=True, text=True)
        seconds, summary, token = out.stdout.strip().splitlines()[-3:]
        console.print(f"[{backend}] demo loaded in {time.perf_counter() - started:.0f} s; portal seeder {seconds} s")
        console.print(f"  {summary}")
        with (
            server(env) as base,
            httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=60) as client,
        ):
            top = client.get("/api/v1/portal/ideas", params={"sort": "-votes", "per_page": 1}).json()["items"][0]
            with Progress(console=console, transient=True) as progress:
                plan = queries(top["id"], top["feature_id"])
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
    return results, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    args = parser.parse_args()
    console = Console()
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    rows = []
    seeders = []
    for backend in backends:
        found, seconds = run(backend, args.requests, console)
        rows.extend(found)
        seeders.append((backend, seconds))
    table = Table(title=f"Portal staff side on the demo data ({args.requests} requests each)")
    for column in ("backend", "request", "p50 ms", "p95 ms"):
        table.add_column(column, justify="right" if column.endswith("ms") else "left")
    for backend, label, p50, p95 in rows:
        table.add_row(backend, label, f"{p50:.1f}", f"{p95:.1f}")
    console.print(table)
    for backend, seconds in seeders:
        console.print(f"portal demo seeder on {backend}: {seconds} s")


if __name__ == "__main__":
    main()
