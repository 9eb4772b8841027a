"""p50/p95 of a portal board page sorted by votes, with 10,000 ideas and 1,000,000 votes, SQLite and PostgreSQL.

    uv run python -m benchmarks.portal_board [--ideas 10000] [--votes 1000000] [--users 50000] [--requests 50]
                                             [--backend sqlite|postgres|both]

Each backend gets a fresh database, bulk-loaded with one portal and board, the ideas (each with its feature, a
year of dates, a few statuses) and the portal users; votes go to ideas with a heavy tail (a few ideas get most of
them, as on real boards), one per person and idea, and ``Idea.vote_count`` matches them. A real `prodops serve`
process answers over loopback to a signed-in portal user (the page marks the ideas they voted for). Figures are
wall-clock per request, as the visitor's browser sees them; the statements per page are counted in-process.
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
import datetime as dt, random, sys
from sqlalchemy import insert, text
from rich.console import Console
from rich.progress import Progress
from prodops.platform.registry import load_domains
load_domains()
from prodops.platform.db import session_scope, transaction, utcnow
from prodops.domains.features.models import Feature
from prodops.domains.portal.models import Board, Idea, Portal, PortalUser, Vote
from prodops.domains.portal.service import identity

n_ideas, n_votes, n_users = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
rng = random.Random(11)
now = utcnow()
STATUSES = ["idea"] * 6 + ["under_consideration", "planned", "in_progress", "shipped"]
WORDS = "export dark mode slack alerts sso audit log mobile offline api webhooks pdf csv calendar sync search".split()

def chunks(rows, size=10000):
    for start in range(0, len(rows), size):
        yield rows[start:start + size]

with session_scope() as s, Progress(console=Console(stderr=True), transient=True) as progress:
    with transaction(s):
        portal = Portal(slug="bench", name="Bench Ideas"); s.add(portal); s.flush()
        board = Board(portal_id=portal.id, slug="ideas", name="Ideas"); s.add(board); s.flush()
        portal_id, board_id = portal.id, board.id
    # Heavy tail: idea k gets a share proportional to 1/(k+10), capped at the number of users.
    weights = [1 / (k + 10) for k in range(n_ideas)]
    total = sum(weights)
    counts = [min(n_users, int(n_votes * w / total)) for w in weights]
    counts[0] += n_votes - sum(counts)
    counts[0] = min(counts[0], n_users)
    task = progress.add_task("features and ideas", total=n_ideas)
    features, ideas = [], []
    for k in range(n_ideas):
        created = now - dt.timedelta(minutes=rng.randrange(525600))
        title = " ".join(rng.sample(WORDS, 4)).capitalize() + f" #{k}"
        features.append({"id": k + 1, "title": title, "description": "", "status": rng.choice(STATUSES),
                         "status_changed_at": created, "tags": [], "release_note": "", "created_at": created,
                         "updated_at": created})
        ideas.append({"id": k + 1, "board_id": board_id, "feature_id": k + 1, "title": title,
                      "body": "Please add this. " * rng.randrange(1, 8), "state": "published",
                      "vote_count": counts[k], "comment_count": 0, "created_at": created, "updated_at": created})
    with transaction(s):
        for rows in chunks(features):
            s.execute(insert(Feature), rows)
        for rows in chunks(ideas):
            s.execute(insert(Idea), rows); progress.advance(task, len(rows))
    with transaction(s):
        users = [{"id": u + 1, "email": f"voter{u}@customer{u % 997}.example", "name": f"Voter {u}",
                  "session_epoch": 0, "created_at": now, "email_verified_at": now} for u in range(n_users)]
        for rows in chunks(users):
            s.execute(insert(PortalUser), rows)
    task = progress.add_task("votes", total=sum(counts))
    buffer, written = [], 0
    for k, n in enumerate(counts):
        for user in rng.sample(range(1, n_users + 1), n):
            buffer.append({"idea_id": k + 1, "user_id": user, "created_at": now})
        if len(buffer) >= 50000 or k == n_ideas - 1:
            with transaction(s):
                for rows in chunks(buffer, 10000):
                    s.execute(insert(Vote), rows)
            written += len(buffer); progress.advance(task, len(buffer)); buffer = []
    if s.get_bind().dialect.name == "postgresql":
        for table in ("features", "portal_ideas", "portal_users", "portal_votes"):
            s.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"))
        s.commit()
        s.connection().exec_driver_sql("ANALYZE")
        s.commit()
    else:
        s.connection().exec_driver_sql("ANALYZE"); s.commit()
    print(written)
# A visitor who voted for a few of the ideas on the first page.
print(identity.encode_session(2, 0))
"""

