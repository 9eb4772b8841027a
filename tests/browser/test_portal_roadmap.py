"""The portal's roadmap, changelog and account pages in a real browser: what a customer sees, deleting an account
from the page, and axe-core finding no serious or critical accessibility violation on any of them."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from prodops.domains.features import service as features
from prodops.domains.portal.models import Board, Idea, Portal, PortalUser
from prodops.domains.portal.service import changelog, identity
from prodops.domains.portal.service.changelog import ChangelogIn
from prodops.platform.audit import Actor
from prodops.platform.db import session_scope, transaction
from tests.browser.test_portal import check_accessibility
from tests.platform.test_email import mailbox  # noqa: F401  # the real SMTP server, used by name below
from tests.portal.conftest import make_idea, make_portal_user, vote_as

pytestmark = pytest.mark.browser

ACTOR = Actor.system("test")


def _story() -> tuple[str, int, str]:
    """A portal with ideas in each roadmap column, a published changelog entry, and a signed-in voter's cookie."""
    with session_scope() as s:
        with transaction(s):
            portal = Portal(slug="roadmap-acme", name="Acme Ideas", primary_color="#0f766e")
            s.add(portal)
            s.flush()
            board = Board(portal_id=portal.id, slug="product", name="Product ideas")
            s.add(board)
        s.refresh(portal)
        s.refresh(board)
        ada = make_portal_user(s, "ada@customer.example", "Ada")
        ids = {
            status: make_idea(s, portal, board, ada, title)
            for status, title in (
                ("in_progress", "Dark mode"),
                ("planned", "Export to PDF"),
                ("under_consideration", "Slack alerts"),
                ("shipped", "Calendar sync"),
            )
        }
        vote_as(s, portal, ada, ids["planned"])
        for status, idea_id in ids.items():
            feature_id = s.scalar(select(Idea.feature_id).where(Idea.id == idea_id))
            assert feature_id is not None
            features.set_status(s, ACTOR, feature_id, status)
        entry = changelog.create_entry(
            s,
            ACTOR,
            ChangelogIn(
                portal_id=portal.id,
                title="Calendar sync is here",
                body="Your events now sync **both ways**.",
                idea_ids=[ids["shipped"]],
            ),
            publish=True,
        )
        user = s.get(PortalUser, ada.id)
        assert user is not None
        return portal.slug, entry, identity.encode_session(user.id, user.session_epoch)


def test_roadmap_changelog_and_account_pages(page: Any, live_server: str, request: pytest.FixtureRequest) -> None:
    request.getfixturevalue("mailbox")  # the e-mail the status changes and the launch send goes somewhere real
    slug, entry, cookie = _story()
    home = f"{live_server}/p/{slug}"

    page.goto(f"{home}/roadmap")
    for column, idea in (("Now", "Dark mode"), ("Next", "Export to PDF"), ("Later", "Slack alerts")):
        section = page.get_by_role("region", name=column)
        assert section.get_by_role("link", name=idea).is_visible()
    assert page.get_by_text("Calendar sync").count() == 0
    check_accessibility(page, "roadmap")

    page.get_by_role("link", name="Changelog").first.click()
    page.wait_for_load_state()
    assert page.get_by_role("heading", name="Calendar sync is here").is_visible()
    assert page.locator(".changelog-body strong", has_text="both ways").is_visible()
    check_accessibility(page, "changelog")
    page.get_by_role("link", name="Calendar sync is here").click()
    page.wait_for_load_state()
    assert page.url.endswith(f"/changelog/{entry}")
    check_accessibility(page, "changelog entry")

    page.context.add_cookies([{"name": identity.COOKIE, "value": cookie, "url": f"{live_server}/p/"}])
    page.goto(f"{home}/account")
    assert page.get_by_role("heading", name="Your account", exact=True).is_visible()
    assert page.get_by_text("ada@customer.example").is_visible()
    check_accessibility(page, "account page")
    page.get_by_label("Type delete to confirm").fill("delete")
    page.get_by_role("button", name="Delete my account").click()
    page.wait_for_load_state()
    assert page.get_by_role("link", name="Sign in").is_visible()
    with session_scope() as s:
        user = s.scalar(select(PortalUser).where(PortalUser.name == "", PortalUser.deleted_at.is_not(None)))
        assert user is not None and user.email is None
