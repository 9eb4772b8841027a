"""Portal identity: magic links read from a real SMTP server, single sign-on JWTs, anonymous posts confirmed by
e-mail, sign-out, blocked users, and who may see private portals and segment-restricted boards."""

from __future__ import annotations

import datetime as dt
import re
import time
from typing import Any

import jwt
import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from prodops.domains.customers import service as customers
from prodops.domains.customers.schemas import AccountIn, Condition, SegmentIn
from prodops.domains.portal.models import Idea, Portal, PortalInvite, PortalToken, PortalUser
from prodops.domains.portal.service import identity
from prodops.platform.audit import Actor
from prodops.platform.db import transaction, utcnow
from tests.conftest import Client, login, make_user
from tests.platform.test_email import Mailbox
from tests.portal.conftest import csrf_of, make_board, make_portal, make_portal_user, portal_sign_in, stamp

ACTOR = Actor.system("test")
SECRET = "s" * 40


def _link(mail: Mailbox, index: int = -1) -> str:
    text = mail.received[index].part("plain")
    match = re.search(r"https?://\S+?(/p/\S+)", text)
    assert match, text
    return match.group(1)


def _start(client: Client, portal: Portal) -> None:
    client.csrf = csrf_of(client.get(f"/p/{portal.slug}/signin").text)


def test_magic_link_signs_in_once_and_only_on_post(client: Client, session: Session, mailbox: Mailbox) -> None:
    portal = make_portal(session, name="Acme Ideas")
    board = make_board(session, portal)
    _start(client, portal)
    sent = client.form(
        f"/p/{portal.slug}/signin", {"email": "Ada@Customer.example", "next": f"/p/{portal.slug}/b/{board.slug}"}
    )
    assert sent.status_code == 200 and "Check your e-mail" in sent.text
    (mail,) = mailbox.wait_for(1)
    assert mail.rcpt_tos == ["ada@customer.example"] and mail.message["Subject"] == "Sign in to Acme Ideas"
    path = _link(mailbox)
    raw = path.rsplit("/", 1)[1]
    session.rollback()
    stored = session.scalar(select(PortalToken))
    assert stored is not None and raw not in stored.token_hash and stored.token_hash == identity.token_digest(raw)
    assert stored.expires_at - utcnow() <= dt.timedelta(minutes=15)

    for _ in range(2):  # opening the link (a mail scanner does) uses nothing up
        page = client.get(path)
        assert page.status_code == 200 and "Press the button" in page.text
    signed = client.form(path, follow_redirects=False)
    assert signed.status_code == 303 and signed.headers["location"] == f"/p/{portal.slug}/b/{board.slug}"
    cookie = signed.headers["set-cookie"]
    assert cookie.startswith(f"{identity.COOKIE}=") and "HttpOnly" in cookie and "Path=/p" in cookie
    assert "samesite=lax" in cookie.lower()
    home = client.get(f"/p/{portal.slug}")
    assert "Sign out" in home.text and "ada@customer.example" in home.text
    session.rollback()
    user = session.scalar(select(PortalUser))
    assert user is not None and user.email_verified_at is not None and user.person_id is not None
    assert customers.get_person(session, user.person_id).email == "ada@customer.example"

    again = client.form(path)
    assert again.status_code == 422 and "already used" in again.text
    assert client.get(path).status_code == 400


def test_expired_or_foreign_links_do_not_sign_in(client: Client, session: Session, mailbox: Mailbox) -> None:
    portal, other = make_portal(session), make_portal(session)
    _start(client, portal)
    client.form(f"/p/{portal.slug}/signin", {"email": "ada@customer.example"})
    mailbox.wait_for(1)
    path = _link(mailbox)
    foreign = path.replace(f"/p/{portal.slug}/", f"/p/{other.slug}/")
    assert client.form(foreign).status_code == 422
    with transaction(session):
        session.execute(update(PortalToken).values(expires_at=utcnow() - dt.timedelta(seconds=1)))
    assert client.form(path).status_code == 422
    assert identity.COOKIE not in client.cookies
    assert session.scalar(select(func.count()).select_from(PortalUser)) == 0


def test_bad_addresses_get_a_field_error(client: Client, session: Session, mailbox: Mailbox) -> None:
    portal = make_portal(session)
    _start(client, portal)
    response = client.form(f"/p/{portal.slug}/signin", {"email": "not an address"})
    assert response.status_code == 422 and "valid e-mail address" in response.text
    assert 'value="not an address"' in response.text
    assert session.scalar(select(func.count()).select_from(PortalToken)) == 0


