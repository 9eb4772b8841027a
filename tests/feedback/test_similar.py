"""Near-duplicates and search: a paraphrase is suggested and unrelated text is not; the suggestion actions (link,
merge, dismiss) with their access rules; the widget's public "similar ideas"; hybrid search by keyword and by
meaning, on the page and in the API."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from prodops.domains.features import service as features
from prodops.domains.features.schemas import FeatureIn, FeatureOut
from prodops.domains.feedback.models import FeedbackItem, FeedbackLink, Suggestion
from prodops.domains.feedback.schemas import LinkIn
from prodops.domains.feedback.service import analysis, similar, widget
from prodops.domains.feedback.service import items as items_service
from prodops.domains.feedback.service.widget import WidgetSiteIn
from prodops.platform.audit import AuditRecord
from prodops.platform.db import session_scope
from tests.conftest import Client, login, make_token, make_user
from tests.feedback.conftest import ACTOR, make_item

ORIGINAL = "Exporting a report to PDF loses the charts."
PARAPHRASE = "When I export a report to PDF, the charts are lost."
UNRELATED = "Pricing for the enterprise plan is unclear to our finance department."


@pytest.fixture(autouse=True)
def _fresh() -> Iterator[None]:
    similar.forget()
    widget.similar_limiter.reset()
    yield
    similar.forget()
    widget.similar_limiter.reset()


def suggestions(item_id: int) -> list[tuple[str, int, bool]]:
    with session_scope() as s:
        rows = s.execute(
            select(Suggestion.target_type, Suggestion.target_id, Suggestion.dismissed)
            .where(Suggestion.item_id == item_id)
            .order_by(Suggestion.target_type, Suggestion.target_id)
        ).all()
        return [(t, i, d) for t, i, d in rows]


def suggestion_id(item_id: int, target_type: str, target_id: int) -> int:
    with session_scope() as s:
        found = s.scalar(
            select(Suggestion.id).where(
                Suggestion.item_id == item_id, Suggestion.target_type == target_type, Suggestion.target_id == target_id
            )
        )
        assert found is not None, suggestions(item_id)
        return found


def export_feature(session: Session) -> FeatureOut:
    return features.create_feature(
        session,
        ACTOR,
        FeatureIn(title="Export reports to PDF with charts", description="Exporting a report to PDF keeps the charts."),
    )


# --- near-duplicates ------------------------------------------------------------------------------


def test_a_paraphrase_is_suggested_and_unrelated_text_is_not(session: Session) -> None:
    original = make_item(session, text=ORIGINAL)
    make_item(session, text=UNRELATED)
    archived = make_item(session, text=ORIGINAL + " Again.", status="archived")
    paraphrase = make_item(session, text=PARAPHRASE)
    found = suggestions(paraphrase.id)
    assert ("item", original.id, False) in found
    assert all(target != archived.id for _, target, _ in found)  # archived items are never suggested
    unrelated = make_item(session, text="Our finance team cannot find the invoices for last quarter.")
    assert not [s for s in suggestions(unrelated.id) if s[1] in (original.id, paraphrase.id)]
    # The earlier item learns about the later duplicate too.
    assert ("item", paraphrase.id, False) in suggestions(original.id)


def test_an_item_is_suggested_the_feature_it_asks_for(session: Session) -> None:
    feature = export_feature(session)
    item = make_item(session, text="Export reports to PDF with the charts, please.")
    assert ("feature", feature.id, False) in suggestions(item.id)
    linked = make_item(session, text="Export reports to PDF with charts please!")
    items_service.link_feature(session, ACTOR, linked.id, LinkIn(feature_id=feature.id))
    analysis.analyse(session, [linked.id])
    assert ("feature", feature.id, False) not in suggestions(linked.id)  # already linked: not suggested


def test_link_from_a_suggestion(member_client: Client, session: Session) -> None:
    feature = export_feature(session)
    item = make_item(session, text="Export reports to PDF with the charts, please.")
    sid = suggestion_id(item.id, "feature", feature.id)
    pane = member_client.get(f"/feedback/items/{item.id}/intelligence")
    assert "Probably asks for" in pane.text and f"/feedback/suggestions/{sid}/link" in pane.text
    response = member_client.form(
        f"/feedback/suggestions/{sid}/link", {"importance": "nice"}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 200 and response.headers.get("HX-Trigger") == "fb-changed"
    with session_scope() as s:
        link = s.scalar(select(FeedbackLink).where(FeedbackLink.item_id == item.id))
        assert link is not None and (link.feature_id, link.importance) == (feature.id, "nice")
        assert s.get(Suggestion, sid) is None
        assert s.get(FeedbackItem, item.id).status == "linked"  # type: ignore[union-attr]


def test_merge_archives_the_duplicate_and_makes_its_person_a_requester(member_client: Client, session: Session) -> None:
    feature = export_feature(session)
    original = make_item(session, text=ORIGINAL, person_email="first@example.com")
    items_service.link_feature(session, ACTOR, original.id, LinkIn(feature_id=feature.id, importance="critical"))
    duplicate = make_item(session, text=PARAPHRASE, person_email="second@example.com")
    sid = suggestion_id(duplicate.id, "item", original.id)
    response = member_client.form(f"/feedback/suggestions/{sid}/merge", follow_redirects=False)
    assert response.status_code == 303
    with session_scope() as s:
        merged = s.get(FeedbackItem, duplicate.id)
        assert merged is not None and merged.status == "archived" and merged.meta["duplicate_of"] == original.id
        links = {(lk.feature_id, lk.importance) for lk in merged.links}
        assert links == {(feature.id, "critical")}
        assert s.get(FeedbackItem, original.id).status == "linked"  # type: ignore[union-attr]
        assert s.scalar(select(AuditRecord.id).where(AuditRecord.action == "merge")) is not None
    with session_scope() as fresh:  # the fixture's session still reads its earlier snapshot
        requesters = items_service.requesters(fresh, feature.id)
    assert len(requesters) == 2  # the duplicate's person counts as a requester of the original's feature
    # The original no longer offers the archived duplicate.
    pane = member_client.get(f"/feedback/items/{original.id}/intelligence")
    assert f"/feedback/items/{duplicate.id}" not in pane.text


def test_merge_into_an_archived_item_is_refused(member_client: Client, session: Session) -> None:
    original = make_item(session, text=ORIGINAL)
    duplicate = make_item(session, text=PARAPHRASE)
    sid = suggestion_id(duplicate.id, "item", original.id)
    member_client.form(f"/feedback/items/{original.id}/status", {"status": "archived"})
    response = member_client.post(
        f"/api/v1/feedback/suggestions/{sid}/merge", headers={"X-CSRF-Token": member_client.csrf}
    )
    assert response.status_code == 422 and "archived" in response.text
    with session_scope() as s:
        assert s.get(FeedbackItem, duplicate.id).status == "new"  # type: ignore[union-attr]


def test_dismissed_suggestions_stay_dismissed(member_client: Client, session: Session) -> None:
    original = make_item(session, text=ORIGINAL)
    duplicate = make_item(session, text=PARAPHRASE)
    sid = suggestion_id(duplicate.id, "item", original.id)
    response = member_client.form(f"/feedback/suggestions/{sid}/dismiss", headers={"HX-Request": "true"})
    assert response.status_code == 200
    analysis.analyse(session, [duplicate.id])
    assert ("item", original.id, True) in suggestions(duplicate.id)
    pane = member_client.get(f"/feedback/items/{duplicate.id}/intelligence")
    assert f"/feedback/suggestions/{sid}/" not in pane.text


def test_suggestion_actions_need_a_member(client: Client, session: Session) -> None:
    original = make_item(session, text=ORIGINAL)
    duplicate = make_item(session, text=PARAPHRASE)
    sid = suggestion_id(duplicate.id, "item", original.id)
    assert client.post(f"/feedback/suggestions/{sid}/dismiss").status_code in (401, 303)
    viewer = login(client, make_user("viewer"))
    for action in ("link", "merge", "dismiss"):
        assert viewer.form(f"/feedback/suggestions/{sid}/{action}").status_code == 403
    pane = viewer.get(f"/feedback/items/{duplicate.id}/intelligence")
    assert pane.status_code == 200 and "Similar feedback" in pane.text and "/dismiss" not in pane.text
    read_token = make_token(make_user("member"), scope="read")
    api = client.post(f"/api/v1/feedback/suggestions/{sid}/dismiss", headers={"Authorization": f"Bearer {read_token}"})
    assert api.status_code == 403
    assert suggestions(duplicate.id) == [("item", original.id, False)]
    write_token = make_token(make_user("member"), scope="write")
    headers = {"Authorization": f"Bearer {write_token}"}
    assert client.post(f"/api/v1/feedback/suggestions/{sid}/link", headers=headers).status_code == 422
    assert client.post("/api/v1/feedback/suggestions/999999/dismiss", headers=headers).status_code == 404
    listed = client.get(f"/api/v1/feedback/{duplicate.id}/suggestions", headers=headers).json()
    assert listed["analysed"] and [s["item_id"] for s in listed["similar_items"]] == [original.id]
    assert client.post(f"/api/v1/feedback/suggestions/{sid}/dismiss", headers=headers).status_code == 204


# --- the widget's similar ideas -------------------------------------------------------------------

ORIGIN = "https://app.example.com"


def test_widget_similar_ideas_follow_the_widget_rules(client: Client, session: Session, settings: Any) -> None:
    site = widget.create_site(session, ACTOR, WidgetSiteIn(name="Acme", allowed_origins=[ORIGIN]))
    feature = export_feature(session)
    secret = make_item(session, text="INTERNAL: Export reports to PDF with charts for ACME Corp, $2M renewal at risk")
    url = f"/api/v1/feedback/widget/{site.site_key}/similar"
    answer = client.get(url, params={"q": "export reports to pdf with charts"}, headers={"Origin": ORIGIN})
    assert answer.status_code == 200, answer.text
    assert answer.headers["access-control-allow-origin"] == ORIGIN
    assert answer.json() == {"items": [{"title": feature.title, "status": feature.status_label}]}
    assert "INTERNAL" not in answer.text and str(secret.id) not in answer.text and "renewal" not in answer.text
    assert client.get(url, params={"q": "pdf"}, headers={"Origin": ORIGIN}).json() == {"items": []}  # too short
    refused = client.get(url, params={"q": "export reports to pdf"}, headers={"Origin": "https://evil.example"})
    assert refused.status_code == 403 and "access-control-allow-origin" not in refused.headers
    assert client.get(url, params={"q": "export reports to pdf"}).status_code == 403  # no Origin: not a browser
    assert client.get("/api/v1/feedback/widget/site_nope/similar", headers={"Origin": ORIGIN}).status_code == 404
    allowed, _ = widget.rate_limit()
    widget.similar_limiter.reset()
    codes = [
        client.get(url, params={"q": "export reports"}, headers={"Origin": ORIGIN}).status_code
        for _ in range(allowed + 1)
    ]
    assert codes[:allowed] == [200] * allowed and codes[-1] == 429
    limited = client.get(url, params={"q": "export reports"}, headers={"Origin": ORIGIN})
    assert limited.headers["access-control-allow-origin"] == ORIGIN and int(limited.headers["retry-after"]) > 0


def test_the_widget_loads_its_ideas_part_from_this_server(client: Client) -> None:
    widget_js = client.get("/feedback/widget.js").text
    assert '"/feedback/widget-ideas.js"' in widget_js
    ideas = client.get("/feedback/widget-ideas.js")
    assert ideas.status_code == 200 and ideas.headers["content-type"].startswith("text/javascript")
    assert (
        ideas.headers["cross-origin-resource-policy"] == "cross-origin" and "public" in ideas.headers["cache-control"]
    )
    assert '"/similar?q="' in ideas.text and 'credentials: "omit"' in ideas.text
    for forbidden in ("document.cookie", "localStorage", "sessionStorage", "http://", "https://"):
        assert forbidden not in ideas.text, forbidden
    again = client.get("/feedback/widget-ideas.js", headers={"If-None-Match": ideas.headers["etag"]})
    assert again.status_code == 304


# --- search ---------------------------------------------------------------------------------------


@pytest.fixture
def corpus(session: Session) -> dict[str, int]:
    return {
        "pdf": make_item(session, text=ORIGINAL, source="email").id,
        "crash": make_item(session, text="The app crashes every time I open the settings page.").id,
        "price": make_item(session, text=UNRELATED, source="sales_call").id,
        "tags": make_item(session, title="<b>Charts</b>", text="Charts & <script>alert(1)</script> graphs").id,
    }


def test_search_finds_by_keyword_with_escaped_highlights(viewer_client: Client, corpus: dict[str, int]) -> None:
    found = viewer_client.get("/api/v1/feedback/search", params={"q": "settings page"}).json()
    assert found["items"][0]["id"] == corpus["crash"] and found["items"][0]["keyword_rank"] == 1
    assert "<mark>settings</mark>" in found["items"][0]["highlight"]
    charts = viewer_client.get("/api/v1/feedback/search", params={"q": "charts"}).json()
    hit = next(h for h in charts["items"] if h["id"] == corpus["tags"])
    assert "&lt;script&gt;" in hit["highlight"] and "<script>" not in hit["highlight"]
    page = viewer_client.get("/feedback/search", params={"q": "charts"})
    assert page.status_code == 200 and "<mark>Charts</mark>" in page.text and "<script>alert" not in page.text


def test_search_finds_by_meaning_without_shared_words(viewer_client: Client, corpus: dict[str, int]) -> None:
    found = viewer_client.get("/api/v1/feedback/search", params={"q": "exported reporting charting"}).json()
    assert found["keyword_matches"] == 0
    assert found["items"] and found["items"][0]["id"] == corpus["pdf"]
    assert found["items"][0]["vector_rank"] == 1 and found["items"][0]["keyword_rank"] is None


def test_search_filters_and_features(viewer_client: Client, session: Session, corpus: dict[str, int]) -> None:
    by_source = viewer_client.get("/api/v1/feedback/search", params={"q": "charts", "source": "sales_call"}).json()
    assert by_source["items"] == []
    by_status = viewer_client.get("/api/v1/feedback/search", params={"q": "charts", "status": "new,triaged"}).json()
    assert {h["id"] for h in by_status["items"]} >= {corpus["pdf"], corpus["tags"]}
    feature = export_feature(session)
    found = viewer_client.get("/api/v1/feedback/search", params={"q": "pdf charts", "kind": "features"}).json()
    assert [h["id"] for h in found["items"]] == [feature.id] and found["items"][0]["url"] == f"/features/{feature.id}"
    bad = viewer_client.get("/api/v1/feedback/search", params={"q": "charts", "status": "lost"})
    assert bad.status_code == 422 and "status" in bad.text
    dates = viewer_client.get(
        "/feedback/search", params={"q": "charts", "received_from": "2026-02-01", "received_to": "2026-01-01"}
    )
    assert dates.status_code == 422 and "received_to must not be before received_from" in dates.text
    assert viewer_client.get("/api/v1/feedback/search").status_code == 422  # q is required


def test_search_needs_a_signed_in_user(client: Client) -> None:
    assert client.get("/api/v1/feedback/search", params={"q": "x"}).status_code == 401
    page = client.get("/feedback/search", follow_redirects=False)
    assert page.status_code in (303, 401)