COUNT_SCRIPT = r"""
import sys
from fastapi.testclient import TestClient
from sqlalchemy import event
from prodops.platform.db import get_engine
from prodops.web import create_app
from prodops.domains.portal.service import identity
app = create_app()
statements = []
event.listen(get_engine(), "before_cursor_execute", lambda *a: statements.append(a[2]))
with TestClient(app) as client:
    client.cookies.set(identity.COOKIE, sys.argv[1])
    for path in sys.argv[2:]:
        assert client.get(path).status_code == 200
        statements.clear()
        assert client.get(path).status_code == 200
        print(len([s for s in statements if not s.lstrip().upper().startswith(("BEGIN", "COMMIT", "ROLLBACK", "PRAGMA"))]))
"""


def pages() -> dict[str, str]:
    return {
        "Board, most votes, page 1": "/p/bench/b/ideas?sort=votes",
        "Board, most votes, page 50": "/p/bench/b/ideas?sort=votes&page=50",
        "Board, newest": "/p/bench/b/ideas?sort=newest",
        "Board, trending": "/p/bench/b/ideas?sort=trending",
        "Board, search 'export'": "/p/bench/b/ideas?sort=votes&q=export",
        "Roadmap (now / next / later)": "/p/bench/roadmap",
    }


def run(
    backend: str, ideas: int, votes: int, users: int, n: int, console: Console
) -> list[tuple[str, str, float, float, int]]:
    results = []
    with fresh_backend(backend) as env:
        started = time.perf_counter()
        out = subprocess.run(
            [sys.executable, "-c", SEED_SCRIPT, str(ideas), str(votes), str(users)],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        )
        written, cookie = out.stdout.strip().splitlines()[-2:]
        console.print(
            f"[{backend}] loaded {ideas:,} ideas, {users:,} portal users, {int(written):,} votes "
            f"in {time.perf_counter() - started:.0f} s",
            markup=False,
        )
        counted = subprocess.run(
            [sys.executable, "-c", COUNT_SCRIPT, cookie, *pages().values()],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        )
        counts = dict(zip(pages(), map(int, counted.stdout.strip().splitlines()[-len(pages()) :]), strict=True))
        with server(env) as base, httpx.Client(base_url=base, cookies={"prodops_portal": cookie}, timeout=60) as client:
            first = client.get("/p/bench/b/ideas?sort=votes")
            assert first.status_code == 200 and "Sign out" in first.text, first.text[:500]
            with Progress(console=console, transient=True) as progress:
                task = progress.add_task(f"[{backend}] timing", total=len(pages()))
                for label, path in pages().items():
                    samples = time_requests(lambda path=path: client.get(path), n, warmup=3)
                    p50, p95 = percentiles(samples)
                    results.append((backend, label, p50, p95, counts[label]))
                    progress.advance(task)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ideas", type=int, default=10_000)
    parser.add_argument("--votes", type=int, default=1_000_000)
    parser.add_argument("--users", type=int, default=50_000)
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    args = parser.parse_args()
    console = Console()
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    rows = []
    for backend in backends:
        rows.extend(run(backend, args.ideas, args.votes, args.users, args.requests, console))
    table = Table(
        title=f"Portal board, {args.ideas:,} ideas, {args.votes:,} votes, signed-in visitor, "
        f"{args.requests} requests each ({os.cpu_count()} CPUs)"
    )
    for col in ("backend", "request", "p50 ms", "p95 ms", "statements"):
        table.add_column(col, justify="left" if col in ("backend", "request") else "right")
    for backend, label, p50, p95, statements in rows:
        table.add_row(backend, label, f"{p50:.1f}", f"{p95:.1f}", str(statements))
    console.print(table)


if __name__ == "__main__":
    main()