def _jwt(claims: dict[str, Any], secret: str = SECRET, **kwargs: Any) -> str:
    return jwt.encode(claims, secret, algorithm="HS256", **kwargs)


def _claims(**extra: Any) -> dict[str, Any]:
    now = int(time.time())
    return {"email": "bob@customer.example", "name": "Bob", "iat": now, "exp": now + 300, **extra}


def test_sso_handover_signs_in_and_returns(client: Client, session: Session) -> None:
    portal = make_portal(session, sso_secret=SECRET)
    board = make_board(session, portal)
    token = _jwt(_claims(return_to=f"/p/{portal.slug}/b/{board.slug}"))
    response = client.get(f"/p/{portal.slug}/sso", params={"jwt": token}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == f"/p/{portal.slug}/b/{board.slug}"
    assert "Bob" in client.get(f"/p/{portal.slug}").text
    session.rollback()
    user = session.scalar(select(PortalUser).where(PortalUser.email == "bob@customer.example"))
    assert user is not None and user.name == "Bob"
    replay = client.get(f"/p/{portal.slug}/sso", params={"jwt": token})
    assert replay.status_code == 400 and "already used" in replay.text


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: _jwt(_claims(exp=int(time.time()) - 120)), "expired"),
        (lambda: _jwt(_claims(exp=int(time.time()) + 3600)), "at most 10 minutes"),
        (lambda: _jwt({k: v for k, v in _claims().items() if k != "iat"}), "lacks the &#39;iat&#39; claim"),
        (lambda: _jwt({k: v for k, v in _claims().items() if k != "email"}), "lacks the &#39;email&#39; claim"),
        (lambda: _jwt(_claims(), secret="x" * 40), "bad signature"),
        (lambda: _jwt(_claims(email="nope")), "not a valid e-mail"),
        (lambda: jwt.encode(_claims(), None, algorithm="none"), "not valid for this portal"),
        (lambda: "garbage", "not valid for this portal"),
        (lambda: "", "carries no token"),
    ],
)
def test_sso_refuses_bad_tokens_with_a_clear_page(client: Client, session: Session, make: Any, message: str) -> None:
    portal = make_portal(session, sso_secret=SECRET)
    response = client.get(f"/p/{portal.slug}/sso", params={"jwt": make()})
    assert response.status_code == 400 and message in response.text
    assert "We could not sign you in" in response.text and identity.COOKIE not in client.cookies
    assert session.scalar(select(func.count()).select_from(PortalUser)) == 0


