"""The public roadmap: now / next / later from the feature status kinds, board visibility, limits, statements."""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from prodops.domains.customers import service as customers
from prodops.domains.customers.schemas import AccountIn, Condition, SegmentIn
from prodops.domains.features import service as features
from prodops.domains.features.schemas import StatusIn
from prodops.domains.portal.models import Idea, Portal
from prodops.domains.portal.queries import roadmap as queries
from prodops.platform.audit import Actor
from prodops.platform.db import transaction
from prodops.platform.org.models import Product
from tests.conftest import Client, count_statements
from tests.platform.test_email import Mailbox
from tests.portal.conftest import make_board, make_idea, make_portal, make_portal_user, portal_sign_in, vote_as

ACTOR = Actor.system("test")


def _feature(session: Session, idea_id: int) -> int:
    return session.scalar(select(Idea.feature_id).where(Idea.id == idea_id))  # type: ignore[return-value]


def _set(session: Session, idea_id: int, status: str) -> None:
    features.set_status(session, ACTOR, _feature(session, idea_id), status)


def _column(html: str, key: str) -> str:
    match = re.search(rf'<section class="roadmap-column" aria-labelledby="col-{key}">(.*?)</section>', html, re.S)
    assert match, f"no {key} column"
    return match.group(1)


def test_columns_follow_the_status_kinds(client: Client, session: Session, mailbox: Mailbox) -> None:
    portal = make_portal(session, name="Acme Ideas")
    board = make_board(session, portal, name="Product", slug="product")
    ada = make_portal_user(session, "ada@customer.example")
    bob = make_portal_user(session, "bob@customer.example")
    ids = {
        key: make_idea(session, portal, board, ada, title)
        for key, title in {
            "building": "Dark mode <for night owls>",
            "planned": "Export to PDF",
            "considering": "Slack alerts",
            "fresh": "Brand new idea",
            "shipped": "Already shipped",
            "declined": "Won't do",
        }.items()
    }
    _set(session, ids["building"], "in_progress")
    _set(session, ids["planned"], "planned")
    _set(session, ids["considering"], "under_consideration")
    _set(session, ids["shipped"], "shipped")
    _set(session, ids["declined"], "declined")
    vote_as(session, portal, bob, ids["planned"])

    page = client.get(f"/p/{portal.slug}/roadmap")
    assert page.status_code == 200
    html = page.text
    assert "Now</strong> is in progress" in html  # the page says what the columns mean
    now, next_, later = _column(html, "now"), _column(html, "next"), _column(html, "later")
    assert "Dark mode &lt;for night owls&gt;" in now and "<for night owls>" not in html
    assert f'href="/p/{portal.slug}/i/{ids["building"]}"' in now
    assert "Export to PDF" in next_ and "1 vote\n" in next_  # Bob's
    assert "Slack alerts" in later
    for title in ("Brand new idea", "Already shipped", "Won&#39;t do"):
        assert title not in html
    assert "Acme Ideas" in html and "Changelog" in html


def test_product_lifecycles_decide_the_kind(client: Client, session: Session, mailbox: Mailbox) -> None:
    with transaction(session):
        product = Product(name="Mobile", key="mobile")
        session.add(product)
    features.set_statuses(
        session,
        ACTOR,
        product.id,
        [
            StatusIn(key="inbox", label="Inbox", kind="idea"),
            StatusIn(key="building", label="Building", kind="active"),
            StatusIn(key="planned", label="Next up", kind="considering"),  # same key as the default, other kind
            StatusIn(key="live", label="Live", kind="shipped"),
        ],
    )
    portal = make_portal(session)
    mobile = make_board(session, portal, name="Mobile", slug="mobile", product_id=product.id)
    web = make_board(session, portal, name="Web", slug="web")
    ada = make_portal_user(session)
    building = make_idea(session, portal, mobile, ada, "Offline mode")
    maybe = make_idea(session, portal, mobile, ada, "Widgets")
    web_planned = make_idea(session, portal, web, ada, "Dashboards")
    _set(session, building, "building")
    _set(session, maybe, "planned")
    _set(session, web_planned, "planned")

    columns = {c.key: c for c in queries.roadmap(session, [mobile.id, web.id])}
    assert [i.title for i in columns["now"].ideas] == ["Offline mode"]
    assert columns["now"].ideas[0].status_label == "Building"
    assert [i.title for i in columns["next"].ideas] == ["Dashboards"]
    assert [i.title for i in columns["later"].ideas] == ["Widgets"]
    assert columns["later"].ideas[0].status_label == "Next up"


