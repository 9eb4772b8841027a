"""Admin: portals, boards, invites and the single-sign-on secret through the pages and the JSON API (real
database, real HTTP through the app, real JWT verification by the portal's sign-in)."""

from __future__ import annotations

import re

import jwt
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from prodops.domains.customers import service as customers
from prodops.domains.customers.schemas import Condition, SegmentIn
from prodops.domains.portal.models import Board, Idea, Portal, PortalInvite
from prodops.domains.portal.service import identity
from prodops.platform.audit import Actor, AuditRecord
from prodops.platform.org import service as org
from prodops.platform.org.schemas import ProductIn
from tests.conftest import Client, make_token, make_user
from tests.portal.conftest import make_board, make_portal

ACTOR = Actor.system("test")


def _reload(session: Session, obj: object) -> None:
    """Read ``obj`` again after a request committed (end the test's own read snapshot first)."""
    session.rollback()
    session.refresh(obj)


def _count(session: Session, model: type) -> int:
    session.rollback()
    return session.scalar(select(func.count()).select_from(model)) or 0


def _audit(session: Session, entity_type: str) -> list[str]:
    session.rollback()
    stmt = select(AuditRecord.action).where(AuditRecord.entity_type == entity_type).order_by(AuditRecord.id)
    return list(session.scalars(stmt))


def test_admin_creates_a_portal_from_the_page(admin_client: Client, session: Session) -> None:
    page = admin_client.get("/admin/portals")
    assert page.status_code == 200
    assert "No portals yet" in page.text
    assert 'href="/admin/portals"' in page.text  # the Administration nav entry
    form = {
        "name": "Acme Ideas",
        "slug": "acme",
        "intro": "Tell us **what** to build",
        "logo_url": "https://cdn.example/logo.png",
        "primary_color": "#112233",
        "background_color": "#FFFFFF",
        "visibility": "private",
        "allowed_domains": "acme.com, @Acme.co.uk",
        "enabled": "on",
    }
    response = admin_client.form("/admin/portals/new", form, follow_redirects=False)
    assert response.status_code == 303, response.text
    session.rollback()
    portal = session.scalar(select(Portal))
    assert portal is not None
    assert (portal.slug, portal.name, portal.visibility, portal.primary_color, portal.background_color) == (
        "acme",
        "Acme Ideas",
        "private",
        "#112233",
        "#ffffff",
    )
    assert portal.allowed_domains == ["acme.com", "acme.co.uk"]
    assert portal.enabled and not portal.allow_anonymous
    assert _audit(session, "portal") == ["create"]
    detail = admin_client.get(response.headers["location"])
    assert detail.status_code == 200
    assert "Acme Ideas" in detail.text and "Generate a secret" in detail.text
    assert "/p/acme" in admin_client.get("/admin/portals").text


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("slug", "Not A Slug!", "lower-case letters"),
        ("slug", "admin", "reserved"),
        ("primary_color", "red", "#4f46e5"),
        ("logo_url", "javascript:alert(1)", "https://"),
        ("logo_url", "http://insecure.example/logo.png", "https://"),
        ("allowed_domains", "not a domain", "web domain"),
        ("name", "", "at least 1"),
    ],
)
def test_bad_portal_input_is_refused_field_by_field(
    admin_client: Client, session: Session, field: str, value: str, message: str
) -> None:
    form = {"name": "Acme", "slug": "acme", "primary_color": "#4f46e5", "background_color": "#ffffff"}
    form["visibility"] = "public"
    form[field] = value
    response = admin_client.form("/admin/portals/new", form)
    assert response.status_code == 422
    assert f'id="e-{field}"' in response.text
    assert message in response.text
    assert _count(session, Portal) == 0


def test_segment_portal_needs_a_segment_and_slugs_are_unique(admin_client: Client, session: Session) -> None:
    make_portal(session, slug="taken")
    base = {"name": "X", "primary_color": "#4f46e5", "background_color": "#ffffff"}
    response = admin_client.form("/admin/portals/new", {**base, "slug": "fresh", "visibility": "segment"})
    assert response.status_code == 422
    assert "a segment portal needs the segment" in response.text
    response = admin_client.form("/admin/portals/new", {**base, "slug": "taken", "visibility": "public"})
    assert response.status_code == 422
    assert "already lives at /p/taken" in response.text
    assert _count(session, Portal) == 1


