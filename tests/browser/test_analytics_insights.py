"""Insights in a real browser: build a trend, see its chart drawn and its table, save it, put it on a dashboard and
open the dashboard's read-only share link signed out."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from prodops.domains.analytics.service import dashboards, metrics, results, saved
from prodops.domains.analytics.service.schema import TABLES, ensure_schema
from prodops.platform.audit import Actor
from prodops.platform.db import session_scope
from prodops.platform.warehouse import get_warehouse
from tests.browser.test_shell import sign_in
from tests.conftest import make_user

pytestmark = pytest.mark.browser

COLUMNS = [
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


def _wipe() -> None:
    wh = get_warehouse()
    ensure_schema(wh)
    for table in TABLES:
        wh.execute(f"DELETE FROM {table}")  # noqa: S608  # our table names
    results.forget_results()
    metrics.forget_cache()


@pytest.fixture
def events() -> Iterator[None]:
    _wipe()
    wh = get_warehouse()
    today = dt.datetime.now(dt.UTC).replace(tzinfo=None, hour=0, minute=0, second=0, microsecond=0)
    wh.append(
        "accounts",
        ["account_id", "name", "plan", "updated_at"],
        [(1, "Acme", "pro", today), (2, "Bits", "free", today)],
    )
    wh.append(
        "persons",
        ["person_id", "account_id", "created_at", "updated_at"],
        [(p, 1 + p % 2, today, today) for p in range(1, 21)],
    )
    rows = [
        (
            f"b{d}-{p}",
            "Report Viewed",
            f"d{p}",
            p,
            None,
            today - dt.timedelta(days=d, hours=-1),
            today,
            1,
            json.dumps({}),
        )
        for d in range(7)
        for p in range(1, 21)
        if (p + d) % 3
    ]
    wh.append("events", COLUMNS, rows)
    yield
    _wipe()


def test_build_save_and_share_an_insight(page, browser, live_server: str, artifacts: Path, events: None) -> None:  # type: ignore[no-untyped-def]
    user = make_user("member")
    sign_in(page, live_server, user.email)
    page.get_by_role("complementary", name="Main navigation").get_by_role("link", name="Analytics").click()
    page.get_by_role("button", name="New insight").first.click()
    page.get_by_label("Event 1").fill("Report Viewed")
    page.get_by_label("Measure").first.select_option("people")
    page.get_by_label("From").fill("-7d")
    page.get_by_label("By").select_option("account")
    page.get_by_label("Property", exact=True).last.fill("plan")
    page.get_by_role("button", name="Run").click()
    page.wait_for_selector("#result figure.chart canvas, #result figure.chart svg", timeout=20_000)
    assert "kind=trends" in page.url and "event=Report+Viewed" in page.url
    assert page.get_by_text("Unique people (Report Viewed) by plan, daily, last 7 days").is_visible()
    assert page.locator("#result table.insight-table tbody tr").count() == 7
    page.screenshot(path=str(artifacts / "analytics-builder.png"), full_page=True)

    page.get_by_label("Name").fill("Report readers by plan")
    page.get_by_role("button", name="Save insight").click()
    page.wait_for_selector("#result figure.chart canvas, #result figure.chart svg", timeout=20_000)
    assert page.get_by_role("heading", name="Report readers by plan").is_visible()

    with session_scope() as s:
        insight = saved.list_insights(s).items[0]
        board = dashboards.create_dashboard(
            s, Actor.system("test"), dashboards.DashboardIn(name="Readers", date_from="-7d")
        )
        dashboards.add_tile(s, Actor.system("test"), board.id, dashboards.TileIn(insight_id=insight.id))
    page.goto(f"{live_server}/analytics/dashboards/{board.id}")
    page.wait_for_selector(".tile figure.chart canvas, .tile figure.chart svg", timeout=20_000)
    page.get_by_role("button", name="Share read-only link").click()
    page.wait_for_load_state()
    link = page.get_by_label("Share link").input_value()
    assert "/analytics/shared/" in link

    stranger = browser.new_context(viewport={"width": 1200, "height": 800})
    other = stranger.new_page()
    other.goto(link.replace("http://127.0.0.1:8000", live_server))
    other.wait_for_selector(".tile figure.chart canvas, .tile figure.chart svg", timeout=20_000)
    assert other.get_by_role("heading", name="Readers").is_visible()
    assert other.locator("nav, aside.sidebar").count() == 0
    other.screenshot(path=str(artifacts / "analytics-shared-dashboard.png"), full_page=True)
    stranger.close()
