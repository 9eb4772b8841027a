"""The web shell's building blocks: formatting for people, sanitised Markdown, charts, vendored assets."""

from __future__ import annotations

import datetime as dt
import json
import re

import altair as alt

from prodops.platform.db import transaction
from prodops.platform.deps import SessionDep, ViewerUser
from prodops.platform.errors import NotFound
from prodops.platform.web import fmt_ago, fmt_compact, fmt_money, render_markdown
from prodops.platform.web.charts import chart, to_png
from prodops.web import create_app
from tests.conftest import Client, make_token, make_user


def test_numbers_money_and_times_are_formatted_for_people() -> None:
    assert fmt_compact(12400) == "12.4K"
    assert fmt_compact(1_200_000) == "1.2M"
    assert fmt_compact(999) == "999"
    assert fmt_money(1_250_000) == "$1.2M"
    now = dt.datetime(2026, 11, 22, 12, tzinfo=dt.UTC)
    assert fmt_ago(now - dt.timedelta(days=3), now) == "3 days ago"
    assert fmt_ago(now - dt.timedelta(seconds=5), now) == "just now"
    assert fmt_ago(None) == "never"


def test_markdown_is_sanitised() -> None:
    html = str(
        render_markdown("**bold** <script>alert(1)</script> [x](javascript:alert(1)) <img src=x onerror=alert(1)>")
    )
    assert "<strong>bold</strong>" in html
    assert "<script" not in html and "<img" not in html and 'href="javascript:' not in html
    assert "&lt;script&gt;" in html  # shown as text, never run


def test_chart_spec_cannot_break_out_of_its_script_element() -> None:
    spec = (
        alt.Chart(alt.Data(values=[{"label": "</script><script>alert(1)</script>", "n": 3}]))
        .mark_bar()
        .encode(x="label:N", y="n:Q")
    )
    html = str(chart(spec, title="Evil <labels>"))
    assert html.count("</script>") == 1
    assert "Evil &lt;labels&gt;" in html
    payload = re.search(r'class="vega-spec">(.*)</script>', html)
    assert payload is not None
    assert json.loads(payload.group(1))["data"]["values"][0]["label"].startswith("</script>")


def test_chart_renders_to_png_for_mail_and_export() -> None:
    spec = alt.Chart(alt.Data(values=[{"x": "a", "y": 1}, {"x": "b", "y": 3}])).mark_bar().encode(x="x:N", y="y:Q")
    png = to_png(spec)
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 1000


def test_assets_are_served_from_the_package(client: Client) -> None:
    for path, kind in (
        ("/static/vendor/htmx/htmx.min.js", "javascript"),
        ("/static/vendor/pico/pico.min.css", "css"),
        ("/static/prodops.js", "javascript"),
        ("/static/vendor/vega-embed.js", "javascript"),
    ):
        r = client.get(path)
        assert r.status_code == 200 and kind in r.headers["content-type"], path
    assert "window.vegaEmbed" in client.get("/static/vendor/vega-embed.js").text


def test_openapi_and_docs_are_published(client: Client) -> None:
    spec = client.get("/api/openapi.json").json()
    assert "/api/v1/audit" in spec["paths"] and "/api/v1/me" in spec["paths"]
    assert client.get("/api/docs").status_code == 200


def test_an_error_raised_inside_a_write_still_renders_the_page_shell(client: Client) -> None:
    """A refusal inside a service's transaction rolls it back, expiring everything the session loaded, and the
    session is closed before the error page renders: the page must still know who is signed in."""
    app = create_app()

    @app.get("/refused-inside-a-write")
    def refused(session: SessionDep, user: ViewerUser) -> None:
        with transaction(session):
            raise NotFound("thing", 42)

    user = make_user("viewer")
    with Client(app, base_url="http://testserver") as other:
        response = other.get(
            "/refused-inside-a-write",
            headers={"Authorization": f"Bearer {make_token(user, 'read')}", "Accept": "text/html"},
        )
    assert response.status_code == 404
    assert user.email in response.text  # the signed-in shell, not a crash page


def test_the_sidebar_marks_the_most_specific_section(member_client: Client) -> None:
    current = re.compile(r'<a class="nav" href="([^"]+)" aria-current="page"')
    assert current.findall(member_client.get("/feedback/demand").text) == ["/feedback/demand"]
    assert current.findall(member_client.get("/feedback").text) == ["/feedback"]
    assert current.findall(member_client.get("/customers/accounts?page=1").text) == ["/customers/accounts"]