def test_editing_a_portal_keeps_the_typed_values_after_an_error(admin_client: Client, session: Session) -> None:
    portal = make_portal(session, slug="acme")
    form = {
        "name": "Renamed",
        "slug": "acme",
        "primary_color": "#zzzzzz",
        "background_color": "#ffffff",
        "visibility": "public",
    }
    response = admin_client.form(f"/admin/portals/{portal.id}", form)
    assert response.status_code == 422
    assert 'value="Renamed"' in response.text
    _reload(session, portal)
    assert portal.name == "Acme Ideas"
    form["primary_color"] = "#000000"
    assert admin_client.form(f"/admin/portals/{portal.id}", form, follow_redirects=False).status_code == 303
    _reload(session, portal)
    assert (portal.name, portal.primary_color, portal.enabled) == ("Renamed", "#000000", False)
    record = session.scalar(select(AuditRecord).where(AuditRecord.action == "update"))
    assert record is not None
    assert record.changes["name"] == ["Acme Ideas", "Renamed"]


def test_members_and_viewers_cannot_configure_portals(member_client: Client, session: Session) -> None:
    portal = make_portal(session)
    assert member_client.get("/admin/portals").status_code == 403
    assert member_client.get(f"/admin/portals/{portal.id}").status_code == 403
    response = member_client.form(f"/admin/portals/{portal.id}/sso")
    assert response.status_code == 403
    _reload(session, portal)
    assert portal.sso_secret is None
    assert 'href="/admin/portals"' not in member_client.get("/").text


def test_sso_secret_generate_show_rotate_and_the_example_token_signs_in(admin_client: Client, session: Session) -> None:
    portal = make_portal(session, slug="acme")
    assert admin_client.form(f"/admin/portals/{portal.id}/sso", follow_redirects=False).status_code == 303
    _reload(session, portal)
    first = portal.sso_secret
    assert first and len(first) >= 40
    page = admin_client.get(f"/admin/portals/{portal.id}")
    assert first in page.text
    assert "http://testserver/p/acme/sso" in page.text
    token = re.search(r'<textarea id="sso-token" rows="4" readonly>([^<]+)</textarea>', page.text)
    assert token is not None
    claims = jwt.decode(token.group(1), first, algorithms=["HS256"])
    assert claims["email"] == "ada@customer.example"
    assert claims["exp"] - claims["iat"] == 600
    # The example is a real token the portal accepts.
    signed_in = identity.sso_sign_in(session, portal, token.group(1))
    assert signed_in.user_id

    admin_client.form(f"/admin/portals/{portal.id}/sso")
    _reload(session, portal)
    assert portal.sso_secret and portal.sso_secret != first
    actions = _audit(session, "portal")
    assert actions == ["enable_sso", "rotate_sso"]
    # The audit log says the secret changed, never what it is.
    for record in session.scalars(select(AuditRecord)):
        assert first not in str(record.changes)
    admin_client.form(f"/admin/portals/{portal.id}/sso/remove")
    _reload(session, portal)
    assert portal.sso_secret is None
    assert "Generate a secret" in admin_client.get(f"/admin/portals/{portal.id}").text


def test_invites(admin_client: Client, session: Session) -> None:
    portal = make_portal(session, visibility="private")
    admin_client.form(f"/admin/portals/{portal.id}/invites", {"email": "Bob@Partner.example"})
    admin_client.form(f"/admin/portals/{portal.id}/invites", {"email": "bob@partner.example"})
    admin_client.form(f"/admin/portals/{portal.id}/invites", {"email": "not-an-email"})
    session.rollback()
    invites = list(session.scalars(select(PortalInvite)))
    assert [i.email for i in invites] == ["bob@partner.example"]
    assert "bob@partner.example" in admin_client.get(f"/admin/portals/{portal.id}").text
    admin_client.form(f"/admin/portals/{portal.id}/invites/{invites[0].id}/delete")
    assert _count(session, PortalInvite) == 0
    assert _audit(session, "portal") == ["invite", "uninvite"]


