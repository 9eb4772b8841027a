"""Import of a 100,000-row feedback CSV: items per second and peak memory of the importing process.

    uv run python -m benchmarks.feedback_import [--rows 100000] [--backend sqlite|postgres|both]

Each backend gets a fresh database with the demo's customers (800 accounts, 3,000 people). The CSV is built
from the demo's real review texts: people given by e-mail (70% known, 20% new at a customer's domain, who are
created, 10% anonymous), mixed sources, tags, importance, dates over a year. The import runs in its own
process through ``prodops feedback import FILE`` when that command exists, otherwise through the same
service path (``read_table`` → the guessed column mapping → ``imports.import_feedback``, all or nothing). Peak
memory is that process's maximum resident set size (``getrusage``); items/s counts the whole process, start-up
included.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import os
import random
import subprocess
import sys
import tempfile
from pathlib import Path

from rich.console import Console
from rich.table import Table

from benchmarks._server import fresh_backend

SEED_SCRIPT = r"""
import random
from prodops.platform.registry import load_domains
load_domains()
from prodops.platform.db import session_scope
from prodops.platform.demo import DemoContext, _seed_platform
from prodops.domains.customers import demo as customers_demo
ctx = DemoContext(rng=random.Random(1))
with session_scope() as s:
    _seed_platform(s, ctx)
    customers_demo.seed(s, ctx)
"""

# The service path the CLI takes (read_table -> column mapping -> import_feedback), for when the command is absent.
IMPORT_SCRIPT = r"""
import json, sys, time
from pathlib import Path
from prodops.platform.registry import load_domains
load_domains()
from prodops.platform.audit import Actor
from prodops.platform.db import session_scope
from prodops.platform.tabular import read_table
from prodops.domains.feedback.service import imports
path = Path(sys.argv[1])
started = time.perf_counter()
table = read_table(path.read_bytes(), path.name, max_rows=1_000_000)
parsed = time.perf_counter()
with session_scope() as s:
    report = imports.import_feedback(
        s, Actor.system("benchmark"), table, imports.suggest_mapping(table.headers), dry_run=False
    )
assert report.committed, report.errors[:5]
print(json.dumps({"created": report.created, "parse_s": parsed - started, "ingest_s": time.perf_counter() - parsed}))
"""

# Runs the importing process as its only child, so RUSAGE_CHILDREN is that process's peak memory.
WRAPPER = r"""
import json, resource, subprocess, sys, time
started = time.perf_counter()
done = subprocess.run(sys.argv[1:], capture_output=True, text=True)
seconds = time.perf_counter() - started
print(json.dumps({"seconds": seconds, "max_rss_kb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
                  "rc": done.returncode, "stdout": done.stdout[-2000:], "stderr": done.stderr[-2000:]}))