def test_segment_boards_only_for_their_audience(client: Client, session: Session, mailbox: Mailbox) -> None:
    customers.create_account(session, ACTOR, AccountIn(name="Big", domain="big.example", arr=900_000))
    customers.create_account(session, ACTOR, AccountIn(name="Small", domain="small.example", arr=1_000))
    whales = customers.create_segment(
        session, ACTOR, SegmentIn(name="Whales", filters=[Condition(field="arr", op="gte", value=100_000)])
    )
    portal = make_portal(session)
    public = make_board(session, portal, name="Everyone", slug="everyone")
    secret = make_board(session, portal, name="Enterprise", slug="enterprise", segment_id=whales.id)
    big = make_portal_user(session, "cio@big.example")
    small = make_portal_user(session, "owner@small.example")
    open_idea = make_idea(session, portal, public, big, "Public thing")
    hidden = make_idea(session, portal, secret, big, "Audit log export")
    _set(session, open_idea, "planned")
    _set(session, hidden, "planned")

    anonymous = client.get(f"/p/{portal.slug}/roadmap").text
    assert "Public thing" in anonymous and "Audit log export" not in anonymous
    portal_sign_in(client, portal, small)
    assert "Audit log export" not in client.get(f"/p/{portal.slug}/roadmap").text
    portal_sign_in(client, portal, big)
    page = client.get(f"/p/{portal.slug}/roadmap").text
    assert "Audit log export" in page and "Public thing" in page


def test_private_portal_roadmap_needs_sign_in(client: Client, session: Session, mailbox: Mailbox) -> None:
    portal = make_portal(session, visibility="private", allowed_domains=["acme.example"])
    board = make_board(session, portal)
    insider = make_portal_user(session, "me@acme.example")
    _set(session, make_idea(session, portal, board, insider, "Secret plan"), "planned")
    page = client.get(f"/p/{portal.slug}/roadmap")
    assert "Secret plan" not in page.text
    assert 'name="email"' in page.text  # the sign-in form instead
    portal_sign_in(client, portal, insider)
    assert "Secret plan" in client.get(f"/p/{portal.slug}/roadmap").text


def test_columns_are_bounded_with_totals_and_statements_do_not_grow(
    client: Client, session: Session, mailbox: Mailbox
) -> None:
    portal: Portal = make_portal(session)
    board = make_board(session, portal)
    ada = make_portal_user(session)
    ids = [make_idea(session, portal, board, ada, f"Planned idea number {n}") for n in range(7)]
    for idea_id in ids:
        _set(session, idea_id, "planned")
    columns = {c.key: c for c in queries.roadmap(session, [board.id], limit=5)}
    assert columns["next"].total == 7 and len(columns["next"].ideas) == 5
    assert columns["now"].total == 0 and columns["now"].ideas == []

    url = f"/p/{portal.slug}/roadmap"
    client.get(url)  # warm up
    with count_statements() as few:
        assert client.get(url).status_code == 200
    for n in range(7, 20):
        _set(session, make_idea(session, portal, board, ada, f"Another idea {n}"), "in_progress")
    with count_statements() as many:
        page = client.get(url)
    assert len(many) == len(few), many
    assert "Another idea 19" in page.text
