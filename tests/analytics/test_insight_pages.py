"""Insight, metric and dashboard pages and APIs against the real warehouse of the test process."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator
from urllib.parse import urlencode

import pytest

from prodops.domains.analytics.service import dashboards, datasets, metrics, results, saved
from prodops.domains.analytics.service.schema import ensure_schema
from prodops.domains.feedback import service as feedback
from prodops.domains.feedback.schemas import FeedbackIn
from prodops.platform.audit import Actor, AuditRecord
from prodops.platform.db import session_scope
from prodops.platform.warehouse import Warehouse
from tests.conftest import Client, make_token, make_user

ACTOR = Actor.system("test")
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


def ago(days: float, hours: float = 0) -> dt.datetime:
    """A moment before now, naive UTC as the warehouse keeps it (noon-ish, so "today" holds it)."""
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    return now.replace(hour=0, minute=0, second=0, microsecond=0) - dt.timedelta(days=days) + dt.timedelta(hours=hours)


@pytest.fixture
def wh(clean_warehouse: Warehouse) -> Iterator[Warehouse]:
    """Two accounts (pro, free), four people, a week of events."""
    results.forget_results()
    metrics.forget_cache()
    ensure_schema(clean_warehouse)
    t = ago(30)
    clean_warehouse.append(
        "accounts",
        ["account_id", "name", "plan", "segment", "region", "updated_at"],
        [(1, "Acme", "pro", "Enterprise", "EU", t), (2, "Bits", "free", "SMB", "US", t)],
    )
    clean_warehouse.append(
        "persons",
        ["person_id", "account_id", "email", "name", "created_at", "updated_at"],
        [
            (1, 1, "ada@example.com", "Ada", t, t),
            (2, 1, "bo@example.com", "Bo", t, t),
            (3, 2, "cy@example.com", "Cy", t, t),
            (4, 2, None, None, t, t),
        ],
    )
    rows = []
    plan = [
        (1, "signup", 3),
        (1, "view", 3),
        (1, "purchase", 2),
        (2, "signup", 3),
        (2, "view", 2),
        (3, "signup", 2),
        (3, "view", 1),
        (4, "view", 1),
    ]
    for i, (pid, name, days) in enumerate(plan):
        when = ago(days, 0.5 + i / 10)
        rows.append((f"e{i}", name, f"d{pid}", pid, None, when, when, 1, json.dumps({"amount": 10 * (i + 1)})))
    clean_warehouse.append("events", COLUMNS, rows)
    yield clean_warehouse
    results.forget_results()
    metrics.forget_cache()


TRENDS = {"kind": "trends", "series": [{"event": "view", "math": "people"}], "date_from": "-7d", "interval": "day"}
FUNNEL = {
    "kind": "funnel",
    "steps": [{"event": "signup"}, {"event": "view"}, {"event": "purchase"}],
    "date_from": "-7d",
}


def table_numbers(html: str) -> list[str]:
    return re.findall(r"<td>([^<]*)</td>", html)


# --- builder and saved insights ------------------------------------------------------------------------------


def test_builder_shows_the_question_and_loads_the_answer_after_the_page(viewer_client: Client, wh: Warehouse) -> None:
    params = urlencode(
        [("kind", "trends"), ("event", "view"), ("math", "people"), ("date_from", "-7d"), ("interval", "day")]
    )
    page = viewer_client.get(f"/analytics/new?{params}")
    assert page.status_code == 200
    assert 'hx-get="/analytics/run?' in page.text and "vega-embed.js" in page.text
    assert "Save insight" not in page.text  # viewers read only
    part = viewer_client.get(f"/analytics/run?{params}", headers={"HX-Request": "true"})
    assert part.status_code == 200
    assert "Unique people (view), daily, last 7 days" in part.text
    assert 'class="vega-spec"' in part.text and "SQL it ran" in part.text and "Definitions" in part.text
    cells = table_numbers(part.text)
    assert cells.count("1") == 2 and cells.count("2") == 1  # 3 days with views: 1, 1 and 2 people
    csv = viewer_client.get(f"/analytics/run.csv?{params}")
    assert csv.status_code == 200 and csv.text.splitlines()[0].endswith("Interval,Unique people (view)")


def test_builder_names_the_wrong_field_and_keeps_the_values(viewer_client: Client, wh: Warehouse) -> None:
    params = urlencode([("kind", "trends"), ("event", "view"), ("math", "avg"), ("date_from", "last week")])
    page = viewer_client.get(f"/analytics/new?{params}")
    assert page.status_code == 422
    assert 'id="e-date_from"' in page.text and "relative one like -30d" in page.text
    assert 'value="last week"' in page.text
    part = viewer_client.get(f"/analytics/run?{params}")
    assert part.status_code == 422


def test_member_saves_edits_exports_and_deletes_an_insight(member_client: Client, wh: Warehouse) -> None:
    form = {
        "kind": "funnel",
        "step": ["signup", "view", "purchase", ""],
        "date_from": "-7d",
        "window": "14",
        "window_unit": "day",
    }
    bad = member_client.form("/analytics/insights", {**form, "name": ""})
    assert bad.status_code == 422 and 'id="e-name"' in bad.text
    with session_scope() as s:
        assert saved.list_insights(s).total == 0
    created = member_client.form("/analytics/insights", {**form, "name": "Signup to purchase"}, follow_redirects=False)
    assert created.status_code == 303
    url = created.headers["location"]
    page = member_client.get(url)
    assert page.status_code == 200 and "Signup to purchase" in page.text and f'hx-get="{url}/result"' in page.text
    part = member_client.get(f"{url}/result")
    assert part.status_code == 200 and "Funnel signup → view → purchase" in part.text
    assert "people</a>" in part.text  # the drop-off links
    dropped = member_client.get(f"{url}/dropped?step=3")
    assert dropped.status_code == 200 and "2 people dropped off before step 3" in dropped.text and "Bo" in dropped.text
    assert member_client.get(f"{url}.csv").text.splitlines()[1].startswith("1. signup,3")
    edit = member_client.get(f"{url}/edit")
    assert edit.status_code == 200 and 'value="purchase"' in edit.text
    changed = member_client.form(
        f"{url}/edit", {**form, "order": "strict", "name": "Strict signup"}, follow_redirects=False
    )
    assert changed.status_code == 303
    with session_scope() as s:
        insight = saved.get_insight(s, int(url.rsplit("/", 1)[1]))
        assert insight.name == "Strict signup" and insight.query["order"] == "strict"
        assert s.query(AuditRecord).filter_by(entity_type=saved.ENTITY).count() == 2
    assert member_client.form(f"{url}/delete", follow_redirects=False).status_code == 303
    assert member_client.get(url).status_code == 404


def test_viewer_cannot_save(viewer_client: Client, wh: Warehouse) -> None:
    response = viewer_client.form("/analytics/insights", {"kind": "trends", "event": "view", "name": "x"})
    assert response.status_code == 403


# --- the JSON API --------------------------------------------------------------------------------------------


def test_api_runs_ad_hoc_queries_and_keeps_saved_ones(client: Client, wh: Warehouse) -> None:
    reader = {"Authorization": f"Bearer {make_token(make_user('viewer'), 'read')}"}
    writer = {"Authorization": f"Bearer {make_token(make_user('member'), 'write')}"}
    got = client.get("/api/v1/analytics/insights/run", params={"query": json.dumps(FUNNEL)}, headers=reader)
    assert got.status_code == 200
    assert [s["count"] for s in got.json()["steps"]] == [3, 3, 1]
    assert got.json()["sql"][0]["params"]
    assert (
        client.post("/api/v1/analytics/insights/run", json=TRENDS, headers=reader).status_code == 403
    )  # read tokens only GET
    posted = client.post("/api/v1/analytics/insights/run", json=TRENDS, headers=writer)
    assert posted.status_code == 200 and sum(p["value"] for p in posted.json()["series"][0]["points"]) == 4
    bad = client.post("/api/v1/analytics/insights/run", json={**TRENDS, "interval": "fortnight"}, headers=writer)
    assert bad.status_code == 422 and "interval" in bad.json()["detail"][0]["loc"]
    made = client.post("/api/v1/analytics/insights", json={"name": "Viewers", "query": TRENDS}, headers=writer)
    assert made.status_code == 201
    insight_id = made.json()["id"]
    assert client.get("/api/v1/analytics/insights", headers=reader).json()["total"] == 1
    assert client.get(f"/api/v1/analytics/insights/{insight_id}/result", headers=reader).json()["kind"] == "trends"
    assert (
        client.patch(f"/api/v1/analytics/insights/{insight_id}", json={"name": "Renamed"}, headers=writer).json()[
            "name"
        ]
        == "Renamed"
    )
    funnel = client.post("/api/v1/analytics/insights", json={"name": "F", "query": FUNNEL}, headers=writer).json()
    dropped = client.get(f"/api/v1/analytics/insights/{funnel['id']}/dropped?step=3", headers=reader).json()
    assert dropped["total"] == 2 and {p["email"] for p in dropped["items"]} == {"bo@example.com", "cy@example.com"}
    assert client.delete(f"/api/v1/analytics/insights/{insight_id}", headers=writer).status_code == 204


# --- metrics -------------------------------------------------------------------------------------------------


def test_metrics_catalogue_defaults_pages_and_values(member_client: Client, wh: Warehouse) -> None:
    assert "No metrics yet" in member_client.get("/analytics/metrics").text
    assert member_client.form("/analytics/metrics/defaults", follow_redirects=False).status_code == 303
    page = member_client.get("/analytics/metrics")
    assert page.status_code == 200 and "/analytics/metrics/weekly_active_accounts/summary?row=1" in page.text
    row = member_client.get("/analytics/metrics/weekly_active_accounts/summary?row=1")
    assert row.status_code == 200 and "<strong>2</strong>" in row.text and "<svg" in row.text
    with session_scope() as s:
        assert metrics.metric_value(s, "weekly_active_accounts") == 2
        assert (
            metrics.metric_value(s, "daily_active_people", ago(0).replace(tzinfo=dt.UTC)) == 2
        )  # the day before midnight today: Cy and person 4
        series = metrics.metric_series(s, "daily_active_people", ago(3).date(), ago(0).date())
        assert [p.value for p in series] == [2, 3, 2, 0]
    detail = member_client.get("/analytics/metrics/weekly_active_accounts")
    assert detail.status_code == 200 and 'hx-get="/analytics/metrics/weekly_active_accounts/result"' in detail.text
    assert (
        "Unique accounts (any event), weekly"
        in member_client.get("/analytics/metrics/weekly_active_accounts/result").text
    )


def test_metric_form_refuses_bad_definitions_and_duplicate_keys(member_client: Client, wh: Warehouse) -> None:
    base = {"key": "views", "name": "Views", "unit": "events", "format": "number"}
    not_json = member_client.form("/analytics/metrics/new", {**base, "definition": "{nope"})
    assert not_json.status_code == 422 and "not valid JSON" in not_json.text
    two = {"kind": "trends", "series": [{"event": "view"}, {"event": "signup"}]}
    many = member_client.form("/analytics/metrics/new", {**base, "definition": json.dumps(two)})
    assert many.status_code == 422 and "exactly one series" in many.text
    funnel = member_client.form("/analytics/metrics/new", {**base, "definition": json.dumps(FUNNEL)})
    assert funnel.status_code == 422
    bad_key = member_client.form("/analytics/metrics/new", {**base, "key": "Views!", "definition": json.dumps(TRENDS)})
    assert bad_key.status_code == 422 and 'id="e-key"' in bad_key.text
    with session_scope() as s:
        assert metrics.list_metrics(s) == []
    ok = member_client.form(
        "/analytics/metrics/new", {**base, "definition": json.dumps(TRENDS)}, follow_redirects=False
    )
    assert ok.status_code == 303 and ok.headers["location"] == "/analytics/metrics/views"
    again = member_client.form("/analytics/metrics/new", {**base, "definition": json.dumps(TRENDS)})
    assert again.status_code == 422
    assert "already exists" in again.text
    edited = member_client.form(
        "/analytics/metrics/views/edit",
        {**base, "name": "Viewers", "definition": json.dumps(TRENDS)},
        follow_redirects=False,
    )
    assert edited.status_code == 303


def test_metrics_api(client: Client, wh: Warehouse) -> None:
    writer = {"Authorization": f"Bearer {make_token(make_user('member'), 'write')}"}
    weekly = {**TRENDS, "interval": "week"}  # read over the trailing 7 days
    body = {"key": "people_viewing", "name": "People viewing", "definition": weekly, "unit": "people"}
    assert client.post("/api/v1/analytics/metrics", json=body, headers=writer).status_code == 201
    assert client.post("/api/v1/analytics/metrics", json=body, headers=writer).status_code == 409
    value = client.get("/api/v1/analytics/metrics/people_viewing/value", headers=writer).json()
    assert value["value"] == 4 and value["previous"] == 0 and value["change"] == 4
    start, end = ago(3).date(), ago(0).date()
    series = client.get(
        f"/api/v1/analytics/metrics/people_viewing/series?start={start}&end={end}&interval=day", headers=writer
    ).json()
    assert [p["value"] for p in series["points"]] == [1, 1, 2, 0]
    reversed_range = client.get(
        f"/api/v1/analytics/metrics/people_viewing/series?start={end}&end={start}", headers=writer
    )
    assert reversed_range.status_code == 422
    assert client.get("/api/v1/analytics/metrics/nope/value", headers=writer).status_code == 404


# --- dashboards ----------------------------------------------------------------------------------------------


def _dashboard_with_tiles() -> tuple[int, int, int]:
    with session_scope() as s:
        insight = saved.create_insight(s, ACTOR, saved.InsightIn(name="Viewers", query=TRENDS))  # type: ignore[arg-type]
        metrics.seed_default_metrics(s, ACTOR)
        metric = metrics.get_metric(s, "weekly_active_people")
        board = dashboards.create_dashboard(s, ACTOR, dashboards.DashboardIn(name="Usage", date_from="-7d"))
        t1 = dashboards.add_tile(s, ACTOR, board.id, dashboards.TileIn(insight_id=insight.id))
        dashboards.add_tile(s, ACTOR, board.id, dashboards.TileIn(metric_id=metric.id, width=2))
        return board.id, t1.id, insight.id


def test_dashboard_grid_segment_filter_exports_and_refresh(member_client: Client, wh: Warehouse) -> None:
    board, tile, _ = _dashboard_with_tiles()
    page = member_client.get(f"/analytics/dashboards/{board}?refresh=60&plan=pro")
    assert page.status_code == 200
    assert f'hx-get="/analytics/dashboards/{board}/tiles/{tile}?plan=pro" hx-trigger="load, every 60s"' in page.text
    everyone = member_client.get(f"/analytics/dashboards/{board}/tiles/{tile}")
    pro = member_client.get(f"/analytics/dashboards/{board}/tiles/{tile}?plan=pro")
    assert everyone.status_code == pro.status_code == 200
    assert sum(int(c) for c in table_numbers(everyone.text) if c.isdigit()) == 4
    assert sum(int(c) for c in table_numbers(pro.text) if c.isdigit()) == 2  # Ada and Bo are on the pro plan
    png = member_client.get(f"/analytics/dashboards/{board}/tiles/{tile}.png?plan=pro")
    assert png.status_code == 200 and png.content.startswith(b"\x89PNG") and png.headers["content-type"] == "image/png"
    csv = member_client.get(f"/analytics/dashboards/{board}/tiles/{tile}.csv")
    assert csv.status_code == 200 and len(csv.text.strip().splitlines()) == 8  # header and 7 days
    bad = member_client.get(f"/analytics/dashboards/{board}?date_from=soon")
    assert bad.status_code == 422


def test_dashboard_editing_through_the_pages(member_client: Client, wh: Warehouse) -> None:
    made = member_client.form(
        "/analytics/dashboards", {"name": "Weekly review", "date_from": "-12w"}, follow_redirects=False
    )
    assert made.status_code == 303
    url = made.headers["location"]
    board = int(url.rsplit("/", 1)[1])
    with session_scope() as s:
        insight = saved.create_insight(s, ACTOR, saved.InsightIn(name="Funnel", query=FUNNEL))  # type: ignore[arg-type]
    assert member_client.form(f"{url}/tiles", {"source": "insight:999"}, follow_redirects=False).status_code == 303
    assert (
        member_client.form(
            f"{url}/tiles", {"source": f"insight:{insight.id}", "width": "2"}, follow_redirects=False
        ).status_code
        == 303
    )
    assert (
        member_client.form(
            f"{url}/tiles", {"source": f"insight:{insight.id}", "title": "Again"}, follow_redirects=False
        ).status_code
        == 303
    )
    with session_scope() as s:
        tiles = dashboards.get_dashboard(s, board).tiles
    assert [(t.title, t.width) for t in tiles] == [("", 2), ("Again", 1)]
    member_client.form(f"{url}/tiles/{tiles[1].id}/move", {"direction": "up"})
    with session_scope() as s:
        assert [t.title for t in dashboards.get_dashboard(s, board).tiles] == ["Again", ""]
    bad = member_client.form(f"{url}/edit", {"name": "Weekly review", "date_from": "-12w", "refresh_seconds": "7"})
    assert bad.status_code == 422 and "seconds" in bad.text
    good = member_client.form(
        f"{url}/edit",
        {"name": "Review", "date_from": "-4w", "plan": "pro", "refresh_seconds": "300"},
        follow_redirects=False,
    )
    assert good.status_code == 303
    with session_scope() as s:
        saved_board = dashboards.get_dashboard(s, board)
    assert saved_board.segment == {"plan": "pro"} and saved_board.refresh_seconds == 300
    member_client.form(f"{url}/tiles/{tiles[0].id}/delete")
    assert member_client.form(f"{url}/delete", follow_redirects=False).status_code == 303
    assert member_client.get(url).status_code == 404


def test_share_link_shows_only_the_dashboard_and_can_be_revoked(
    member_client: Client, client: Client, wh: Warehouse
) -> None:
    board, tile, _ = _dashboard_with_tiles()
    member_client.form(f"/analytics/dashboards/{board}/share")
    page = member_client.get(f"/analytics/dashboards/{board}")
    link = re.search(r'readonly value="[^"]*(/analytics/shared/[^"]+)"', page.text)
    assert link is not None
    shared = link.group(1)
    anonymous = Client(client.app, base_url="http://testserver")
    got = anonymous.get(shared)
    assert got.status_code == 200 and "Usage" in got.text
    assert "sidebar" not in got.text and "/feedback" not in got.text and "csrf" not in got.text.lower()
    tile_part = anonymous.get(f"{shared}/tiles/{tile}")
    assert (
        tile_part.status_code == 200 and "vega-spec" in tile_part.text and "/analytics/insights/" not in tile_part.text
    )
    assert anonymous.get(f"{shared}/tiles/{tile}.png").content.startswith(b"\x89PNG")
    assert anonymous.get(shared[:-3] + "xyz").status_code == 404  # tampered
    member_client.form(f"/analytics/dashboards/{board}/unshare")
    assert anonymous.get(shared).status_code == 404
    assert anonymous.get(f"{shared}/tiles/{tile}").status_code == 404


def test_dashboards_api(client: Client, wh: Warehouse) -> None:
    writer = {"Authorization": f"Bearer {make_token(make_user('member'), 'write')}"}
    _, _, insight_id = _dashboard_with_tiles()
    made = client.post(
        "/api/v1/analytics/dashboards", json={"name": "API", "segment": {"plan": "free"}}, headers=writer
    ).json()
    tile = client.post(
        f"/api/v1/analytics/dashboards/{made['id']}/tiles", json={"insight_id": insight_id}, headers=writer
    )
    assert tile.status_code == 201
    both = client.post(
        f"/api/v1/analytics/dashboards/{made['id']}/tiles",
        json={"insight_id": insight_id, "metric_id": 1},
        headers=writer,
    )
    assert both.status_code == 422
    result = client.get(
        f"/api/v1/analytics/dashboards/{made['id']}/tiles/{tile.json()['id']}/result", headers=writer
    ).json()
    assert sum(p["value"] for p in result["series"][0]["points"]) == 2  # the free plan: Cy and person 4
    bad = client.post("/api/v1/analytics/dashboards", json={"name": "X", "segment": {"colour": "red"}}, headers=writer)
    assert bad.status_code == 422
    share = client.post(f"/api/v1/analytics/dashboards/{made['id']}/share", headers=writer).json()
    assert "/analytics/shared/" in share["url"]
    assert client.get("/api/v1/analytics/dashboards", headers=writer).json()["total"] == 2


# --- datasets ------------------------------------------------------------------------------------------------


def test_feedback_volume_loads_as_a_dataset_and_charts_by_day(member_client: Client, wh: Warehouse) -> None:
    with session_scope() as s:
        for days, source in [(1, "email"), (1, "api"), (2, "email")]:
            when = dt.datetime.now(dt.UTC) - dt.timedelta(days=days)
            feedback.ingest(s, ACTOR, FeedbackIn(text="Export is slow", source=source, received_at=when))  # type: ignore[arg-type]
        assert "feedback" in datasets.registered()
        assert datasets.load_datasets(s)["feedback"] == 3
    assert wh.query("SELECT count(*) FROM ds_feedback WHERE source = 'email'").scalar() == 2
    params = urlencode(
        {
            "kind": "dataset",
            "dataset": "feedback",
            "date_column": "received_at",
            "where_column": "source",
            "where_value": "email",
            "date_from": "-7d",
        }
    )
    part = member_client.get(f"/analytics/run?{params}")
    assert part.status_code == 200 and "Rows of feedback where source is “email”" in part.text
    assert sum(int(c) for c in table_numbers(part.text) if c.isdigit()) == 2


def test_dashboard_page_statements_do_not_grow_with_tiles(member_client: Client, wh: Warehouse) -> None:
    from tests.conftest import count_statements

    board, _, insight_id = _dashboard_with_tiles()
    member_client.get(f"/analytics/dashboards/{board}")  # warm caches (segment choices, templates)
    with count_statements() as few:
        assert member_client.get(f"/analytics/dashboards/{board}").status_code == 200
    with session_scope() as s:
        for _ in range(10):
            dashboards.add_tile(s, ACTOR, board, dashboards.TileIn(insight_id=insight_id))
    with count_statements() as many:
        assert member_client.get(f"/analytics/dashboards/{board}").status_code == 200
    assert len(many) == len(few)


def test_admins_reload_datasets_from_the_dashboards_page(admin_client: Client, wh: Warehouse) -> None:
    with session_scope() as s:
        feedback.ingest(s, ACTOR, FeedbackIn(text="Search is slow"))
    assert "Reload datasets now" in admin_client.get("/analytics/dashboards").text
    assert admin_client.form("/analytics/dashboards/datasets/reload", follow_redirects=False).status_code == 303
    assert wh.query("SELECT count(*) FROM ds_feedback").scalar() == 1  # jobs run inline in the tests


def test_user_text_is_escaped_in_questions_tables_and_names(member_client: Client, wh: Warehouse) -> None:
    evil = "<script>alert(1)</script>"
    params = urlencode([("kind", "trends"), ("event", evil), ("date_from", "-7d"), ("bd_property", evil)])
    part = member_client.get(f"/analytics/run?{params}")
    assert part.status_code == 200
    assert evil not in part.text and "&lt;script&gt;" in part.text
    made = member_client.form(
        "/analytics/insights", {"kind": "trends", "event": "view", "name": evil}, follow_redirects=False
    )
    page = member_client.get(made.headers["location"])
    assert evil not in page.text and "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text


def test_retention_table_shows_the_share_that_came_back(viewer_client: Client, wh: Warehouse) -> None:
    params = urlencode(
        [
            ("kind", "retention"),
            ("target_event", "signup"),
            ("return_event", "view"),
            ("interval", "day"),
            ("periods", "3"),
            ("date_from", "-7d"),
        ]
    )
    part = viewer_client.get(f"/analytics/run?{params}")
    assert part.status_code == 200
    assert "1 (50%)" in part.text  # of Ada and Bo, who signed up 3 days ago, Bo viewed the next day


def test_the_interval_in_progress_is_drawn_dashed(wh: Warehouse) -> None:
    from prodops.domains.analytics.routes._charts import spec_for
    from prodops.domains.analytics.service import insights
    from prodops.platform.web.charts import to_png

    result = insights.run(wh, insights.parse_query({**TRENDS, "compare": True}))
    spec = spec_for(result, 200, title="Viewers")
    today = [v for v in spec["data"]["values"] if v["part"] == "so far"]
    assert [v["dash"] for v in today] == ["dashed"]  # today, in the current series only
    assert sum(v["dash"] == "dashed" for v in spec["data"]["values"] if v["series"].endswith("(previous period)")) == 7
    assert to_png(spec).startswith(b"\x89PNG")
