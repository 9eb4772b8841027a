"""One-click unsubscribe: signed tokens, the confirmation page, the RFC 8058 POST, and the headers on e-mails."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from prodops.platform.audit import AuditRecord
from prodops.platform.db import session_scope
from prodops.platform.notify import email, optout
from prodops.platform.notify.models import EmailOptOut
from tests.conftest import Client, login, make_user

TOPIC = optout.declare_topic("test_news", "test news")


def _opt_outs() -> list[tuple[str, str]]:
    with session_scope() as s:
        return sorted((e, t) for e, t in s.execute(select(EmailOptOut.email, EmailOptOut.topic)))


def test_tokens_name_one_address_and_topic_and_cannot_be_forged() -> None:
    token = optout.make_token("Ada@Example.com ", TOPIC)
    assert optout.read_token(token) == ("ada@example.com", TOPIC)
    other = optout.make_token("bob@example.com", TOPIC)
    assert token != other
    tampered = token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]
    assert optout.read_token(tampered) is None
    assert optout.read_token("not-a-token") is None
    # A token signed for another purpose (same secret, another salt) is not an unsubscribe token.
    from itsdangerous import URLSafeSerializer

    from prodops.platform.config import get_settings

    foreign = URLSafeSerializer(get_settings().secret_key, salt="prodops.something-else").dumps(
        {"e": "a@b.c", "t": TOPIC}
    )
    assert optout.read_token(foreign) is None
    assert optout.unsubscribe_url("ada@example.com", TOPIC).endswith(f"/unsubscribe/{token}")


def test_messages_carry_the_one_click_headers() -> None:
    headers = optout.list_unsubscribe_headers("ada@example.com", TOPIC)
    msg = email.build_message(
        "ada@example.com",
        "Hello",
        "password_reset",
        {"name": "Ada", "link": "http://x/y", "minutes": 5},
        headers=headers,
    )
    assert msg["List-Unsubscribe"] == f"<{optout.unsubscribe_url('ada@example.com', TOPIC)}>"
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    plain = email.build_message("ada@example.com", "Hello", "password_reset", {"name": "A", "link": "l", "minutes": 1})
    assert plain["List-Unsubscribe"] is None, "without headers nothing changes"


def test_the_link_shows_a_confirmation_and_the_button_unsubscribes(client: Client) -> None:
    token = optout.make_token("ada@example.com", TOPIC)
    page = client.get(f"/unsubscribe/{token}")
    assert page.status_code == 200
    assert "ada@example.com" in page.text and "test news" in page.text and 'method="post"' in page.text
    assert _opt_outs() == [], "opening the link (or a mail scanner prefetching it) changes nothing"
    done = client.post(f"/unsubscribe/{token}")
    assert done.status_code == 200 and "You are unsubscribed" in done.text
    assert _opt_outs() == [("ada@example.com", TOPIC)]
    again = client.post(f"/unsubscribe/{token}")
    assert again.status_code == 200 and _opt_outs() == [("ada@example.com", TOPIC)], "clicking twice is harmless"
    with session_scope() as s:
        records = s.scalar(select(func.count()).select_from(AuditRecord).where(AuditRecord.action == "unsubscribe"))
    assert records == 1


def test_rfc8058_one_click_post_needs_no_cookie_or_csrf(client: Client) -> None:
    token = optout.make_token("bob@example.com", TOPIC)
    response = client.post(
        f"/unsubscribe/{token}",
        content="List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 200
    with session_scope() as s:
        assert optout.is_opted_out(s, "BOB@example.com", TOPIC)
        assert not optout.is_opted_out(s, "bob@example.com", "other_topic")
        assert optout.opted_out(s, ["bob@example.com", "carol@example.com"], TOPIC) == {"bob@example.com"}


def test_signed_in_users_can_use_the_link_too(client: Client) -> None:
    login(client, make_user("viewer"))
    token = optout.make_token("dan@example.com", TOPIC)
    assert client.post(f"/unsubscribe/{token}").status_code == 200
    assert _opt_outs() == [("dan@example.com", TOPIC)]


def test_a_tampered_token_is_refused_and_writes_nothing(client: Client, session: Session) -> None:
    token = optout.make_token("eve@example.com", TOPIC)
    tampered = token.replace(token[5], "x" if token[5] != "x" else "y", 1)
    assert client.get(f"/unsubscribe/{tampered}").status_code == 400
    refused = client.post(f"/unsubscribe/{tampered}", content="List-Unsubscribe=One-Click")
    assert refused.status_code == 400 and "not valid" in refused.text
    assert _opt_outs() == []