def test_boards_crud(admin_client: Client, session: Session) -> None:
    portal = make_portal(session)
    product = org.create_product(session, ACTOR, ProductIn(key="core", name="Core")).id
    segment = customers.create_segment(
        session,
        ACTOR,
        SegmentIn(name="Enterprise", entity="accounts", filters=[Condition(field="plan", op="eq", value="Enterprise")]),
    ).id
    form = {
        "name": "Integrations",
        "slug": "integrations",
        "product_id": str(product),
        "segment_id": str(segment),
        "require_approval": "on",
        "position": "2",
    }
    response = admin_client.form(f"/admin/portals/{portal.id}/boards/new", form, follow_redirects=False)
    assert response.status_code == 303, response.text
    session.rollback()
    board = session.scalar(select(Board))
    assert board is not None
    assert (board.slug, board.product_id, board.segment_id, board.require_approval, board.position) == (
        "integrations",
        product,
        segment,
        True,
        2,
    )
    page = admin_client.get(f"/admin/portals/{portal.id}")
    assert "Integrations" in page.text and "Enterprise" in page.text and "Approval first" in page.text

    # Same slug twice on one portal, an unknown product: refused, nothing written.
    response = admin_client.form(f"/admin/portals/{portal.id}/boards/new", {**form, "product_id": "999999"})
    assert response.status_code == 422
    assert "there is no product 999999" in response.text
    assert "already has a board called integrations" in response.text
    assert _count(session, Board) == 1

    edit = {**form, "name": "Integrations & API", "archived": "on", "require_approval": ""}
    assert admin_client.form(f"/admin/portals/boards/{board.id}", edit, follow_redirects=False).status_code == 303
    _reload(session, board)
    assert (board.name, board.archived, board.require_approval) == ("Integrations & API", True, False)
    # Escaped on the page.
    assert "Integrations &amp; API" in admin_client.get(f"/admin/portals/{portal.id}").text

    admin_client.form(f"/admin/portals/boards/{board.id}/delete")
    assert _count(session, Board) == 0
    assert _audit(session, "portal_board") == ["create", "update", "delete"]


def test_a_board_or_portal_with_ideas_cannot_be_deleted(admin_client: Client, session: Session) -> None:
    from prodops.domains.features import service as features
    from prodops.domains.features.schemas import FeatureIn
    from prodops.platform.db import transaction

    portal = make_portal(session)
    board = make_board(session, portal)
    feature = features.create_feature(session, ACTOR, FeatureIn(title="Dark mode")).id
    with transaction(session):
        session.add(Idea(board_id=board.id, feature_id=feature, title="Dark mode"))
    admin_client.form(f"/admin/portals/boards/{board.id}/delete")
    admin_client.form(f"/admin/portals/{portal.id}/delete")
    assert _count(session, Board) == 1
    assert _count(session, Portal) == 1


def test_the_api(client: Client, session: Session) -> None:
    admin = make_user("admin")
    headers = {"Authorization": f"Bearer {make_token(admin)}"}
    response = client.post(
        "/api/v1/portal/portals", json={"slug": "acme", "name": "Acme", "visibility": "public"}, headers=headers
    )
    assert response.status_code == 201, response.text
    portal = response.json()
    assert portal["slug"] == "acme" and portal["sso_enabled"] is False
    bad = client.post(
        "/api/v1/portal/portals", json={"slug": "x y", "name": "", "primary_color": "blue"}, headers=headers
    )
    assert bad.status_code == 422
    assert {e["loc"][-1] for e in bad.json()["detail"]} == {"slug", "name", "primary_color"}

    response = client.patch(f"/api/v1/portal/portals/{portal['id']}", json={"allow_anonymous": True}, headers=headers)
    assert response.status_code == 200 and response.json()["allow_anonymous"] is True
    assert client.get(f"/api/v1/portal/portals/{portal['id']}/sso", headers=headers).status_code == 404
    sso = client.post(f"/api/v1/portal/portals/{portal['id']}/sso", headers=headers).json()
    assert sso["sso_url"] == "http://testserver/p/acme/sso"
    assert jwt.decode(sso["example_token"], sso["secret"], algorithms=["HS256"])["email"]

    board = client.post(
        f"/api/v1/portal/portals/{portal['id']}/boards", json={"slug": "core", "name": "Core"}, headers=headers
    )
    assert board.status_code == 201, board.text
    listed = client.get(f"/api/v1/portal/portals/{portal['id']}/boards", headers=headers).json()
    assert [b["slug"] for b in listed["items"]] == ["core"]
    archived = client.patch(f"/api/v1/portal/boards/{board.json()['id']}", json={"archived": True}, headers=headers)
    assert archived.json()["archived"] is True
    invite = client.post(
        f"/api/v1/portal/portals/{portal['id']}/invites", json={"email": "x@y.example"}, headers=headers
    )
    assert invite.status_code == 201
    assert client.get("/api/v1/portal/portals", headers=headers).json()["total"] == 1

    member = {"Authorization": f"Bearer {make_token(make_user('member'))}"}
    assert client.get("/api/v1/portal/portals", headers=member).status_code == 403
    assert client.post("/api/v1/portal/portals", json={"slug": "b", "name": "B"}, headers=member).status_code == 403
    assert client.get(f"/api/v1/portal/portals/{portal['id']}/sso", headers=member).status_code == 403

    assert client.delete(f"/api/v1/portal/boards/{board.json()['id']}", headers=headers).status_code == 204
    assert client.delete(f"/api/v1/portal/portals/{portal['id']}", headers=headers).status_code == 204
    assert _count(session, Portal) == 0
