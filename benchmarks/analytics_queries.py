"""Insight queries on 10,000,000 events: the insight engine next to the fastest hand-written DuckDB SQL and pandas.

    uv run python -m benchmarks.analytics_queries [--events 10000000] [--runs 5] [--no-pandas]

Generates the events with NumPy (→ Arrow → DuckDB) into a temporary DuckDB file: 300,000 people (1% of them
merged into another person, as identify/alias does), 30,000 accounts on four plans, 180 days of events in time
order (busier on weekdays), half of them naming their account and the rest taking their person's. Then times, as
p50 over ``--runs`` rounds (default 7) in which the three take turns:

1. daily unique people by plan over the last 90 days (a trend with a breakdown);
2. a 4-step funnel (signup → activate → invite → purchase) with a 7-day window over the last 90 days;
3. 12-week retention (first-time weekly cohorts of signup, returning with any pageview).

Each through the insight engine (``insights.run`` on a ``DuckDBWarehouse``), as hand-written DuckDB SQL (the
fastest variant found; kept below), and with pandas on DataFrames already in memory (loading them is not
timed). The three answers are checked to be equal before anything is timed. Wall-clock time depends on what else
the machine runs; the CPU seconds (all threads of this process) show the work itself.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from prodops.domains.analytics.service import insights
from prodops.domains.analytics.service.insights import sql as q
from prodops.domains.analytics.service.schema import ensure_schema
from prodops.platform.warehouse import DuckDBWarehouse

NOW = dt.datetime(2026, 6, 30, 12, 0, tzinfo=dt.UTC)
DAYS = 180
PEOPLE = 300_000
ACCOUNTS = 30_000
PLANS = ["free", "starter", "pro", "enterprise"]
PLAN_SHARE = [0.55, 0.25, 0.15, 0.05]
EVENTS = {
    "pageview": 0.52,
    "search": 0.14,
    "feature_used": 0.18,
    "signup": 0.04,
    "activate": 0.04,
    "invite": 0.05,
    "purchase": 0.03,
}
STEPS = ["signup", "activate", "invite", "purchase"]

TREND = {
    "kind": "trends",
    "series": [{"math": "people"}],
    "interval": "day",
    "date_from": "-90d",
    "breakdown": {"source": "account", "property": "plan", "limit": 10},
}
FUNNEL = {
    "kind": "funnel",
    "steps": [{"event": s} for s in STEPS],
    "window": 7,
    "window_unit": "day",
    "date_from": "-90d",
}
RETENTION = {
    "kind": "retention",
    "target_event": "signup",
    "return_event": "pageview",
    "cohort": "first_time",
    "interval": "week",
    "periods": 11,
    "date_from": "-12w",
}

# --- hand-written SQL: the fastest variants found (see benchmarks/README.md) ----------------------------------

HAND_TREND = """
WITH ev AS (
  SELECT DISTINCT date_trunc('day', e.timestamp) AS day, e.person_id, e.account_id
  FROM events e
  WHERE e.timestamp >= $start AND e.timestamp < $end
)
SELECT ev.day, COALESCE(a.plan, '(none)') AS plan, count(DISTINCT COALESCE(o.new_person_id, ev.person_id)) AS people
FROM ev
LEFT JOIN person_overrides o ON o.old_person_id = ev.person_id
LEFT JOIN persons p ON p.person_id = COALESCE(o.new_person_id, ev.person_id)
LEFT JOIN accounts a ON a.account_id = COALESCE(ev.account_id, p.account_id)
GROUP BY 1, 2
"""

HAND_FUNNEL = """
WITH ev AS (
  SELECT COALESCE(o.new_person_id, e.person_id) AS person_id, e.event, e.timestamp AS ts
  FROM events e LEFT JOIN person_overrides o ON o.old_person_id = e.person_id
  WHERE e.timestamp >= $start AND e.timestamp < $end AND e.event IN ('signup', 'activate', 'invite', 'purchase')
),
s1 AS (SELECT person_id, min(ts) AS t1 FROM ev WHERE event = 'signup' GROUP BY 1),
s2 AS (SELECT s.person_id, s.t1, min(ev.ts) AS t2 FROM s1 s JOIN ev USING (person_id)
       WHERE ev.event = 'activate' AND ev.ts >= s.t1 AND ev.ts <= s.t1 + INTERVAL 7 DAY GROUP BY 1, 2),
s3 AS (SELECT s.person_id, s.t1, min(ev.ts) AS t3 FROM s2 s JOIN ev USING (person_id)
       WHERE ev.event = 'invite' AND ev.ts >= s.t2 AND ev.ts <= s.t1 + INTERVAL 7 DAY GROUP BY 1, 2),
