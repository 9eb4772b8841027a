"""A portal session can never reach a staff page or the staff API: a client signed in to a portal (its cookie
sent to every path, with a valid CSRF token of the shared form session) tries every staff route of the app, with
every method, and is refused each time. And portal pages never render staff data."""

from __future__ import annotations

import re

from sqlalchemy.orm import Session

from prodops.domains.features import service as features
from prodops.domains.features.schemas import FeatureUpdate
from prodops.domains.portal.models import Board, Comment, Idea, Portal, PortalUser
from prodops.domains.portal.service import identity
from prodops.platform.db import transaction
from prodops.platform.identity.service import actor_for
from prodops.web import route_access
from tests.conftest import Client, make_user
from tests.portal.conftest import make_idea, portal_sign_in

SAFE = {"GET", "HEAD", "OPTIONS"}


def _concrete(path: str) -> str:
    # Access checks run before a route looks anything up, so any value will do.
    return re.sub(r"\{[^}]+\}", "1", path)


def _refused(response) -> bool:  # type: ignore[no-untyped-def]
    if response.status_code in (401, 403):
        return True
    return response.status_code in (302, 303, 307) and response.headers["location"].startswith("/login")


def test_every_portal_route_is_public_and_resolves_its_own_user(app) -> None:  # type: ignore[no-untyped-def]
    portal_routes = {k: v for k, v in route_access(app).items() if k[1].startswith("/p/")}
    assert len(portal_routes) >= 20
    # Pages and forms are PUBLIC (CSRF-checked); one-click unsubscribe links answer mail clients (public-api).
    assert set(portal_routes.values()) <= {"public", "public-api"}
    assert sum(1 for level in portal_routes.values() if level == "public") >= 20


def test_a_portal_session_reaches_no_staff_route(
    app,
    portal_client: Client,
    portal: Portal,
    portal_user: PortalUser,  # type: ignore[no-untyped-def]
) -> None:
    assert "Sign out" in portal_client.get(f"/p/{portal.slug}").text  # really signed in to the portal
    assert portal_client.cookies.get(identity.COOKIE)
    staff = sorted(
        (method, path, level)
        for (method, path), level in route_access(app).items()
        if level in ("viewer", "member", "admin") and method != "HEAD"
    )
    assert len(staff) > 100
    failures = []
    for method, path, level in staff:
        url = _concrete(path)
        headers = {"X-CSRF-Token": portal_client.csrf}
        if method in SAFE:
            response = portal_client.request(method, url, headers=headers, follow_redirects=False)
        elif path.startswith("/api/"):
            response = portal_client.request(method, url, headers=headers, json={}, follow_redirects=False)
        else:
            response = portal_client.request(
                method, url, data={"csrf_token": portal_client.csrf}, follow_redirects=False
            )
        if not _refused(response):
            failures.append(f"{method} {path} ({level}) answered {response.status_code}")
        # The portal user's identity never leaks into a staff response either.
        assert portal_user.email not in response.text, f"{method} {path}"
    assert not failures, "\n".join(failures)


def test_portal_pages_never_render_staff_data(
    client: Client, session: Session, portal: Portal, board: Board, portal_user: PortalUser
) -> None:
    staff = make_user("admin", email="pm.secret@vendor.example")
    idea_id = make_idea(session, portal, board, portal_user, "Bulk export", "Export everything at once")
    idea = session.get(Idea, idea_id)
    assert idea is not None
    features.update_feature(
        session,
        actor_for(staff),
        idea.feature_id,
        FeatureUpdate(description="INTERNAL: revenue impact 2M, owner pm.secret", tags=["churn-risk-internal"]),
    )
    with transaction(session):
        session.add(
            Comment(idea_id=idea_id, staff_author_id=staff.id, body="Internal note: bump after Q3", internal=True)
        )
        session.add(Comment(idea_id=idea_id, staff_author_id=staff.id, body="We are on it", official=True))
    signed_in = portal_sign_in(client, portal, portal_user)
    pages = [
        f"/p/{portal.slug}",
        f"/p/{portal.slug}/b/{board.slug}",
        f"/p/{portal.slug}/b/{board.slug}?sort=newest",
        f"/p/{portal.slug}/i/{idea_id}",
        f"/p/{portal.slug}/b/{board.slug}/new",
        f"/p/{portal.slug}/similar?title=bulk+export+please",
    ]
    for url in pages:
        page = signed_in.get(url)
        assert page.status_code == 200, url
        for secret in ("pm.secret", "INTERNAL", "churn-risk-internal", "Internal note", 'class="sidebar"', "/logout"):
            assert secret not in page.text, (url, secret)
    idea_page = signed_in.get(f"/p/{portal.slug}/i/{idea_id}").text
    assert "We are on it" in idea_page and f"{portal.name} team" in idea_page
    assert "Export everything at once" in idea_page
