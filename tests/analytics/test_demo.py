"""The demo usage events (a small version): funnel order, weekly seasonality, retention decay, the feature launch,
links to customers people and accounts, idempotence."""

from __future__ import annotations

import datetime as dt
import random

import pytest
from sqlalchemy.orm import Session

from prodops.domains.analytics import demo
from prodops.domains.customers import demo as customers_demo
from prodops.platform.demo import DemoContext
from tests.analytics.conftest import rows

pytestmark = pytest.mark.usefixtures("clean_warehouse")
NOW = dt.datetime(2026, 11, 30, 12, 0, tzinfo=dt.UTC).replace(tzinfo=None)


def test_small_demo_has_funnels_seasonality_retention_and_a_launch(session: Session) -> None:
    customers_demo.seed(session, DemoContext(rng=random.Random(1), user_ids=[]))
    summary = demo.seed_events(session, 60_000, now=NOW)
    assert "usage events for 3,000 people" in summary
    (total,) = rows("SELECT count(*) FROM events")[0]
    assert 55_000 <= total <= 65_000
    # Every event belongs to a demo person linked to a customers person and account.
    assert rows(
        "SELECT count(*) FROM events e LEFT JOIN persons p USING (person_id) WHERE p.customer_person_id IS NULL"
    ) == [(0,)]
    assert rows("SELECT count(*) FROM events WHERE account_id IS NULL") == [(0,)]
    assert rows("SELECT count(*) FROM accounts") == [(800,)]
    assert rows("SELECT max(timestamp) <= $now, min(timestamp) >= $start FROM events",
                {"now": NOW, "start": NOW - dt.timedelta(days=181)}) == [(True, True)]  # fmt: skip

    # Funnel: fewer people at each step, and nobody takes a step before the previous one.
    steps = dict(rows("SELECT event, count(DISTINCT person_id) FROM events WHERE event IN (SELECT unnest($f)) GROUP BY 1",
                      {"f": list(demo.FUNNEL)}))  # fmt: skip
    counts = [steps[s] for s in demo.FUNNEL]
    assert counts == sorted(counts, reverse=True) and counts[-1] > 0
    out_of_order = rows("""
        SELECT count(*) FROM (
            SELECT person_id, event, min(timestamp) AS at FROM events WHERE event IN (SELECT unnest($f)) GROUP BY ALL
        ) a JOIN (
            SELECT person_id, event, min(timestamp) AS at FROM events WHERE event IN (SELECT unnest($f)) GROUP BY ALL
        ) b USING (person_id)
        WHERE list_position($f, a.event) < list_position($f, b.event) AND a.at > b.at
    """, {"f": list(demo.FUNNEL)})  # fmt: skip
    assert out_of_order == [(0,)]

    # Weekdays are busier than weekends.
    (weekday, weekend), = rows("""
        SELECT avg(n) FILTER (WHERE dow NOT IN (0, 6)), avg(n) FILTER (WHERE dow IN (0, 6))
        FROM (SELECT CAST(timestamp AS DATE) AS d, dayofweek(min(timestamp)) AS dow, count(*) AS n FROM events GROUP BY 1)
    """)  # fmt: skip
    assert weekday > 2.5 * weekend

    # Retention: of those who signed up, fewer are active in their fourth week than in their first.
    (week1, week4), = rows("""
        WITH s AS (SELECT person_id, min(timestamp) AS t0 FROM events WHERE event = 'Signed Up' GROUP BY 1
                   HAVING min(timestamp) < $now - INTERVAL 35 DAY)
        SELECT count(DISTINCT person_id) FILTER (WHERE e.timestamp >= t0 + INTERVAL 1 DAY AND e.timestamp < t0 + INTERVAL 8 DAY),
               count(DISTINCT person_id) FILTER (WHERE e.timestamp >= t0 + INTERVAL 22 DAY AND e.timestamp < t0 + INTERVAL 29 DAY)
        FROM s JOIN events e USING (person_id)
    """, {"now": NOW})  # fmt: skip
    assert week1 > 1.3 * week4 > 0

    # The launch: nothing before day 120 of the window, then a ramp.
    launch = (NOW - dt.timedelta(days=demo.DAYS)).replace(hour=0, minute=0, second=0) + dt.timedelta(
        days=demo.LAUNCH_DAY
    )
    (before, first_week, later_week), = rows("""
        SELECT count(*) FILTER (WHERE timestamp < $l),
               count(*) FILTER (WHERE timestamp >= $l AND timestamp < $l + INTERVAL 7 DAY),
               count(*) FILTER (WHERE timestamp >= $l + INTERVAL 42 DAY AND timestamp < $l + INTERVAL 49 DAY)
        FROM events WHERE event = $e
    """, {"l": launch, "e": demo.LAUNCHED})  # fmt: skip
    assert before == 0 and 0 < first_week < later_week / 2

    assert demo.seed_events(session, 60_000, now=NOW) == "demo events already there"
    assert rows("SELECT count(*) FROM events") == [(total,)]