def test_sso_needs_a_configured_secret_and_keeps_return_to_on_the_portal(client: Client, session: Session) -> None:
    plain = make_portal(session)
    assert "not set up" in client.get(f"/p/{plain.slug}/sso", params={"jwt": _jwt(_claims())}).text
    portal = make_portal(session, sso_secret=SECRET)
    for target in ("https://evil.example/", f"/p/{portal.slug}//evil.example", "/admin", f"/p/{plain.slug}"):
        token = _jwt(_claims(return_to=target, iat=int(time.time()) - len(target)))
        response = client.get(f"/p/{portal.slug}/sso", params={"jwt": token}, follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"] == f"/p/{portal.slug}", target


def test_sign_out_and_sign_out_everywhere(client: Client, session: Session) -> None:
    portal = make_portal(session)
    user = make_portal_user(session)
    portal_sign_in(client, portal, user)
    out = client.form(f"/p/{portal.slug}/signout", follow_redirects=False)
    assert out.status_code == 303 and f'{identity.COOKIE}=""' in out.headers["set-cookie"]
    portal_sign_in(client, portal, user)
    with transaction(session):
        session.execute(update(PortalUser).values(session_epoch=PortalUser.session_epoch + 1))
    assert "Sign out" not in client.get(f"/p/{portal.slug}").text


def test_blocked_users_are_signed_out_and_cannot_sign_in(client: Client, session: Session, mailbox: Mailbox) -> None:
    portal = make_portal(session)
    board = make_board(session, portal)
    user = make_portal_user(session, email="spam@customer.example")
    portal_sign_in(client, portal, user)
    with transaction(session):
        session.execute(update(PortalUser).values(blocked_at=utcnow()))
    assert "Sign out" not in client.get(f"/p/{portal.slug}").text
    response = client.form(
        f"/p/{portal.slug}/b/{board.slug}/new",
        {"title": "Buy cheap stuff", "form_started": stamp()},
        follow_redirects=False,
    )
    assert response.status_code == 303 and "/signin" in response.headers["location"]
    _start(client, portal)
    client.form(f"/p/{portal.slug}/signin", {"email": "spam@customer.example"})
    time.sleep(0.3)
    assert mailbox.received == []  # no link for a blocked address, and the same answer as for anyone


def test_a_staff_session_is_not_a_portal_session(client: Client, session: Session) -> None:
    portal = make_portal(session)
    login(client, make_user("admin"))
    page = client.get(f"/p/{portal.slug}")
    assert "Sign out" not in page.text and f"/p/{portal.slug}/signin" in page.text


# --- private portals, segments ---------------------------------------------------------------------


def test_private_portal_shows_outsiders_only_the_sign_in_page(
    client: Client, session: Session, mailbox: Mailbox
) -> None:
    portal = make_portal(session, visibility="private", allowed_domains=["customer.example"], name="Inner Circle")
    board = make_board(session, portal, name="Secret roadmap ideas")
    idea_author = make_portal_user(session, email="insider@customer.example")
    from tests.portal.conftest import make_idea

    idea_id = make_idea(session, portal, board, idea_author, "Hidden idea title")
    for path in (f"/p/{portal.slug}", f"/p/{portal.slug}/b/{board.slug}", f"/p/{portal.slug}/i/{idea_id}"):
        page = client.get(path)
        assert page.status_code == 200 and "Sign in to Inner Circle" in page.text, path
        assert "Secret roadmap ideas" not in page.text and "Hidden idea title" not in page.text
    _start(client, portal)
    client.form(f"/p/{portal.slug}/signin", {"email": "stranger@elsewhere.example"})
    client.form(f"/p/{portal.slug}/signin", {"email": "colleague@customer.example"})
    with transaction(session):
        session.add(PortalInvite(portal_id=portal.id, email="guest@partner.example"))
    client.form(f"/p/{portal.slug}/signin", {"email": "guest@partner.example"})
    mailbox.wait_for(2)
    time.sleep(0.2)
    assert sorted(r for m in mailbox.received for r in m.rcpt_tos) == [
        "colleague@customer.example",
        "guest@partner.example",
    ]

    stranger = make_portal_user(session, email="stranger@elsewhere.example")
    portal_client = Client(client.app, base_url="http://testserver")
    portal_client.cookies.set(identity.COOKIE, identity.encode_session(stranger.id, stranger.session_epoch))
    refused = portal_client.get(f"/p/{portal.slug}/b/{board.slug}")
    assert refused.status_code == 403 and "No access" in refused.text and "Hidden idea" not in refused.text
    insider_page = portal_sign_in(client, portal, idea_author).get(f"/p/{portal.slug}/b/{board.slug}")
    assert "Hidden idea title" in insider_page.text


def _segment_with(session: Session, email: str) -> int:
    customers.create_account(session, ACTOR, AccountIn(name="Big Co", domain="big.example", plan="enterprise"))
    segment = customers.create_segment(
        session, ACTOR, SegmentIn(name="Enterprise", filters=[Condition(field="plan", op="eq", value="enterprise")])
    )
    make_portal_user(session, email=email)  # linked to Big Co by its e-mail domain
    return segment.id


def test_segment_board_is_404_for_everyone_outside_the_segment(client: Client, session: Session) -> None:
    segment_id = _segment_with(session, "cio@big.example")
    portal = make_portal(session)
    open_board = make_board(session, portal, name="Everyone")
    vip = make_board(session, portal, name="Enterprise only", segment_id=segment_id)
    from tests.portal.conftest import make_idea

    vip_member = session.scalar(select(PortalUser).where(PortalUser.email == "cio@big.example"))
    assert vip_member is not None
    idea_id = make_idea(session, portal, vip, vip_member, "SAML for everything")
    outsider = make_portal_user(session, email="small@tiny.example")

    for who in (None, outsider):
        c = Client(client.app, base_url="http://testserver")
        if who is not None:
            c.cookies.set(identity.COOKIE, identity.encode_session(who.id, who.session_epoch))
        home = c.get(f"/p/{portal.slug}")
        assert "Everyone" in home.text and "Enterprise only" not in home.text
        assert c.get(f"/p/{portal.slug}/b/{vip.slug}").status_code == 404
        assert c.get(f"/p/{portal.slug}/b/does-not-exist").status_code == 404
        assert c.get(f"/p/{portal.slug}/i/{idea_id}").status_code == 404
        similar = c.get(f"/p/{portal.slug}/similar", params={"title": "SAML everything"})
        assert "SAML" not in similar.text
    member = portal_sign_in(client, portal, vip_member)
    assert "Enterprise only" in member.get(f"/p/{portal.slug}").text
    assert member.get(f"/p/{portal.slug}/b/{vip.slug}").status_code == 200
    assert open_board.id != vip.id


def test_segment_portal_admits_only_members(client: Client, session: Session) -> None:
    segment_id = _segment_with(session, "cto@big.example")
    portal = make_portal(session, visibility="segment", segment_id=segment_id)
    make_board(session, portal, name="Members board")
    member = session.scalar(select(PortalUser).where(PortalUser.email == "cto@big.example"))
    assert member is not None
    assert "Members board" not in client.get(f"/p/{portal.slug}").text
    assert "Members board" in portal_sign_in(client, portal, member).get(f"/p/{portal.slug}").text


# --- anonymous posting -----------------------------------------------------------------------------


def test_anonymous_idea_waits_for_the_email_confirmation(client: Client, session: Session, mailbox: Mailbox) -> None:
    portal = make_portal(session, allow_anonymous=True, name="Open Ideas")
    board = make_board(session, portal)
    url = f"/p/{portal.slug}/b/{board.slug}/new"
    form = client.get(url)
    assert form.status_code == 200 and 'name="email"' in form.text
    client.csrf = csrf_of(form.text)
    bad = client.form(url, {"title": "Offline mode", "email": "nope", "form_started": stamp()})
    assert bad.status_code == 422 and "valid e-mail" in bad.text
    sent = client.form(
        url, {"title": "Offline mode", "body": "For trains", "email": "anon@customer.example", "form_started": stamp()}
    )
    assert sent.status_code == 200 and "One more step" in sent.text
    (mail,) = mailbox.wait_for(1)
    assert mail.message["Subject"] == "Confirm your idea on Open Ideas" and "Offline mode" in mail.part("plain")
    assert session.scalar(select(func.count()).select_from(Idea)) == 0
    path = _link(mailbox)
    assert "Offline mode" in client.get(path).text
    published = client.form(path, follow_redirects=False)
    assert published.status_code == 303
    session.rollback()
    idea = session.scalar(select(Idea))
    assert idea is not None and idea.title == "Offline mode" and idea.body == "For trains"
    assert published.headers["location"] == f"/p/{portal.slug}/i/{idea.id}"
    author = session.get(PortalUser, idea.author_id)
    assert author is not None and author.email == "anon@customer.example" and author.email_verified_at is not None
    assert client.form(path).status_code == 422  # once only
    assert session.scalar(select(func.count()).select_from(Idea)) == 1


def test_anonymous_comment_and_closed_portals(client: Client, session: Session, mailbox: Mailbox) -> None:
    portal = make_portal(session, allow_anonymous=True)
    board = make_board(session, portal)
    from tests.portal.conftest import make_idea

    idea_id = make_idea(session, portal, board, make_portal_user(session), "Calendar sync")
    client.csrf = csrf_of(client.get(f"/p/{portal.slug}/i/{idea_id}").text)
    sent = client.form(
        f"/p/{portal.slug}/i/{idea_id}/comments",
        {"body": "Yes please", "email": "anon2@customer.example", "form_started": stamp()},
    )
    assert sent.status_code == 200 and "One more step" in sent.text
    mailbox.wait_for(1)
    client.form(_link(mailbox))
    assert "Yes please" in client.get(f"/p/{portal.slug}/i/{idea_id}").text

    closed = make_portal(session)
    closed_board = make_board(session, closed)
    c = Client(client.app, base_url="http://testserver")
    c.csrf = csrf_of(c.get(f"/p/{closed.slug}").text)
    response = c.form(
        f"/p/{closed.slug}/b/{closed_board.slug}/new",
        {"title": "Sneaky", "email": "x@y.example", "form_started": stamp()},
        follow_redirects=False,
    )
    assert response.status_code == 303 and "/signin" in response.headers["location"]
