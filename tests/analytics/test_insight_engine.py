"""The insight engine against hand-computed answers on a small dataset (a DuckDB warehouse of its own).

The dataset (``now`` is Monday 9 March 2026, 12:00 UTC; "-7d" is 3-9 March):

    person  account (plan, region)     events
    P1      10 (pro, EU)               3/3 09:00 signup · 3/3 10:00 view 10 · 3/4 11:00 purchase 100
    P5 → merged into P1                3/3 11:00 view 20
    P2      10 (pro, EU)               3/2 09:00 view (before the range) · 3/4 09:00 view 30
    P3      20 (free, US)              3/3 12:00 signup · 3/4 10:00 view 40 (browser Firefox) · 3/5 10:00 purchase 50
    P4      none; its event names 30   3/5 09:00 view "n/a"
    P6      20 (free, US)              3/7 09:00 signup
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

import pytest

from prodops.domains.analytics.service import insights
from prodops.domains.analytics.service.insights import funnels, window
from prodops.domains.analytics.service.insights.sql import resolve_range
from prodops.domains.analytics.service.schema import ensure_schema
from prodops.platform.errors import ValidationFailed
from prodops.platform.warehouse import DuckDBWarehouse, Warehouse

NOW = dt.datetime(2026, 3, 9, 12, tzinfo=dt.UTC)
EVENT_COLUMNS = [
    "uuid",
    "event",
    "distinct_id",
    "person_id",
    "account_id",
    "timestamp",
    "received_at",
    "source_id",
    "properties",
]


def naive(*parts: int) -> dt.datetime:
    """A UTC time as the warehouse stores it (naive)."""
    return dt.datetime(*parts, tzinfo=dt.UTC).replace(tzinfo=None)  # type: ignore[misc]


def at(day: int, hour: int, month: int = 3) -> dt.datetime:
    return naive(2026, month, day, hour)


EVENTS: list[tuple[int, str, dt.datetime, int | None, dict[str, Any]]] = [
    (1, "signup", at(3, 9), None, {}),
    (1, "view", at(3, 10), None, {"amount": 10}),
    (5, "view", at(3, 11), None, {"amount": 20}),
    (3, "signup", at(3, 12), None, {}),
    (2, "view", at(4, 9), None, {"amount": 30}),
    (3, "view", at(4, 10), None, {"amount": 40, "browser": "Firefox"}),
    (1, "purchase", at(4, 11), None, {"amount": 100}),
    (4, "view", at(5, 9), 30, {"amount": "n/a"}),
    (3, "purchase", at(5, 10), None, {"amount": 50}),
    (6, "signup", at(7, 9), None, {}),
    (2, "view", at(2, 9), None, {}),
]


def load(wh: Warehouse, events: list[tuple[int, str, dt.datetime, int | None, dict[str, Any]]] = EVENTS) -> None:
    wh.append(
        "events",
        EVENT_COLUMNS,
        [
            (f"u{i}", name, f"d{pid}", pid, acc, when, when, 1, json.dumps(props))
            for i, (pid, name, when, acc, props) in enumerate(events)
        ],
    )


@pytest.fixture
def wh() -> Iterator[Warehouse]:
    warehouse = DuckDBWarehouse(":memory:")
    ensure_schema(warehouse)
    t = at(1, 0)
    warehouse.append(
        "persons",
        ["person_id", "account_id", "email", "name", "customer_person_id", "created_at", "updated_at", "properties"],
        [
            (1, 10, "ada@example.com", "Ada", 101, t, t, json.dumps({"role": "admin"})),
            (2, 10, "bob@example.com", "Bob", None, t, t, "{}"),
            (3, 20, "cy@example.com", "Cy", 103, t, t, "{}"),
            (4, None, None, None, None, t, t, "{}"),
            (6, 20, "dee@example.com", "Dee", None, t, t, "{}"),
        ],
    )
    warehouse.append("person_overrides", ["old_person_id", "new_person_id"], [(5, 1)])
    warehouse.append(
        "accounts",
        ["account_id", "name", "plan", "region", "segment", "arr", "updated_at"],
        [
            (10, "Acme", "pro", "EU", "Enterprise", 50000.0, t),
            (20, "Bits", "free", "US", "SMB", 0.0, t),
            (30, "Cog", "free", "US", "SMB", 0.0, t),
        ],
    )
    load(warehouse)
    yield warehouse
    warehouse.close()


def run(wh: Warehouse, **query: Any) -> insights.InsightResult:
    return insights.run(wh, insights.parse_query(query), NOW)


DAYS = [dt.datetime(2026, 3, d, tzinfo=dt.UTC) for d in range(3, 10)]


# --- ranges ------------------------------------------------------------------------------------------------


def test_relative_ranges_count_back_from_today_and_start_on_whole_intervals() -> None:
    now = naive(2026, 3, 11, 15, 30)  # a Wednesday
    assert resolve_range("-7d", None, "day", now) == (naive(2026, 3, 5), now)
    assert resolve_range("-2w", None, "week", now)[0] == naive(2026, 2, 23)  # widened to a Monday
    assert resolve_range("-48h", None, "hour", now)[0] == naive(2026, 3, 9, 16)
    assert resolve_range("2026-01-01", "2026-01-31", "month", now) == (naive(2026, 1, 1), naive(2026, 2, 1))


# --- trends ------------------------------------------------------------------------------------------------


def test_trends_total_people_and_accounts_per_day_zero_filled(wh: Warehouse) -> None:
    result = run(
        wh,
        kind="trends",
        date_from="-7d",
        series=[
            {"event": "view", "math": "total"},
            {"event": "view", "math": "people"},
            {"event": "view", "math": "accounts"},
        ],
    )
    assert [p.bucket for p in result.series[0].points] == DAYS
    values = [[p.value for p in s.points] for s in result.series]
    assert values[0] == [2, 2, 1, 0, 0, 0, 0]  # the 3/2 view is before the range
    assert values[1] == [1, 2, 1, 0, 0, 0, 0]  # P5 was merged into P1: one person on 3/3
    assert values[2] == [1, 2, 1, 0, 0, 0, 0]  # P4's event names its own account (30)
    assert result.rows[1] == [DAYS[1], 2, 2, 2]


def test_trends_property_aggregates_skip_values_that_are_not_numbers(wh: Warehouse) -> None:
    def series(math: str) -> list[Any]:
        found = run(wh, kind="trends", date_from="-7d", series=[{"event": "view", "math": math, "property": "amount"}])
        return [p.value for p in found.series[0].points][:3]

    assert series("avg") == [15.0, 35.0, None]
    assert series("sum") == [30.0, 70.0, 0]
    assert series("min") == [10.0, 30.0, None]
    assert series("max") == [20.0, 40.0, None]
    assert series("median") == [15.0, 35.0, None]
    assert series("p90") == [pytest.approx(19.0), pytest.approx(39.0), None]


def test_trends_filters_on_event_person_and_account_properties(wh: Warehouse) -> None:
    def total(*filters: dict[str, Any]) -> float:
        found = run(wh, kind="trends", date_from="-7d", series=[{"event": "view"}], filters=list(filters))
        return sum(p.value or 0 for p in found.series[0].points)

    assert total({"source": "account", "property": "region", "op": "eq", "value": "EU"}) == 3
    assert total({"source": "event", "property": "browser", "op": "contains", "value": "fire"}) == 1
    assert total({"source": "event", "property": "browser", "op": "neq", "value": "Firefox"}) == 4
    assert total({"source": "event", "property": "amount", "op": "gt", "value": 25}) == 2
    assert total({"source": "event", "property": "amount", "op": "lt", "value": 25}) == 2
    assert total({"source": "event", "property": "browser", "op": "is_set"}) == 1
    assert total({"source": "account", "property": "plan", "op": "is_not_set"}) == 0
    assert total({"source": "person", "property": "email", "op": "eq", "value": "ada@example.com"}) == 2
    assert total({"source": "person", "property": "role", "op": "eq", "value": "admin"}) == 2
    assert total({"source": "account", "property": "arr", "op": "gt", "value": 1000}) == 3


def test_breakdown_keeps_the_top_values_and_measures_the_rest_as_other(wh: Warehouse) -> None:
    by_plan = {"source": "account", "property": "plan", "limit": 1}
    totals = run(wh, kind="trends", date_from="-7d", series=[{"event": "view"}], breakdown=by_plan)
    assert {s.label: [p.value for p in s.points][:3] for s in totals.series} == {"pro": [2, 1, 0], "Other": [0, 1, 1]}
    # Unique people tie (2 each): the name decides, and Other is counted again, not summed.
    people = run(wh, kind="trends", date_from="-7d", series=[{"event": "view", "math": "people"}], breakdown=by_plan)
    assert {s.label: [p.value for p in s.points][:3] for s in people.series} == {"free": [0, 1, 1], "Other": [1, 1, 0]}
    assert len(people.sql) == 2
    none = run(
        wh,
        kind="trends",
        date_from="-7d",
        series=[{"event": "signup"}],
        breakdown={"source": "event", "property": "browser"},
    )
    assert [s.label for s in none.series] == ["(none)"]


def test_compare_draws_the_previous_period_over_the_current_one(wh: Warehouse) -> None:
    result = run(wh, kind="trends", date_from="-7d", series=[{"event": "view"}], compare=True)
    previous = next(s for s in result.series if s.compare)
    assert previous.label.endswith("(previous period)")
    assert [p.value for p in previous.points] == [0, 0, 0, 0, 0, 0, 1]  # 2 March is the last day of 24 Feb - 2 Mar
    assert [p.bucket for p in previous.points] == DAYS


def test_weekly_and_hourly_intervals(wh: Warehouse) -> None:
    weekly = run(wh, kind="trends", date_from="-2w", interval="week", series=[{"event": "view"}])
    assert [(p.bucket.day, p.value) for p in weekly.series[0].points] == [
        (23, 0),
        (2, 6),
        (9, 0),
    ]  # 2 March is in the week of 2 March
    hourly = run(
        wh, kind="trends", date_from="2026-03-04", date_to="2026-03-04", interval="hour", series=[{"event": "view"}]
    )
    assert len(hourly.rows) == 24 and [p.value for p in hourly.series[0].points][9:11] == [1, 1]


def test_property_names_are_parameters_not_sql(wh: Warehouse) -> None:
    evil = "x') OR 1=1; DROP TABLE events; --\"\\"
    result = run(
        wh, kind="trends", date_from="-7d", series=[{"event": "view"}], filters=[{"property": evil, "op": "is_set"}]
    )
    assert sum(p.value or 0 for p in result.series[0].points) == 0
    assert evil not in result.sql[0].sql
    assert wh.query("SELECT count(*) FROM events").scalar() == len(EVENTS)
    odd = [(1, "view", at(6, 9), None, {'a.b "q"': "yes"})]
    load(wh, odd)
    found = run(
        wh,
        kind="trends",
        date_from="-7d",
        series=[{"event": "view"}],
        filters=[{"property": 'a.b "q"', "value": "yes"}],
    )
    assert sum(p.value or 0 for p in found.series[0].points) == 1


# --- funnels -----------------------------------------------------------------------------------------------


FUNNEL = {
    "kind": "funnel",
    "date_from": "-7d",
    "steps": [{"event": "signup"}, {"event": "view"}, {"event": "purchase"}],
}


def test_ordered_funnel_counts_conversions_and_time_to_convert(wh: Warehouse) -> None:
    result = run(wh, **FUNNEL, window=7)
    assert [s.count for s in result.steps] == [3, 2, 2]
    assert result.steps[1].conversion_from_previous == pytest.approx(2 / 3)
    assert result.steps[2].conversion_from_first == pytest.approx(2 / 3)
    assert result.steps[1].median_seconds_from_previous == (3600 + 79200) / 2
    assert result.median_seconds_to_convert == (93600 + 165600) / 2 == result.avg_seconds_to_convert


def test_conversion_window_is_counted_from_entering(wh: Warehouse) -> None:
    assert [s.count for s in run(wh, **FUNNEL, window=1).steps] == [3, 2, 0]
    assert [s.count for s in run(wh, **FUNNEL, window=30, window_unit="hour").steps] == [3, 2, 1]


def test_strict_funnel_needs_each_step_to_be_the_next_event(wh: Warehouse) -> None:
    # P1 views twice after signing up (the second one as P5, merged), so their purchase does not follow a view.
    assert [s.count for s in run(wh, **FUNNEL, order="strict").steps] == [3, 2, 1]


def test_funnel_breakdown_by_account_plan(wh: Warehouse) -> None:
    result = run(wh, **FUNNEL, breakdown={"source": "account", "property": "plan"})
    assert {b.breakdown: [s.count for s in b.steps] for b in result.breakdowns} == {"free": [2, 1, 1], "pro": [1, 1, 1]}
    limited = run(wh, **FUNNEL, breakdown={"source": "account", "property": "plan", "limit": 1})
    assert {b.breakdown: [s.count for s in b.steps] for b in limited.breakdowns} == {
        "free": [2, 1, 1],
        "Other": [1, 1, 1],
    }


def test_people_who_dropped_off_link_to_their_customer_person(wh: Warehouse) -> None:
    query = insights.parse_query(FUNNEL)
    total, people = funnels.dropped_people(wh, query, 2, NOW)  # type: ignore[arg-type]
    assert total == 1 and [p["email"] for p in people] == ["dee@example.com"]
    strict = insights.parse_query({**FUNNEL, "order": "strict"})
    total, people = funnels.dropped_people(wh, strict, 3, NOW)  # type: ignore[arg-type]
    assert total == 1 and people[0]["customer_person_id"] == 101


# --- retention, stickiness, lifecycle, adoption --------------------------------------------------------------


def test_first_time_retention(wh: Warehouse) -> None:
    result = run(
        wh, kind="retention", date_from="-7d", interval="day", periods=3, target_event="signup", return_event="view"
    )
    assert result.rows[0] == [DAYS[0], 2, 2, 1, 0, 0]
    assert result.rows[4] == [DAYS[4], 1, 1, 0, 0, None]  # 3/10 has not started
    assert result.rows[6] == [DAYS[6], 0, 0, None, None, None]
    assert result.curve[0] == [0, 1.0] and result.curve[1] == [1, pytest.approx(1 / 3)]
    # Bob's first view was on 2 March, before the range: he is in no cohort.
    views = run(
        wh, kind="retention", date_from="-7d", interval="day", periods=1, target_event="view", return_event="view"
    )
    assert [row[1] for row in views.rows[:3]] == [1, 1, 1]


def test_recurring_retention_puts_people_in_every_cohort_they_qualify_for(wh: Warehouse) -> None:
    result = run(
        wh,
        kind="retention",
        date_from="-7d",
        interval="day",
        periods=2,
        cohort="recurring",
        target_event="view",
        return_event="purchase",
    )
    assert [row[1:] for row in result.rows[:3]] == [[1, 1, 1, 0], [2, 2, 1, 0], [1, 1, 0, 0]]


def test_stickiness_counts_people_by_active_days(wh: Warehouse) -> None:
    result = run(wh, kind="stickiness", date_from="-7d")
    assert [row[:2] for row in result.rows] == [[1, 3], [2, 1], [3, 1], [4, 0], [5, 0], [6, 0], [7, 0]]
    assert result.rows[0][2] == pytest.approx(0.6)


def test_lifecycle_new_returning_resurrecting_dormant(wh: Warehouse) -> None:
    result = run(wh, kind="lifecycle", date_from="-7d")
    # new, returning, resurrecting, dormant per day
    assert [row[1:] for row in result.rows] == [
        [2, 0, 0, -1],
        [0, 2, 1, 0],
        [1, 1, 0, -2],
        [0, 0, 0, -2],
        [1, 0, 0, 0],
        [0, 0, 0, -1],
        [0, 0, 0, 0],
    ]


def test_feature_adoption_is_the_share_of_active_accounts(wh: Warehouse) -> None:
    result = run(
        wh,
        kind="adoption",
        date_from="-7d",
        interval="day",
        feature_name="Purchasing",
        events=["purchase"],
        feature_id=7,
    )
    assert [row[1:] for row in result.rows[:5]] == [[2, 0, 0.0], [2, 1, 0.5], [2, 1, 0.5], [0, 0, None], [1, 0, 0.0]]


def test_window_values_read_the_trailing_interval(wh: Warehouse) -> None:
    weekly_accounts = insights.parse_query({"kind": "trends", "series": [{"math": "accounts"}], "interval": "week"})
    end = NOW
    assert window.value(wh, weekly_accounts, end - dt.timedelta(days=7), end) == 3
    assert window.value(wh, weekly_accounts, end - dt.timedelta(days=14), end - dt.timedelta(days=7)) == 1
    adoption = insights.parse_query({"kind": "adoption", "feature_name": "P", "events": ["purchase"]})
    assert window.value(wh, adoption, end - dt.timedelta(days=7), end) == pytest.approx(2 / 3)


def test_dataset_counts_rows_by_a_date_column_with_a_filter(wh: Warehouse) -> None:
    wh.execute('CREATE TABLE ds_tickets (id BIGINT, opened TIMESTAMP, "kind" VARCHAR)')
    wh.append(
        "ds_tickets", ["id", "opened", "kind"], [(1, at(3, 8), "bug"), (2, at(3, 9), "idea"), (3, at(5, 1), "bug")]
    )
    result = run(
        wh,
        kind="dataset",
        dataset="tickets",
        date_column="opened",
        where_column="kind",
        where_value="bug",
        date_from="-7d",
    )
    assert [p.value for p in result.series[0].points][:3] == [1, 0, 1]
    with pytest.raises(ValidationFailed, match="no column"):
        run(wh, kind="dataset", dataset="tickets", date_column="closed")
    with pytest.raises(ValidationFailed, match="not been loaded"):
        run(wh, kind="dataset", dataset="nothing", date_column="x")


def test_bad_queries_are_refused_with_the_field_named() -> None:
    from pydantic import ValidationError

    for bad, field in [
        ({"kind": "trends", "series": []}, "series"),
        ({"kind": "trends", "series": [{"math": "avg"}]}, "series"),
        ({"kind": "trends", "series": [{"event": "x"}], "date_from": "yesterday"}, "date_from"),
        ({"kind": "funnel", "steps": [{"event": "a"}]}, "steps"),
        (
            {"kind": "trends", "series": [{"event": "x"}], "filters": [{"property": "p", "op": "gt", "value": "big"}]},
            "filters",
        ),
        ({"kind": "trends", "series": [{"event": "x"}], "interval": "minute"}, "interval"),
    ]:
        with pytest.raises(ValidationError) as info:
            insights.parse_query(bad)
        assert field in str(info.value.errors()[0]["loc"])


def test_every_insight_sql_translates_to_clickhouse(wh: Warehouse) -> None:
    """The engine's SQL stays portable: SQLGlot translates all of it to ClickHouse without unsupported parts."""
    import sqlglot
    from sqlglot.errors import ErrorLevel

    queries: list[dict[str, Any]] = [
        {
            "kind": "trends",
            "date_from": "-7d",
            "series": [{"event": "view", "math": "people"}, {"event": "view", "math": "p90", "property": "amount"}],
            "breakdown": {"source": "account", "property": "plan", "limit": 1},
            "filters": [{"property": "browser", "op": "contains", "value": "fire"}],
            "compare": True,
        },
        {**FUNNEL, "breakdown": {"source": "account", "property": "plan"}},
        {**FUNNEL, "order": "strict"},
        {"kind": "retention", "date_from": "-7d", "target_event": "signup", "return_event": "view"},
        {
            "kind": "retention",
            "date_from": "-7d",
            "target_event": "signup",
            "return_event": "view",
            "cohort": "recurring",
        },
        {"kind": "stickiness", "date_from": "-7d"},
        {"kind": "lifecycle", "date_from": "-7d", "interval": "week"},
        {"kind": "adoption", "date_from": "-7d", "feature_name": "P", "events": ["purchase"]},
    ]
    translated = 0
    for data in queries:
        for ran in run(wh, **data).sql:
            sqlglot.transpile(ran.sql, read="duckdb", write="clickhouse", unsupported_level=ErrorLevel.RAISE)
            translated += 1
    assert translated >= 10
