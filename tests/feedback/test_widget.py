"""The embeddable feedback widget: widget sites (admin pages, API, audit), origin rules, the public endpoint's
per-site CORS, honeypot, rate limit and payload errors, and the items it captures."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from prodops.domains.customers import queries as customer_queries
from prodops.domains.customers import service as customers
from prodops.domains.customers.schemas import AccountIn, PersonIn
from prodops.domains.feedback.models import FeedbackItem, WidgetSite
from prodops.domains.feedback.service import widget
from prodops.domains.feedback.service.widget import WidgetSiteIn, WidgetSiteOut
from prodops.platform.audit import Actor, AuditRecord
from prodops.platform.db import session_scope
from prodops.platform.org.schemas import ProductIn
from prodops.platform.org.service import create_product
from tests.conftest import Client, login, make_token, make_user

ACTOR = Actor.system("test")
ORIGIN = "https://app.example.com"
PAGES = "/admin/feedback/widget"
API = "/api/v1/feedback/widget-sites"


@pytest.fixture(autouse=True)
def _fresh_limiter() -> Iterator[None]:
    widget.limiter.reset()
    yield
    widget.limiter.reset()


def make_site(session: Session, **fields: Any) -> WidgetSiteOut:
    fields.setdefault("name", "Acme app")
    fields.setdefault("allowed_origins", [ORIGIN])
    return widget.create_site(session, ACTOR, WidgetSiteIn.model_validate(fields))


def endpoint(site: WidgetSiteOut | str) -> str:
    return f"/api/v1/feedback/widget/{site if isinstance(site, str) else site.site_key}"


def post(client: Client, site: WidgetSiteOut | str, body: Any, origin: str | None = ORIGIN, **headers: str):  # type: ignore[no-untyped-def]
    sent = {"Origin": origin} if origin else {}
    return client.post(endpoint(site), json=body, headers={**sent, **headers})


def preflight(client: Client, site: WidgetSiteOut | str, origin: str):  # type: ignore[no-untyped-def]
    headers = {
        "Origin": origin,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type",
    }
    return client.options(endpoint(site), headers=headers)


def items() -> list[FeedbackItem]:
    with session_scope() as s:
        found = list(s.scalars(select(FeedbackItem).order_by(FeedbackItem.id)))
        for item in found:
            _ = item.tags
            s.expunge(item)
        return found


def audit_of(site_id: int) -> list[AuditRecord]:
    with session_scope() as s:
        stmt = (
            select(AuditRecord)
            .where(AuditRecord.entity_type == "widget_site", AuditRecord.entity_id == str(site_id))
            .order_by(AuditRecord.id)
        )
        return list(s.scalars(stmt))


def site_row(site_id: int) -> WidgetSite | None:
    with session_scope() as s:
        return s.get(WidgetSite, site_id)


# --- origins --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("https://app.example.com", "https://app.example.com"),
        ("  HTTPS://App.Example.COM/ ", "https://app.example.com"),
        ("https://app.example.com:443", "https://app.example.com"),
        ("http://localhost:3000", "http://localhost:3000"),
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
        ("http://[::1]:5173", "http://[::1]:5173"),
        ("https://*.example.com", "https://*.example.com"),
        ("https://bücher.example", "https://xn--bcher-kva.example"),
    ],
)
def test_origins_are_normalised_as_browsers_send_them(given: str, expected: str) -> None:
    assert widget.normalise_origin(given) == expected


@pytest.mark.parametrize(
    ("given", "complaint"),
    [
        ("app.example.com", "not an origin"),
        ("ftp://files.example.com", "only http:// and https://"),
        ("https://app.example.com/feedback", "has a path"),
        ("https://app.example.com?x=1", "has a path"),
        ("https://user@app.example.com", "user name"),
        ("https://app.example.com:99999", "port"),
        ("*", "not an origin"),
        ("https://*", "wildcard may only"),
        ("https://*.com", "wildcard needs a domain"),
        ("https://app.*.example.com", "wildcard may only"),
        ("https://*example.com", "wildcard may only"),
        ("https://exa mple.com", "not a valid host"),
        ("https://-bad-.example.com", "not a valid host"),
    ],
)
def test_bad_origins_are_refused_with_the_reason(given: str, complaint: str) -> None:
    with pytest.raises(ValueError, match=complaint):
        widget.normalise_origin(given)


def test_origin_matching_is_exact_or_a_subdomain_of_a_wildcard() -> None:
    site = WidgetSiteIn(
        name="x", allowed_origins=["https://app.example.com", "https://*.shop.example", "http://localhost:3000"]
    )
    allowed = [
        "https://app.example.com",
        "https://eu.shop.example",
        "https://a.b.shop.example",
        "http://localhost:3000",
    ]
    refused = [
        None,
        "",
        "null",
        "http://app.example.com",  # another scheme
        "https://app.example.com:8443",  # another port
        "https://example.com",
        "https://evil-app.example.com",
        "https://app.example.com.evil.test",
        "https://shop.example",  # the wildcard's own domain is not one of its subdomains
        "https://evilshop.example",
        "http://eu.shop.example",
        "http://localhost:3001",
        "https://app.example.com/path",
    ]
    assert [o for o in allowed if widget.origin_allowed(site, o)] == allowed
    assert [o for o in refused if widget.origin_allowed(site, o)] == []


# --- admin pages, API and audit -----------------------------------------------------------------


def test_admin_creates_edits_rotates_and_deletes_a_site(admin_client: Client, session: Session) -> None:
    product = create_product(session, ACTOR, ProductIn(key="web", name="Web"))
    assert admin_client.get(PAGES).status_code == 200

    created = admin_client.form(
        PAGES,
        {
            "name": "Acme app",
            "allowed_origins": "https://app.example.com\nhttp://localhost:3000/\nhttps://app.example.com",
            "product_id": str(product.id),
            "default_tags": "Widget, Beta",
            "enabled": "true",
        },
        follow_redirects=False,
    )
    assert created.status_code == 303, created.text
    site_id = int(created.headers["location"].rsplit("/", 1)[1])
    row = site_row(site_id)
    assert row is not None
    assert row.allowed_origins == ["https://app.example.com", "http://localhost:3000"]
    assert (row.product_id, row.default_tags, row.enabled, row.require_email) == (
        product.id,
        ["widget", "beta"],
        True,
        False,
    )
    key = row.site_key
    assert key.startswith("site_") and len(key) >= 24

    page = admin_client.get(f"{PAGES}/{site_id}")
    assert page.status_code == 200
    snippet = f"&lt;script src=&#34;http://testserver/feedback/widget.js&#34; data-site=&#34;{key}&#34; async&gt;&lt;/script&gt;"
    assert snippet in page.text
    listing = admin_client.get(PAGES)
    assert "Acme app" in listing.text and key in listing.text  # every site shows its snippet on the list too

    edited = admin_client.form(
        f"{PAGES}/{site_id}",
        {"name": "Acme web", "allowed_origins": "https://*.example.com", "product_id": "", "require_email": "true"},
        follow_redirects=False,
    )
    assert edited.status_code == 303, edited.text
    row = site_row(site_id)
    assert row is not None
    assert (row.name, row.allowed_origins, row.product_id, row.enabled, row.require_email, row.default_tags) == (
        "Acme web",
        ["https://*.example.com"],
        None,
        False,  # the checkbox was left unticked
        True,
        [],
    )

    assert admin_client.form(f"{PAGES}/{site_id}/rotate", follow_redirects=False).status_code == 303
    row = site_row(site_id)
    assert row is not None and row.site_key != key and row.site_key.startswith("site_")

    deleted = admin_client.form(f"{PAGES}/{site_id}/delete", follow_redirects=False)
    assert deleted.status_code == 303 and deleted.headers["location"] == PAGES
    assert site_row(site_id) is None

    records = audit_of(site_id)
    assert [r.action for r in records] == ["create", "update", "rotate_key", "delete"]
    assert all(r.actor_id == admin_client.user.id for r in records)  # type: ignore[union-attr]
    assert records[0].changes["allowed_origins"] == [None, ["https://app.example.com", "http://localhost:3000"]]
    assert records[1].changes["name"] == ["Acme app", "Acme web"]
    assert records[1].changes["enabled"] == [True, False]
    # The audit log names keys by a short prefix only.
    assert key not in str([r.changes for r in records])
    assert records[2].changes["site_key"][0] == key[:9] + "…"


def test_bad_form_input_is_refused_field_by_field_and_changes_nothing(admin_client: Client, session: Session) -> None:
    response = admin_client.form(
        PAGES,
        {
            "name": "",
            "allowed_origins": "https://ok.example.com\nhttps://app.example.com/feedback\n*",
            "product_id": "999",
        },
    )
    assert response.status_code == 422
    assert (
        'id="e-allowed_origins"' in response.text and "has a path" in response.text and "&#39;*&#39;" in response.text
    )
    assert 'id="e-name"' in response.text
    assert "https://app.example.com/feedback" in response.text  # the entered values are kept
    assert session.scalar(select(func.count()).select_from(WidgetSite)) == 0

    response = admin_client.form(
        PAGES, {"name": "Acme", "allowed_origins": "https://app.example.com", "product_id": "999"}
    )
    assert response.status_code == 422
    assert "there is no product 999" in response.text
    assert session.scalar(select(func.count()).select_from(WidgetSite)) == 0

    site = make_site(session)
    response = admin_client.form(f"{PAGES}/{site.id}", {"name": "Acme", "allowed_origins": ""})
    assert response.status_code == 422 and "add at least one origin" in response.text
    row = site_row(site.id)
    assert row is not None and row.allowed_origins == [ORIGIN]


def test_only_admins_manage_widget_sites(client: Client, session: Session) -> None:
    site = make_site(session)
    login(client, make_user("member"))
    assert client.get(PAGES).status_code == 403
    assert client.form(f"{PAGES}/{site.id}/rotate").status_code == 403
    assert client.get(API).status_code == 403
    row = site_row(site.id)
    assert row is not None and row.site_key == site.site_key


def test_admin_json_api(client: Client, session: Session) -> None:
    token = make_token(make_user("admin"))
    auth = {"Authorization": f"Bearer {token}"}
    bad = client.post(
        API, json={"name": "Acme", "allowed_origins": ["https://app.example.com/x", "https://*.com"]}, headers=auth
    )
    assert bad.status_code == 422
    problem = bad.json()["detail"][0]
    assert problem["loc"] == ["body", "allowed_origins"]
    assert "has a path" in problem["msg"] and "wildcard needs a domain" in problem["msg"]

    created = client.post(
        API, json={"name": "Acme", "allowed_origins": [ORIGIN], "default_tags": ["Beta"]}, headers=auth
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert (
        body["snippet"]
        == f'<script src="http://testserver/feedback/widget.js" data-site="{body["site_key"]}" async></script>'
    )
    assert body["default_tags"] == ["beta"] and body["enabled"] is True

    patched = client.patch(f"{API}/{body['id']}", json={"enabled": False}, headers=auth)
    assert patched.status_code == 200 and patched.json()["enabled"] is False
    assert client.patch(f"{API}/{body['id']}", json={"name": None}, headers=auth).status_code == 422
    rotated = client.post(f"{API}/{body['id']}/rotate-key", headers=auth).json()
    assert rotated["site_key"] != body["site_key"]
    listed = client.get(API, headers=auth).json()
    assert listed["total"] == 1 and listed["items"][0]["site_key"] == rotated["site_key"]
    assert client.delete(f"{API}/{body['id']}", headers=auth).status_code == 204
    assert client.get(f"{API}/{body['id']}", headers=auth).status_code == 404
    assert [r.action for r in audit_of(body["id"])] == ["create", "disable", "rotate_key", "delete"]


# --- the public endpoint: CORS --------------------------------------------------------------------


def test_preflight_and_post_from_an_allowed_origin_carry_cors_headers(client: Client, session: Session) -> None:
    site = make_site(session, allowed_origins=[ORIGIN, "https://*.example.org"])
    for origin in (ORIGIN, "https://shop.example.org"):
        response = preflight(client, site, origin)
        assert response.status_code == 204
        assert response.headers["access-control-allow-origin"] == origin
        assert response.headers["access-control-allow-methods"] == "POST"
        assert "content-type" in response.headers["access-control-allow-headers"].lower()
        assert "Origin" in response.headers["vary"]
        assert "access-control-allow-credentials" not in response.headers

    response = post(client, site, {"text": "Love the new editor"}, origin="https://shop.example.org")
    assert response.status_code == 202, response.text
    assert response.headers["access-control-allow-origin"] == "https://shop.example.org"
    assert "Origin" in response.headers["vary"]
    assert response.json()["message"] == "Thank you! Your feedback was sent."
    assert "set-cookie" not in response.headers
    assert len(items()) == 1


def test_other_origins_are_refused_without_cors_headers(client: Client, session: Session) -> None:
    site = make_site(session)
    for origin in ("https://evil.test", "https://app.example.com.evil.test", "http://app.example.com", "null"):
        response = preflight(client, site, origin)
        assert response.status_code == 403, origin
        assert "access-control-allow-origin" not in response.headers
        response = post(client, site, {"text": "spam"}, origin=origin)
        assert response.status_code == 403, origin
        assert "access-control-allow-origin" not in response.headers
        assert "may not send feedback to this site key" in response.json()["detail"]
    missing = post(client, site, {"text": "from a server"}, origin=None)
    assert missing.status_code == 403 and "no Origin header" in missing.json()["detail"]
    assert "access-control-allow-origin" not in missing.headers
    assert items() == []


def test_the_app_has_no_global_allow_all_cors(client: Client) -> None:
    response = client.get("/api/v1/feedback", headers={"Origin": "https://evil.test"})
    assert "access-control-allow-origin" not in response.headers
    response = client.options(
        "/api/v1/feedback", headers={"Origin": "https://evil.test", "Access-Control-Request-Method": "GET"}
    )
    assert "access-control-allow-origin" not in response.headers


def test_unknown_and_disabled_sites_answer_404(client: Client, session: Session) -> None:
    site = make_site(session, enabled=False)
    for key in (site.site_key, "site_does-not-exist", "anything"):
        assert post(client, key, {"text": "hello"}).status_code == 404
        response = preflight(client, key, ORIGIN)
        assert response.status_code == 404
        assert "access-control-allow-origin" not in response.headers
    assert items() == []

    widget.update_site(session, ACTOR, site.id, widget.WidgetSiteUpdate(enabled=True))
    old_key = site.site_key
    assert post(client, old_key, {"text": "hello"}).status_code == 202
    widget.rotate_key(session, ACTOR, site.id)
    assert post(client, old_key, {"text": "hello again"}).status_code == 404
    assert len(items()) == 1


# --- the public endpoint: what is accepted ----------------------------------------------------------


def test_honeypot_is_accepted_silently_and_stores_nothing(client: Client, session: Session) -> None:
    site = make_site(session)
    real = post(client, site, {"text": "A real person", "website": ""})
    bot = post(
        client,
        site,
        {"text": "Buy cheap watches", "email": "bot@cheap-watches.com", "website": "https://cheap-watches.com"},
    )
    assert bot.status_code == real.status_code == 202
    assert bot.json() == real.json()
    assert bot.headers["access-control-allow-origin"] == ORIGIN
    assert [i.text for i in items()] == ["A real person"]
    with session_scope() as s:
        assert s.scalar(select(func.count()).select_from(AuditRecord).where(AuditRecord.entity_type == "person")) == 0


def test_rate_limit_per_site_and_address(client: Client, session: Session, settings) -> None:  # type: ignore[no-untyped-def]
    assert settings.widget_rate_limit == "10/minute"
    assert widget.rate_limit() == (10, 60)
    site = make_site(session)
    other = make_site(session, name="Other")
    for n in range(10):
        assert post(client, site, {"text": f"feedback {n}"}).status_code == 202
    refused = post(client, site, {"text": "one too many"})
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert refused.headers["access-control-allow-origin"] == ORIGIN  # the widget can read and show the message
    assert "Retry-After" in refused.headers["access-control-expose-headers"]
    assert "Try again in" in refused.json()["detail"]
    # Honeypot hits count too, and another site has its own allowance.
    assert post(client, site, {"text": "bot", "website": "x"}).status_code == 429
    assert post(client, other, {"text": "elsewhere"}).status_code == 202
    assert len(items()) == 11


def test_rate_limit_setting_is_read_and_validated(settings, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    from pydantic import ValidationError

    from prodops.platform.config import Settings

    monkeypatch.setattr(settings, "widget_rate_limit", "3 / hour")
    assert widget.rate_limit() == (3, 3600)
    for bad in ("10", "0/minute", "ten/minute", "10/week"):
        with pytest.raises(ValidationError, match="widget_rate_limit"):
            Settings(widget_rate_limit=bad)


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"text": "   "}, "text", "Write your feedback first."),
        ({"text": "x" * 5001}, "text", "Keep it under 5,000 characters"),
        ({"text": "ok", "email": "not-an-address"}, "email", "Enter a valid e-mail address"),
        ({"text": "ok", "name": "n" * 201}, "name", "at most 200 characters"),
        ({"text": "ok", "page_url": "javascript:alert(1)"}, "page_url", "http:// or https://"),
        ({"text": "ok", "colour": "red"}, "colour", "is not a field the widget sends"),
        ({}, "text", "Field required"),
    ],
)
def test_bad_payloads_get_field_errors_and_store_nothing(
    client: Client, session: Session, body: dict[str, Any], field: str, message: str
) -> None:
    site = make_site(session)
    response = post(client, site, body)
    assert response.status_code == 422, response.text
    problems = {tuple(p["loc"]): p["msg"] for p in response.json()["detail"]}
    assert message in problems[("body", field)]
    assert response.headers["access-control-allow-origin"] == ORIGIN
    assert items() == []


def test_bodies_that_are_not_a_json_object_are_refused(client: Client, session: Session) -> None:
    site = make_site(session)
    headers = {"Origin": ORIGIN, "Content-Type": "application/json"}
    for raw in (b"{not json", b"[1, 2]", b"", b'"text"'):
        response = client.post(endpoint(site), content=raw, headers=headers)
        assert response.status_code == 422, raw
        assert "JSON object" in response.json()["detail"][0]["msg"]
    form = client.post(endpoint(site), data={"text": "hello"}, headers={"Origin": ORIGIN})
    assert form.status_code == 415
    assert form.headers["access-control-allow-origin"] == ORIGIN
    assert items() == []


def test_a_site_can_require_an_email_address(client: Client, session: Session) -> None:
    site = make_site(session, require_email=True)
    response = post(client, site, {"text": "Who am I?", "name": "Anon"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "email"]
    assert items() == []
    assert post(client, site, {"text": "Here I am", "email": "ada@example.com"}).status_code == 202


def test_captured_item_has_source_widget_the_site_defaults_and_the_matched_person(
    client: Client, session: Session
) -> None:
    product = create_product(session, ACTOR, ProductIn(key="web", name="Web"))
    acme = customers.create_account(session, ACTOR, AccountIn(name="Acme", domain="acme.com"))
    known = customers.create_person(session, ACTOR, PersonIn(email="ada@acme.com", name="Ada"))
    assert known.account_id == acme.id
    site = make_site(session, product_id=product.id, default_tags=["widget", "beta"])

    response = post(
        client,
        site,
        {
            "text": "  Export to PDF drops the charts  ",
            "email": "ADA@acme.com",
            "name": "Ada L.",
            "page_url": "https://app.example.com/reports/7",
        },
        **{"User-Agent": "Mozilla/5.0 (test)"},
    )
    assert response.status_code == 202, response.text
    new_person = post(client, site, {"text": "Dark mode please", "email": "grace@acme.com", "name": "Grace"})
    assert new_person.status_code == 202
    anonymous = post(client, site, {"text": "Nice app", "name": "Someone"})
    assert anonymous.status_code == 202

    first, second, third = items()
    assert first.source == second.source == third.source == "widget"
    assert first.text == "Export to PDF drops the charts"
    assert (first.person_id, first.account_id, first.product_id) == (known.id, acme.id, product.id)
    assert sorted(first.tags) == ["beta", "widget"]
    assert first.source_url == "https://app.example.com/reports/7"
    assert first.meta == {
        "site": "Acme app",
        "site_id": site.id,
        "page_url": "https://app.example.com/reports/7",
        "user_agent": "Mozilla/5.0 (test)",
    }
    assert first.status == "new"
    # A new e-mail address creates the person, who joins the account of their domain.
    with session_scope() as s:
        grace = customer_queries.person_by_email(s, "grace@acme.com")
    assert grace is not None and grace.name == "Grace" and grace.id != known.id
    assert (second.person_id, second.account_id) == (grace.id, acme.id)
    # Without an e-mail there is no person; the name stays with the item.
    assert (third.person_id, third.account_id) == (None, None)
    assert third.meta["name"] == "Someone"
    with session_scope() as s:
        actors = set(s.scalars(select(AuditRecord.actor_label).where(AuditRecord.entity_type == "feedback")))
    assert actors == {"widget: Acme app"}


# --- the script -----------------------------------------------------------------------------


def test_widget_script_is_small_public_and_cacheable(client: Client) -> None:
    response = client.get("/feedback/widget.js")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/javascript")
    assert "public" in response.headers["cache-control"] and "max-age" in response.headers["cache-control"]
    assert response.headers["cross-origin-resource-policy"] == "cross-origin"
    assert len(response.content) < 8 * 1024
    script = response.text
    assert "attachShadow" in script and 'credentials: "omit"' in script and "data-site" in script
    for forbidden in ("document.cookie", "localStorage", "sessionStorage", "http://", "https://"):
        assert forbidden not in script.replace("https://HOST", ""), forbidden
    assert "set-cookie" not in response.headers
    again = client.get("/feedback/widget.js", headers={"If-None-Match": response.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