s4 AS (SELECT s.person_id, min(ev.ts) AS t4 FROM s3 s JOIN ev USING (person_id)
       WHERE ev.event = 'purchase' AND ev.ts >= s.t3 AND ev.ts <= s.t1 + INTERVAL 7 DAY GROUP BY 1)
SELECT (SELECT count(*) FROM s1), (SELECT count(*) FROM s2), (SELECT count(*) FROM s3), (SELECT count(*) FROM s4)
"""

HAND_RETENTION = """
WITH firsts AS (
  SELECT COALESCE(o.new_person_id, e.person_id) AS person_id, date_trunc('week', min(e.timestamp)) AS c
  FROM events e LEFT JOIN person_overrides o ON o.old_person_id = e.person_id
  WHERE e.event = 'signup' AND e.timestamp < $end
  GROUP BY 1 HAVING min(e.timestamp) >= $start
),
act AS (
  SELECT DISTINCT COALESCE(o.new_person_id, e.person_id) AS person_id, date_trunc('week', e.timestamp) AS a
  FROM events e LEFT JOIN person_overrides o ON o.old_person_id = e.person_id
  WHERE e.event = 'pageview' AND e.timestamp >= $start AND e.timestamp < $end
)
SELECT c, 0 AS k, count(*) AS n FROM firsts GROUP BY 1
UNION ALL
SELECT f.c, date_diff('week', f.c, act.a) AS k, count(*) AS n
FROM firsts f JOIN act ON act.person_id = f.person_id AND act.a > f.c
GROUP BY 1, 2
"""


# --- data ------------------------------------------------------------------------------------------------------


def generate(path: Path, n_events: int, seed: int = 7) -> None:
    rng = np.random.default_rng(seed)
    wh = DuckDBWarehouse(path)
    ensure_schema(wh)
    end = q.naive(NOW)
    start = end - dt.timedelta(days=DAYS)
    created = np.datetime64(start - dt.timedelta(days=30), "us")
    plans = rng.choice(len(PLANS), ACCOUNTS, p=PLAN_SHARE)
    accounts = pa.table(
        {
            "account_id": np.arange(1, ACCOUNTS + 1, dtype=np.int64),
            "name": pa.array(np.arange(1, ACCOUNTS + 1)).cast(pa.string()),
            "plan": pa.array(np.array(PLANS, dtype=object)[plans]),
            "updated_at": pa.array(np.full(ACCOUNTS, created), type=pa.timestamp("us")),
        }
    )
    person_account = rng.integers(1, ACCOUNTS + 1, PEOPLE).astype(np.int64)
    has_account = rng.random(PEOPLE) < 0.9
    persons = pa.table(
        {
            "person_id": np.arange(1, PEOPLE + 1, dtype=np.int64),
            "account_id": pa.array(person_account, mask=~has_account),
            "created_at": pa.array(np.full(PEOPLE, created), type=pa.timestamp("us")),
            "updated_at": pa.array(np.full(PEOPLE, created), type=pa.timestamp("us")),
        }
    )
    merged = rng.choice(np.arange(1, PEOPLE + 1), PEOPLE // 100, replace=False)
    survivors = rng.integers(1, PEOPLE + 1, merged.size)
    keep = ~np.isin(survivors, merged)
    overrides = pa.table(
        {"old_person_id": merged[keep].astype(np.int64), "new_person_id": survivors[keep].astype(np.int64)}
    )
    # People: a heavy tail of activity; time: 180 days in order, weekdays busier than weekends.
    who = (rng.zipf(1.3, n_events * 2) % PEOPLE + 1)[:n_events].astype(np.int64)
    day_weight = np.array([1.0 if (start + dt.timedelta(days=d)).weekday() < 5 else 0.45 for d in range(DAYS)])
    days = rng.choice(DAYS, n_events, p=day_weight / day_weight.sum())
    micros = days.astype(np.int64) * 86_400_000_000 + rng.integers(0, 86_400_000_000, n_events)
    micros.sort()
    ts = np.datetime64(start, "us") + micros.astype("timedelta64[us]")
    names = np.array(list(EVENTS), dtype=object)
    kind = rng.choice(len(names), n_events, p=list(EVENTS.values()))
    own_account = rng.random(n_events) < 0.5
    amounts = np.array(["{}", *[f'{{"amount": {a}}}' for a in (9, 19, 49, 99, 199)]], dtype=object)
    props = np.where(names[kind] == "purchase", rng.integers(1, 6, n_events), 0)
    events = pa.table(
        {
            "uuid": pa.array(np.arange(n_events)).cast(pa.string()),
            "event": pa.array(names[kind]),
            "distinct_id": pa.array(who).cast(pa.string()),
            "person_id": who,
            "account_id": pa.array(person_account[who - 1], mask=~(own_account & has_account[who - 1])),
            "timestamp": pa.array(ts, type=pa.timestamp("us")),
            "received_at": pa.array(ts, type=pa.timestamp("us")),
            "source_id": pa.array(np.ones(n_events, dtype=np.int32)),
            "properties": pa.array(amounts[props]),
        }
    )
    with wh.cursor() as cur:
        for name, table in (
            ("accounts", accounts),
            ("persons", persons),
            ("person_overrides", overrides),
            ("events", events),
        ):
            cur.register("src", table)
            cols = ", ".join(table.column_names)
            cur.execute(f"INSERT INTO {name} ({cols}) SELECT {cols} FROM src")  # noqa: S608  # our table names
            cur.unregister("src")
        cur.execute("CHECKPOINT")
    wh.close()


# --- answers ---------------------------------------------------------------------------------------------------


def engine_answers(wh: DuckDBWarehouse) -> dict[str, Callable[[], Any]]:
    def trend() -> dict[tuple[str, str], int]:
        result = insights.run(wh, insights.parse_query(TREND), NOW)
        return {
            (p.bucket.date().isoformat(), s.label): int(p.value or 0)
            for s in result.series
            for p in s.points
            if p.value
        }

    def funnel() -> list[int]:
        return [s.count for s in insights.run(wh, insights.parse_query(FUNNEL), NOW).steps]

    def retention() -> dict[tuple[str, int], int]:
        result = insights.run(wh, insights.parse_query(RETENTION), NOW)
        return {(row[0].date().isoformat(), k): int(v) for row in result.rows for k, v in enumerate(row[2:]) if v}

    return {"trend": trend, "funnel": funnel, "retention": retention}


def _range(query: dict[str, Any], interval: str) -> dict[str, dt.datetime]:
    start, end = q.resolve_range(query["date_from"], None, interval, NOW)
    return {"start": start, "end": end}


def hand_answers(wh: DuckDBWarehouse) -> dict[str, Callable[[], Any]]:
    def trend() -> dict[tuple[str, str], int]:
        rows = wh.query(HAND_TREND, _range(TREND, "day")).rows
        return {(d.date().isoformat(), plan): int(n) for d, plan, n in rows}

    def funnel() -> list[int]:
        return [int(v) for v in wh.query(HAND_FUNNEL, _range(FUNNEL, "day")).rows[0]]

    def retention() -> dict[tuple[str, int], int]:
        rows = wh.query(HAND_RETENTION, _range(RETENTION, "week")).rows
        return {(c.date().isoformat(), int(k)): int(n) for c, k, n in rows if k <= RETENTION["periods"]}

    return {"trend": trend, "funnel": funnel, "retention": retention}


def pandas_answers(wh: DuckDBWarehouse) -> dict[str, Callable[[], Any]]:
    import pandas as pd

    with wh.cursor() as cur:
        ev = cur.sql("SELECT event, timestamp, person_id, account_id FROM events").df()
        persons = cur.sql("SELECT person_id, account_id FROM persons").df()
        accounts = cur.sql("SELECT account_id, plan FROM accounts").df()
        overrides = cur.sql("SELECT old_person_id, new_person_id FROM person_overrides").df()
    ev["event"] = ev["event"].astype("category")
    merged = pd.Series(overrides.new_person_id.values, index=overrides.old_person_id.values)
    ev["person_id"] = ev["person_id"].map(merged).fillna(ev["person_id"]).astype("int64")
    person_account = pd.Series(persons.account_id.values, index=persons.person_id.values)
    plan_of = pd.Series(accounts.plan.values, index=accounts.account_id.values)

    def trend() -> dict[tuple[str, str], int]:
        r = _range(TREND, "day")
        part = ev[(ev.timestamp >= r["start"]) & (ev.timestamp < r["end"])]
        account = part.account_id.fillna(part.person_id.map(person_account))
        plan = account.map(plan_of).fillna("(none)")
        counts = part.assign(day=part.timestamp.dt.floor("D"), plan=plan).groupby(["day", "plan"]).person_id.nunique()
        return {(d.date().isoformat(), p): int(n) for (d, p), n in counts.items() if n}

    def funnel() -> list[int]:
        r = _range(FUNNEL, "day")
        part = ev[(ev.timestamp >= r["start"]) & (ev.timestamp < r["end"]) & ev.event.isin(STEPS)]
        window = pd.Timedelta(days=7)
        reached = part[part.event == STEPS[0]].groupby("person_id").timestamp.min().rename("t1").reset_index()
        reached["prev"] = reached["t1"]
        counts = [len(reached)]
        for step in STEPS[1:]:
            cand = part[part.event == step][["person_id", "timestamp"]].merge(reached, on="person_id")
            cand = cand[(cand.timestamp >= cand.prev) & (cand.timestamp <= cand.t1 + window)]
            reached = cand.groupby("person_id").agg(t1=("t1", "first"), prev=("timestamp", "min")).reset_index()
            counts.append(len(reached))
        return counts

    def retention() -> dict[tuple[str, int], int]:
        r = _range(RETENTION, "week")
        signups = ev[(ev.event == "signup") & (ev.timestamp < r["end"])].groupby("person_id").timestamp.min()
        signups = signups[signups >= r["start"]]
        cohort = signups.dt.to_period("W-SUN").dt.start_time.rename("c").reset_index()
        views = ev[(ev.event == "pageview") & (ev.timestamp >= r["start"]) & (ev.timestamp < r["end"])]
        act = views.assign(a=views.timestamp.dt.to_period("W-SUN").dt.start_time)[["person_id", "a"]].drop_duplicates()
        both = cohort.merge(act, on="person_id")
        both = both[both.a > both.c]
        both["k"] = (both.a - both.c).dt.days // 7
        out = {(c.date().isoformat(), 0): int(n) for c, n in cohort.groupby("c").size().items()}
        for (c, k), n in both.groupby(["c", "k"]).size().items():
            if k <= RETENTION["periods"]:
                out[(c.date().isoformat(), int(k))] = int(n)
        return out

    return {"trend": trend, "funnel": funnel, "retention": retention}


def timed(fn: Callable[[], Any]) -> tuple[float, float]:
    started, used = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - started, time.process_time() - used


def p50s(fns: list[Callable[[], Any] | None], runs: int) -> list[tuple[float, float] | None]:
    """Median wall-clock and CPU seconds (all threads of this process) of each function over ``runs`` rounds.
    The functions take turns within each round, so a busy moment of the machine weighs on all of them alike."""
    samples: list[list[tuple[float, float]]] = [[] for _ in fns]
    for _ in range(runs):
        for i, fn in enumerate(fns):
            if fn is not None:
                samples[i].append(timed(fn))
    return [
        (statistics.median(w for w, _ in got), statistics.median(c for _, c in got)) if got else None for got in samples
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--no-pandas", action="store_true")
    parser.add_argument("--data", type=Path, help="keep the generated DuckDB file here (and reuse it when it exists)")
    args = parser.parse_args()
    console = Console(width=150)
    with tempfile.TemporaryDirectory(prefix="prodops-bench-") as tmp:
        path = args.data or Path(tmp) / "events.duckdb"
        if not path.exists():
            started = time.perf_counter()
            with console.status(f"Generating {args.events:,} events…"):
                generate(path, args.events)
            console.print(
                f"Generated {args.events:,} events in {time.perf_counter() - started:.1f} s ({path.stat().st_size / 1e6:.0f} MB)"
            )
        wh = DuckDBWarehouse(path)
        engine, hand = engine_answers(wh), hand_answers(wh)
        pandas = None if args.no_pandas else pandas_answers(wh)
        labels = {
            "trend": "Daily unique people by plan, 90 days",
            "funnel": "4-step funnel, 7-day window, 90 days",
            "retention": "12-week retention (weekly first-time cohorts)",
        }
        for name in labels:
            expected = hand[name]()
            assert engine[name]() == expected, f"the engine's {name} differs from the hand-written SQL"
            if pandas is not None:
                assert pandas[name]() == expected, f"pandas' {name} differs from the hand-written SQL"
        console.print("The three answers agree (engine, hand-written SQL" + (", pandas)." if pandas else ")."))
        table = Table(title=f"p50 of {args.runs} runs, {args.events:,} events")
        for column in ("query", "engine s", "hand SQL s", "engine / hand", "pandas s", "CPU s: engine / hand / pandas"):
            table.add_column(column, justify="left" if column == "query" else "right")
        with Progress(console=console, transient=True) as progress:
            task = progress.add_task("Timing", total=len(labels) * (3 if pandas else 2))
            for name, label in labels.items():
                measured = p50s([engine[name], hand[name], pandas[name] if pandas else None], args.runs)
                progress.advance(task, 3 if pandas else 2)
                (e, e_cpu), (h, h_cpu) = measured[0], measured[1]  # type: ignore[misc]
                pd_time, pd_cpu = measured[2] if measured[2] else (None, None)
                table.add_row(
                    label,
                    f"{e:.3f}",
                    f"{h:.3f}",
                    f"{e / h:.2f}×",
                    "—" if pd_time is None else f"{pd_time:.2f}",
                    f"{e_cpu:.2f} / {h_cpu:.2f} / " + ("—" if pd_cpu is None else f"{pd_cpu:.2f}"),
                )
        console.print(table)
        console.print(
            f"Load average while timing: {', '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs"
        )
        wh.close()


if __name__ == "__main__":
    main()
