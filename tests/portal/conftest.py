"""Portal test helpers: a portal, a board, a portal user and a client signed in to the portal (real database,
real cookie; the portal cookie is set for every path, so a test proves staff routes ignore it)."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy.orm import Session

from prodops.domains.portal.models import Board, Portal, PortalUser
from prodops.domains.portal.service import abuse, identity
from prodops.platform.db import transaction
from tests.conftest import Client
from tests.platform.test_email import mailbox  # noqa: F401  # the real SMTP server fixture, for every portal test

CSRF_META = re.compile(r'name="csrf-token" content="([^"]+)"')


def make_portal(session: Session, **fields: Any) -> Portal:
    fields.setdefault("slug", f"acme-{os.urandom(3).hex()}")
    fields.setdefault("name", "Acme Ideas")
    with transaction(session):
        portal = Portal(**fields)
        session.add(portal)
    session.refresh(portal)
    return portal


def make_board(session: Session, portal: Portal, **fields: Any) -> Board:
    fields.setdefault("slug", f"board-{os.urandom(3).hex()}")
    fields.setdefault("name", "Product ideas")
    with transaction(session):
        board = Board(portal_id=portal.id, **fields)
        session.add(board)
    session.refresh(board)
    return board


def make_portal_user(session: Session, email: str | None = None, name: str = "Ada Customer") -> PortalUser:
    email = email or f"ada-{os.urandom(3).hex()}@customer.example"
    with transaction(session):
        user = identity.ensure_user(session, email, name)
    session.refresh(user)
    return user


def csrf_of(html: str) -> str:
    match = CSRF_META.search(html)
    assert match, "no CSRF meta tag on the page"
    return match.group(1)


def portal_sign_in(client: Client, portal: Portal, user: PortalUser) -> Client:
    """Sign ``client`` in to portals as ``user`` (cookie for every path) and pick up its CSRF token."""
    client.cookies.set(identity.COOKIE, identity.encode_session(user.id, user.session_epoch))
    page = client.get(f"/p/{portal.slug}")
    assert page.status_code == 200, page.text
    client.csrf = csrf_of(page.text)
    return client


def stamp(seconds_ago: float = 10) -> str:
    """A form-started stamp old enough to pass the minimum fill time."""
    return abuse.form_stamp(time.time() - seconds_ago)


@pytest.fixture(autouse=True)
def _reset_portal_limits() -> Iterator[None]:
    yield
    abuse.limiter.reset()


@pytest.fixture
def portal(session: Session) -> Portal:
    return make_portal(session)


@pytest.fixture
def board(session: Session, portal: Portal) -> Board:
    return make_board(session, portal)


@pytest.fixture
def portal_user(session: Session) -> PortalUser:
    return make_portal_user(session)


@pytest.fixture
def portal_client(client: Client, portal: Portal, board: Board, portal_user: PortalUser) -> Client:
    """A client signed in to ``portal`` as ``portal_user`` (``client.csrf`` holds the form token)."""
    return portal_sign_in(client, portal, portal_user)


@pytest.fixture
def anon_portal_client(client: Client, portal: Portal, board: Board) -> Client:
    """A client that is not signed in but has its CSRF token for ``portal``'s forms."""
    page = client.get(f"/p/{portal.slug}")
    assert page.status_code == 200, page.text
    client.csrf = csrf_of(page.text)
    return client


# --- ideas, votes and follows through the real services (roadmap, changelog, notifications, privacy tests) ----


def make_idea(session: Session, portal: Portal, board: Board, user: PortalUser, title: str, body: str = "") -> int:
    """An idea submitted by ``user`` (its author follows it); returns its id."""
    from prodops.domains.portal.service import access, ideas

    ctx = access.context_for(session, portal, session.get(PortalUser, user.id))
    return ideas.submit_idea(session, ctx, ideas.IdeaDraft(board_id=board.id, title=title, body=body)).id


def vote_as(session: Session, portal: Portal, user: PortalUser, idea_id: int) -> None:
    from prodops.domains.portal.service import access, ideas

    ideas.vote(session, access.context_for(session, portal, session.get(PortalUser, user.id)), idea_id)


def follow_as(session: Session, portal: Portal, user: PortalUser, idea_id: int) -> None:
    from prodops.domains.portal.service import access, ideas

    ideas.follow(session, access.context_for(session, portal, session.get(PortalUser, user.id)), idea_id)
