"""50 concurrent voters for 60 seconds against a real server over loopback: requests/s, errors, and vote counts
that must match exactly afterwards.

    uv run python -m benchmarks.portal_voters [--voters 50] [--seconds 60] [--ideas 100] [--users 2000]
                                              [--backend sqlite|postgres|both]

Each backend gets a fresh database and data directory with one portal, one board and the ideas (submitted through
the service, so each is a feature with its feedback item) and the portal users. A real `prodops serve` process
answers; each voter is a client thread with its own source address on the loopback network (127.0.0.x: rate
limits count per address and per person, as for real customers) and its own browser session, and votes or
withdraws its vote (HTMX requests, like the buttons) on random ideas as fast as the server answers, acting as a
different portal user each time. Any answer that is not 200, and any transport error, counts as an error.

Afterwards every idea must satisfy ``Idea.vote_count == rows in portal_votes == portal vote feedback items``, and
the votes must be exactly the ones the voters left standing.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from benchmarks._server import fresh_backend, percentiles, server

SEED_SCRIPT = r"""
import sys
from sqlalchemy import insert
from prodops.platform.registry import load_domains
load_domains()
from prodops.platform.db import session_scope, transaction, utcnow
from prodops.domains.portal.models import Board, Portal, PortalUser
from prodops.domains.portal.service import access, ideas

n_ideas, n_users = int(sys.argv[1]), int(sys.argv[2])
now = utcnow()
with session_scope() as s:
    with transaction(s):
        portal = Portal(slug="bench", name="Bench Ideas"); s.add(portal); s.flush()
        board = Board(portal_id=portal.id, slug="ideas", name="Ideas"); s.add(board); s.flush()
        s.execute(insert(PortalUser), [
            {"email": f"voter{u}@customer{u % 97}.example", "name": f"Voter {u}", "session_epoch": 0,
             "created_at": now, "email_verified_at": now} for u in range(n_users)])
    author = s.query(PortalUser).order_by(PortalUser.id).first()
    ctx = access.context_for(s, portal, author)
    ids = [ideas.submit_idea(s, ctx, ideas.IdeaDraft(board_id=board.id, title=f"Benchmark idea number {k}")).id
           for k in range(n_ideas)]
    users = [u for (u,) in s.query(PortalUser.id).order_by(PortalUser.id)]
print(" ".join(map(str, ids)))
print(" ".join(map(str, users)))
"""

COOKIE_SCRIPT = r"""
import sys
from prodops.domains.portal.service import identity
for uid in sys.argv[1:]:
    print(uid, identity.encode_session(int(uid), 0))
"""

CHECK_SCRIPT = r"""
import json, sys
from sqlalchemy import func, select
from prodops.platform.registry import load_domains
load_domains()
from prodops.platform.db import session_scope
from prodops.domains.portal.models import Idea, Vote
from prodops.domains.feedback.models import FeedbackItem
with session_scope() as s:
    counters = dict(s.execute(select(Idea.id, Idea.vote_count)).all())
    rows = dict(s.execute(select(Vote.idea_id, func.count()).group_by(Vote.idea_id)).all())
    pairs = sorted([i, u] for i, u in s.execute(select(Vote.idea_id, Vote.user_id)))
    items = s.scalar(select(func.count()).select_from(FeedbackItem).where(
        FeedbackItem.source == "portal", FeedbackItem.external_id.like("vote:%")))