"""

SOURCES = ["support_ticket", "email", "sales_call", "interview", "app_review", "survey", "widget"]
TAGS = ["bug", "feature request", "pricing", "ui", "performance", "onboarding", "mobile", "integrations"]


def _people(env: dict[str, str]) -> list[tuple[str, str]]:
    script = (
        "from prodops.platform.registry import load_domains; load_domains()\n"
        "from prodops.platform.db import session_scope\n"
        "from prodops.domains.customers import service\n"
        "with session_scope() as s:\n"
        "    for pid, email, aid in s.execute(service.person_accounts()): print(email)\n"
    )
    out = subprocess.run([sys.executable, "-c", script], env=env, check=True, capture_output=True, text=True)
    emails = out.stdout.split()
    return [(e, e.split("@")[1]) for e in emails]


def write_csv(path: Path, rows: int, people: list[tuple[str, str]]) -> None:
    from prodops.domains.feedback.demo import load_reviews

    rng = random.Random(11)
    texts = [r.text for r in load_reviews()]
    domains = sorted({d for _, d in people})
    now = dt.datetime.now(dt.UTC)
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(
            [
                "external_id",
                "source",
                "title",
                "text",
                "person_email",
                "person_name",
                "tags",
                "importance",
                "received_at",
            ]
        )
        for n in range(rows):
            roll = rng.random()
            if roll < 0.7:
                email, name = rng.choice(people)[0], ""
            elif roll < 0.9:
                email, name = f"new{n}@{rng.choice(domains)}", f"New Person {n}"
            else:
                email, name = "", ""
            text = rng.choice(texts)
            writer.writerow(
                [
                    f"bench-{n:06d}",
                    rng.choice(SOURCES),
                    text[:60],
                    text,
                    email,
                    name,
                    ",".join(rng.sample(TAGS, k=rng.randint(0, 2))),
                    rng.choice(["", "", "nice", "important", "critical"]),
                    (now - dt.timedelta(minutes=rng.randint(0, 525_600))).isoformat(timespec="seconds"),
                ]
            )


def _has_cli(env: dict[str, str]) -> bool:
    probe = subprocess.run(
        [sys.executable, "-m", "prodops.cli", "feedback", "import", "--help"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    return probe.returncode == 0


def _count(env: dict[str, str]) -> int:
    script = (
        "from prodops.platform.registry import load_domains; load_domains()\n"
        "from sqlalchemy import func, select\n"
        "from prodops.platform.db import session_scope\n"
        "from prodops.domains.feedback.models import FeedbackItem\n"
        "with session_scope() as s: print(s.scalar(select(func.count()).select_from(FeedbackItem)))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], env=env, check=True, capture_output=True, text=True)
    return int(out.stdout.split()[-1])


def run(backend: str, rows: int, console: Console) -> dict[str, object]:
    with fresh_backend(backend) as env, tempfile.TemporaryDirectory(prefix="prodops-import-") as tmp:
        subprocess.run([sys.executable, "-c", SEED_SCRIPT], env=env, check=True, capture_output=True)
        path = Path(tmp) / "feedback.csv"
        write_csv(path, rows, _people(env))
        size_mb = path.stat().st_size / 1e6
        cli = _has_cli(env)
        command = (
            [sys.executable, "-m", "prodops.cli", "feedback", "import", str(path)]
            if cli
            else [sys.executable, "-c", IMPORT_SCRIPT, str(path)]
        )
        console.print(
            f"[{backend}] importing {rows:,} rows ({size_mb:.1f} MB) via {'the CLI' if cli else 'the service path'}"
        )
        out = subprocess.run(
            [sys.executable, "-c", WRAPPER, *command], env=env, check=True, capture_output=True, text=True
        )
        measured = json.loads(out.stdout)
        if measured["rc"] != 0:
            raise RuntimeError(f"import failed: {measured['stderr']}")
        imported = _count(env)
        assert imported == rows, f"{imported} items in the database, expected {rows}"
        detail = json.loads(measured["stdout"].strip().splitlines()[-1]) if not cli else {}
        return {
            "backend": backend,
            "path": "prodops feedback import" if cli else "service path (read_table + import_feedback)",
            "rows": rows,
            "seconds": measured["seconds"],
            "items_per_s": rows / measured["seconds"],
            "peak_mb": measured["max_rss_kb"] / 1024,
            "ingest_s": detail.get("ingest_s"),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    args = parser.parse_args()
    console = Console()
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    results = [run(backend, args.rows, console) for backend in backends]
    table = Table(title=f"Feedback CSV import, {args.rows:,} rows ({os.cpu_count()} CPUs)")
    for col in ("backend", "path", "seconds", "items/s", "peak RSS MB"):
        table.add_column(col, justify="left" if col in ("backend", "path") else "right")
    for r in results:
        table.add_row(
            str(r["backend"]),
            str(r["path"]),
            f"{r['seconds']:.1f}",
            f"{r['items_per_s']:,.0f}",
            f"{r['peak_mb']:,.0f}",
        )
    console.print(table)


if __name__ == "__main__":
    main()
