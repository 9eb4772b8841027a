"""The capture page (every way feedback gets in, and a form to add it by hand), the import wizard, and the inbox's
capture buttons: viewers read, members capture."""

from __future__ import annotations

import csv
import io
import re

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from prodops.domains.feedback.models import FeedbackItem
from prodops.platform import org
from prodops.platform.org.schemas import ProductIn
from tests.conftest import Client
from tests.feedback.conftest import ACTOR

PAGE = "/feedback/capture"


def _count(session: Session) -> int:
    session.rollback()
    return session.scalar(select(func.count()).select_from(FeedbackItem)) or 0


def _csv(rows: list[list[str]]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    return buffer.getvalue().encode()


def test_viewer_reads_every_way_in_without_the_actions(viewer_client: Client) -> None:
    page = viewer_client.get(PAGE)
    assert page.status_code == 200
    html = page.text
    for snippet in (
        "http://127.0.0.1:8000/api/v1/feedback \\",  # the curl example, with this instance's address
        "Authorization: Bearer $TOKEN",
        "/api/v1/feedback/bulk",
        'href="/api/docs#/feedback"',
        "prodops feedback import feedback.csv --dry-run",
        "/api/v1/feedback/import",
        "/api/v1/feedback/export.csv",
        "/api/v1/feedback/email",
        "Content-Type: message/rfc822",
        "PRODOPS_IMAP_HOST",
        "/api/v1/feedback/webhooks/zendesk",
        "/api/v1/feedback/webhooks/intercom",
        "PRODOPS_ZENDESK_WEBHOOK_SECRET",
    ):
        assert snippet in html, snippet
    assert 'action="/feedback/capture"' not in html  # no form
    assert 'href="/feedback/import"' not in html  # no import button or link
    assert 'href="/admin/feedback/widget"' not in html  # only admins set up the widget
    assert 'data-copy="snip-api-one"' in html
    assert '<a class="nav" href="/feedback/capture"' in html  # in the navigation


def test_member_sees_the_form_and_the_import(member_client: Client) -> None:
    html = member_client.get(PAGE).text
    assert 'action="/feedback/capture"' in html and 'href="/feedback/import"' in html
    assert 'href="/admin/feedback/widget"' not in html


def test_admin_gets_the_widget_link(admin_client: Client) -> None:
    assert 'href="/admin/feedback/widget"' in admin_client.get(PAGE).text


def test_add_by_hand(member_client: Client, session: Session) -> None:
    product = org.service.create_product(session, ACTOR, ProductIn(key="web", name="Web app"))
    added = member_client.form(
        PAGE,
        {
            "text": "On the call: they need SAML before they can roll out.",
            "title": "SAML blocker",
            "source": "sales_call",
            "person_email": "cto@bigco.com",
            "product_id": str(product.id),
            "tags": "sso, security",
            "importance": "critical",
            "received_at": "2024-03-05T14:22",
        },
        follow_redirects=False,
    )
    assert added.status_code == 303, added.text
    item_id = int(added.headers["location"].rsplit("/", 1)[1])
    item = member_client.get(f"/api/v1/feedback/{item_id}").json()
    assert item["source"] == "sales_call" and item["tags"] == ["security", "sso"] and item["importance"] == "critical"
    assert item["person_email"] == "cto@bigco.com" and item["product_id"] == product.id
    assert item["received_at"].startswith("2024-03-05T14:22")
    assert "Feedback added from sales call" in member_client.get(added.headers["location"]).text


def test_add_by_hand_shows_errors_next_to_the_fields_and_keeps_the_values(
    member_client: Client, session: Session
) -> None:
    refused = member_client.form(
        PAGE, {"text": "Keep this text <b>please</b>", "person_email": "not-an-email", "source": "sales_call"}
    )
    assert refused.status_code == 422
    assert re.search(r'id="e-person_email">[^<]*email', refused.text)
    assert "Keep this text &lt;b&gt;please&lt;/b&gt;" in refused.text  # kept, and escaped
    empty = member_client.form(PAGE, {"text": "  ", "source": "interview"})
    assert empty.status_code == 422 and 'id="e-text"' in empty.text
    domain = member_client.form(PAGE, {"text": "Hello", "account_domain": "nowhere.org"})
    assert domain.status_code == 422 and re.search(r'id="e-account_domain">no account has the domain', domain.text)
    assert _count(session) == 0


def test_viewer_cannot_add(viewer_client: Client, session: Session) -> None:
    assert viewer_client.form(PAGE, {"text": "Sneaky"}).status_code == 403
    assert viewer_client.get("/feedback/import").status_code == 403
    assert _count(session) == 0


def test_anonymous_is_sent_to_sign_in(client: Client) -> None:
    response = client.get(PAGE, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/login")


def test_inbox_buttons_for_members_only(member_client: Client) -> None:
    member_html = member_client.get("/feedback").text
    assert 'href="/feedback/capture#add"' in member_html and 'href="/feedback/import"' in member_html


def test_inbox_buttons_hidden_from_viewers(viewer_client: Client) -> None:
    html = viewer_client.get("/feedback").text
    assert 'href="/feedback/capture#add"' not in html and 'href="/feedback/import"' not in html


def test_inbox_exports_what_it_shows(viewer_client: Client, session: Session) -> None:
    from tests.feedback.conftest import make_item

    make_item(session, text="Shown", source="email")
    make_item(session, text="Filtered out", source="survey")
    html = viewer_client.get("/feedback", params={"source": "email"}).text
    link = re.search(r'href="(/api/v1/feedback/export\.csv[^"]*)"', html)
    assert link is not None
    exported = viewer_client.get(link.group(1).replace("&amp;", "&"))
    assert [r["text"] for r in csv.DictReader(io.StringIO(exported.content.decode("utf-8-sig")))] == ["Shown"]


def test_import_wizard_upload_match_check_commit(member_client: Client, session: Session) -> None:
    start = member_client.get("/feedback/import")
    assert (
        start.status_code == 200
        and "Import feedback" in start.text
        and 'href="/feedback/import/sample.csv"' in start.text
    )
    data = _csv([["Comment", "Channel", "Stars"], ["Great", "App review", "5"], ["Slow sync", "survey", "2"]])
    upload = member_client.post(
        "/feedback/import", data={"csrf_token": member_client.csrf}, files={"file": ("reviews.csv", data, "text/csv")}
    )
    assert upload.status_code == 200
    upload_id = re.search(r'name="upload_id" value="([0-9a-f]{32})"', upload.text)
    assert upload_id is not None
    # The recognised columns come pre-selected; the extra column is kept in meta.
    assert re.search(r'name="map\.text".*?<option value="Comment" selected', upload.text, re.S)
    assert re.search(r'name="map\.meta\.Stars".*?<option value="Stars" selected', upload.text, re.S)
    form = {"csrf_token": member_client.csrf, "upload_id": upload_id.group(1), "map.text": "Comment"}
    form |= {"map.source": "Channel", "map.meta.Stars": "Stars"}
    check = member_client.post("/feedback/import/check", data=form)
    assert check.status_code == 200 and "Dry run: all 2 rows are valid and would give 2 created" in check.text
    assert _count(session) == 0
    commit = member_client.post("/feedback/import/check", data={**form, "commit": "1"})
    assert commit.status_code == 200 and "Imported 2 rows: 2 created" in commit.text
    session.rollback()
    assert sorted((i.source, i.meta["Stars"]) for i in session.scalars(select(FeedbackItem))) == [
        ("app_review", "5"),
        ("survey", "2"),
    ]
    again = member_client.post("/feedback/import/check", data={**form, "commit": "1"})
    assert again.status_code == 404  # the upload is gone after a commit: no double import


def test_import_wizard_reports_bad_rows(member_client: Client, session: Session) -> None:
    data = _csv([["text", "received_at"], ["ok", "2024-01-01"], ["", "2024-01-02"], ["bad date", "01/02/2024"]])
    upload = member_client.post(
        "/feedback/import", data={"csrf_token": member_client.csrf}, files={"file": ("f.csv", data, "text/csv")}
    )
    upload_id = re.search(r'name="upload_id" value="([0-9a-f]{32})"', upload.text)
    assert upload_id is not None
    form = {"csrf_token": member_client.csrf, "upload_id": upload_id.group(1)}
    form |= {"map.text": "text", "map.received_at": "received_at", "commit": "1"}
    report = member_client.post("/feedback/import/check", data=form)
    assert report.status_code == 422 and "Nothing was imported: 2 problems in 2 of 3 rows" in report.text
    assert "ambiguous" in report.text
    assert _count(session) == 0
    bad_file = member_client.post(
        "/feedback/import", data={"csrf_token": member_client.csrf}, files={"file": ("f.xls", b"\xd0\xcf\x11\xe0", "x")}
    )
    assert bad_file.status_code == 400 and "Old Excel files" in bad_file.text