print(json.dumps({"counters": counters, "rows": rows, "pairs": pairs, "items": items}))
"""

CSRF = re.compile(r'name="csrf-token" content="([^"]+)"')


@dataclass
class Tally:
    requests: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def voter(
    index: int,
    base: str,
    cookies: dict[int, str],
    users: list[int],
    idea_ids: list[int],
    voted: set[tuple[int, int]],
    owner: dict[int, int],
    stop: float,
    tally: Tally,
) -> None:
    """One concurrent voter: its own loopback address and browser session, a different portal user each time.

    Users are split between voters (``owner``), so no two voters act as the same person at once and the votes
    left standing are known exactly."""
    rng = random.Random(index)
    mine = [u for u in users if owner[u] == index]
    transport = httpx.HTTPTransport(local_address=f"127.0.0.{10 + index}")
    with httpx.Client(base_url=base, transport=transport, timeout=30) as client:
        try:
            page = client.get("/p/bench")
            match = CSRF.search(page.text)
            assert match, f"HTTP {page.status_code}: {page.text[:200]}"
        except (httpx.HTTPError, AssertionError) as exc:
            with tally.lock:
                tally.errors[f"opening the portal: {type(exc).__name__}: {exc}"] += 1
            return
        headers = {"X-CSRF-Token": match.group(1), "HX-Request": "true"}
        while time.monotonic() < stop:
            user = rng.choice(mine)
            idea = rng.choice(idea_ids)
            up = (idea, user) not in voted
            client.cookies.set("prodops_portal", cookies[user], path="/p")
            started = time.perf_counter()
            try:
                response = client.post(f"/p/bench/i/{idea}/{'vote' if up else 'unvote'}", headers=headers)
                ok = response.status_code == 200
                problem = "" if ok else f"HTTP {response.status_code}: {response.text[:80]}"
            except httpx.HTTPError as exc:
                ok, problem = False, f"{type(exc).__name__}: {exc}"
            elapsed = (time.perf_counter() - started) * 1000
            if ok:
                if up:
                    voted.add((idea, user))
                else:
                    voted.discard((idea, user))
            with tally.lock:
                tally.requests += 1
                tally.latencies.append(elapsed)
                if problem:
                    tally.errors[problem] += 1


def run(backend: str, voters: int, seconds: int, ideas: int, users: int, console: Console) -> dict[str, object]:
    with fresh_backend(backend) as env:
        out = subprocess.run(
            [sys.executable, "-c", SEED_SCRIPT, str(ideas), str(users)],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        )
        id_line, user_line = out.stdout.strip().splitlines()[-2:]
        idea_ids = [int(x) for x in id_line.split()]
        user_ids = [int(x) for x in user_line.split()]
        made = subprocess.run(
            [sys.executable, "-c", COOKIE_SCRIPT, *map(str, user_ids)],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        )
        cookies = {int(uid): value for uid, value in (line.split(" ", 1) for line in made.stdout.strip().splitlines())}
        owner = {u: i % voters for i, u in enumerate(user_ids)}
        voted: set[tuple[int, int]] = set()
        tally = Tally()
        log = Path(tempfile.gettempdir()) / f"prodops-bench-voters-{backend}.log"
        with server(env, log=log) as base:
            stop = time.monotonic() + seconds
            threads = [
                threading.Thread(
                    target=voter, args=(i, base, cookies, user_ids, idea_ids, voted, owner, stop, tally), daemon=True
                )
                for i in range(voters)
            ]
            started = time.perf_counter()
            for t in threads:
                t.start()
            with Progress(console=console, transient=True) as progress:
                task = progress.add_task(f"[{backend}] {voters} voters", total=seconds)
                while any(t.is_alive() for t in threads):
                    time.sleep(1)
                    progress.update(task, completed=min(seconds, time.perf_counter() - started))
            elapsed = time.perf_counter() - started
        checked = subprocess.run(
            [sys.executable, "-c", CHECK_SCRIPT], env=env, check=False, capture_output=True, text=True
        )
        if checked.returncode:
            raise RuntimeError(checked.stderr[-3000:])
    import json

    state = json.loads(checked.stdout.strip().splitlines()[-1])
    counters = {int(k): v for k, v in state["counters"].items()}
    rows = {int(k): v for k, v in state["rows"].items()}
    pairs = {(i, u) for i, u in state["pairs"]}
    mismatched = [i for i in counters if counters[i] != rows.get(i, 0)]
    p50, p95 = percentiles(tally.latencies) if tally.latencies else (0.0, 0.0)
    return {
        "backend": backend,
        "requests": tally.requests,
        "rps": tally.requests / elapsed,
        "errors": sum(tally.errors.values()),
        "error_kinds": dict(tally.errors.most_common(3)),
        "p50": p50,
        "p95": p95,
        "votes": len(pairs),
        "counter_sum": sum(counters.values()),
        "items": state["items"],
        "mismatched_ideas": len(mismatched),
        "as_expected": pairs == voted,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--voters", type=int, default=50)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--ideas", type=int, default=100)
    parser.add_argument("--users", type=int, default=2_000)
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    args = parser.parse_args()
    console = Console(width=170)
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    results = [run(b, args.voters, args.seconds, args.ideas, args.users, console) for b in backends]
    table = Table(
        title=f"Portal voting: {args.voters} concurrent voters for {args.seconds} s over loopback "
        f"({args.ideas} ideas, {args.users:,} portal users, {os.cpu_count()} CPUs)"
    )
    columns = (
        "backend",
        "requests",
        "req/s",
        "errors",
        "p50 ms",
        "p95 ms",
        "votes",
        "Σ vote_count",
        "feedback items",
        "ideas off",
        "as voters left them",
    )
    for col in columns:
        table.add_column(col, justify="left" if col == "backend" else "right")
    for r in results:
        table.add_row(
            str(r["backend"]),
            f"{r['requests']:,}",
            f"{r['rps']:.0f}",
            str(r["errors"]),
            f"{r['p50']:.0f}",
            f"{r['p95']:.0f}",
            f"{r['votes']:,}",
            f"{r['counter_sum']:,}",
            f"{r['items']:,}",
            str(r["mismatched_ideas"]),
            "yes" if r["as_expected"] else "NO",
        )
    console.print(table)
    for r in results:
        if r["error_kinds"]:
            console.print(f"{r['backend']} errors: {r['error_kinds']}", markup=False)
    ok = all(
        r["errors"] == 0
        and r["mismatched_ideas"] == 0
        and r["as_expected"]
        and r["votes"] == r["counter_sum"] == r["items"]
        for r in results
    )
    if not ok:
        sys.exit(1)


if __name__ == "__main__":
    main()
