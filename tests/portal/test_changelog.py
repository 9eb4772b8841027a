"""The changelog: the staff editor (validation, drafts, publish once), the public pages, the Atom feed, and the
e-mail to the voters and followers of the linked ideas (real SMTP server)."""

from __future__ import annotations

import datetime as dt
from xml.etree import ElementTree as ET

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from prodops.domains.features import service as features
from prodops.domains.portal.models import ChangelogEntry, Idea, Portal, PortalUser
from prodops.domains.portal.service import changelog, privacy
from prodops.domains.portal.service.changelog import ChangelogIn
from prodops.domains.portal.service.notifications import portal_topic
from prodops.platform.audit import Actor, AuditRecord
from prodops.platform.db import transaction, utcnow
from prodops.platform.notify import optout
from tests.conftest import Client
from tests.platform.test_email import Mailbox
from tests.portal.conftest import follow_as, make_board, make_idea, make_portal, make_portal_user, vote_as

ACTOR = Actor.system("test")
A = "{http://www.w3.org/2005/Atom}"


def _ship(session: Session, idea_id: int) -> None:
    feature_id = session.scalar(select(Idea.feature_id).where(Idea.id == idea_id))
    assert feature_id is not None
    features.set_status(session, ACTOR, feature_id, "shipped")


def _entries(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(ChangelogEntry)) or 0


def test_editor_validates_whole_and_writes_nothing_on_error(member_client: Client, session: Session) -> None:
    portal = make_portal(session, name="Acme Ideas")
    other = make_portal(session, name="Other")
    board, elsewhere = make_board(session, portal), make_board(session, other)
    ada = make_portal_user(session)
    mine = make_idea(session, portal, board, ada, "Dark mode")
    theirs = make_idea(session, other, elsewhere, ada, "Not here")

    empty = member_client.form("/portal/changelog/new", {"portal_id": portal.id, "title": "  ", "body": "x"})
    assert empty.status_code == 422
    assert 'id="e-title"' in empty.text and "x</textarea>" in empty.text  # the text typed is kept
    foreign = member_client.form(
        "/portal/changelog/new",
        {"portal_id": portal.id, "title": "Shipped", "idea_ids": [mine, theirs, 999_999]},
    )
    assert foreign.status_code == 422
    assert f"idea {theirs} is on another portal" in foreign.text
    assert _entries(session) == 0

    page = member_client.get("/portal/changelog/new")
    assert page.status_code == 200 and "Acme Ideas" in page.text


def test_draft_then_publish_shows_on_portal_and_emails_each_person_once(
    member_client: Client, client: Client, session: Session, mailbox: Mailbox
) -> None:
    portal = make_portal(session, name="Acme Ideas")
    board = make_board(session, portal)
    author = make_portal_user(session, "author@customer.example", "Ann Author")
    fan = make_portal_user(session, "fan@customer.example", "Fan")
    follower = make_portal_user(session, "follower@customer.example")
    quitter = make_portal_user(session, "quitter@customer.example")
    blocked = make_portal_user(session, "blocked@customer.example")
    gone = make_portal_user(session, "gone@customer.example")
    bystander = make_portal_user(session, "bystander@customer.example")
    dark = make_idea(session, portal, board, author, "Dark mode")
    pdf = make_idea(session, portal, board, author, "PDF export")
    make_idea(session, portal, board, bystander, "Unrelated")
    for idea in (dark, pdf):  # the fan voted for both: one e-mail
        vote_as(session, portal, fan, idea)
    follow_as(session, portal, follower, pdf)
    for user in (quitter, blocked, gone):
        vote_as(session, portal, user, dark)
    optout.opt_out(session, quitter.email or "", portal_topic(portal.id))
    with transaction(session):
        session.get(PortalUser, blocked.id).blocked_at = utcnow()  # type: ignore[union-attr]
    privacy.delete_account(session, gone.id)
    _ship(session, dark)
    _ship(session, pdf)
    mailbox.received.clear()  # the close-the-loop e-mails of shipping

    body = "**Dark mode** is here.\n\n<script>alert('x')</script>"
    saved = member_client.form(
        "/portal/changelog/new",
        {"portal_id": portal.id, "title": "Dark & PDF <shipped>", "body": body, "idea_ids": [dark, pdf]},
        follow_redirects=False,
    )
    assert saved.status_code == 303
    entry_id = int(saved.headers["location"].rsplit("/", 1)[1])
    assert mailbox.received == []  # a draft tells nobody
    assert "Dark &amp; PDF" not in client.get(f"/p/{portal.slug}/changelog").text

    published = member_client.form(f"/portal/changelog/{entry_id}/publish", follow_redirects=False)
    assert published.status_code == 303
    to = sorted(r for m in mailbox.received for r in m.rcpt_tos)
    assert to == ["author@customer.example", "fan@customer.example", "follower@customer.example"]
    fan_mail = next(m for m in mailbox.received if m.rcpt_tos == ["fan@customer.example"]).message
    assert fan_mail["Subject"] == "Acme Ideas: Dark & PDF <shipped>"
    assert fan_mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    html = fan_mail.get_body(preferencelist=("html",)).get_content()  # type: ignore[union-attr]
    assert "<strong>Dark mode</strong>" in html and "<script>" not in html
    assert "Dark &amp; PDF &lt;shipped&gt;" in html
    assert html.count("you voted for it") == 2
    assert f"/p/{portal.slug}/changelog/{entry_id}" in html

    again = member_client.form(f"/portal/changelog/{entry_id}/publish", follow_redirects=False)
    assert again.status_code == 303 and len(mailbox.received) == 3  # published once, e-mailed once
    session.rollback()  # a fresh snapshot: the requests committed in their own sessions
    actions = set(
        session.scalars(select(AuditRecord.action).where(AuditRecord.entity_type == "portal_changelog_entry"))
    )
    assert actions == {"create", "publish"}

    page = client.get(f"/p/{portal.slug}/changelog")
    assert "Dark &amp; PDF &lt;shipped&gt;" in page.text and "<script>alert" not in page.text
    assert f'href="/p/{portal.slug}/i/{dark}"' in page.text and "Unrelated" not in page.text
    assert client.get(f"/p/{portal.slug}/changelog/{entry_id}").status_code == 200


def test_newest_first_and_private_board_ideas_stay_hidden(client: Client, session: Session, mailbox: Mailbox) -> None:
    portal = make_portal(session)
    board = make_board(session, portal)
    archived = make_board(session, portal, archived=False, segment_id=None, slug="later", name="Later")
    ada = make_portal_user(session)
    visible = make_idea(session, portal, board, ada, "Visible idea")
    hidden = make_idea(session, portal, archived, ada, "Hidden idea")
    with transaction(session):
        session.get(Idea, hidden).state = "deleted"  # type: ignore[union-attr]
    old = changelog.create_entry(session, ACTOR, ChangelogIn(portal_id=portal.id, title="Older news"), publish=True)
    new = changelog.create_entry(
        session,
        ACTOR,
        ChangelogIn(portal_id=portal.id, title="Newer news", idea_ids=[visible, hidden]),
        publish=True,
    )
    with transaction(session):
        session.get(ChangelogEntry, old).published_at = utcnow() - dt.timedelta(days=3)  # type: ignore[union-attr]
    draft = changelog.create_entry(session, ACTOR, ChangelogIn(portal_id=portal.id, title="Secret draft"))
    html = client.get(f"/p/{portal.slug}/changelog").text
    assert html.index("Newer news") < html.index("Older news")
    assert "Visible idea" in html and "Hidden idea" not in html and "Secret draft" not in html
    assert client.get(f"/p/{portal.slug}/changelog/{draft}").status_code == 404
    assert new


def _feed(client: Client, portal: Portal) -> ET.Element:
    response = client.get(f"/p/{portal.slug}/changelog.atom")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/atom+xml")
    return ET.fromstring(response.content)  # noqa: S314  # our own feed, from the test server


def test_atom_feed_is_valid_and_escaped(client: Client, session: Session, mailbox: Mailbox) -> None:
    portal = make_portal(session, name="Acme & Co <Ideas>")
    board = make_board(session, portal)
    ada = make_portal_user(session)
    idea = make_idea(session, portal, board, ada, "Exports & <imports>")
    empty = _feed(client, portal)
    assert empty.tag == f"{A}feed" and empty.findall(f"{A}entry") == []
    assert empty.findtext(f"{A}updated")  # required even when nothing is published

    entry_id = changelog.create_entry(
        session,
        ACTOR,
        ChangelogIn(
            portal_id=portal.id,
            title="Q&A <beta> ]]>",
            body="Read **this** <img src=x onerror=alert(1)>",
            idea_ids=[idea],
        ),
        publish=True,
    )
    changelog.create_entry(session, ACTOR, ChangelogIn(portal_id=portal.id, title="A draft"))
    feed = _feed(client, portal)
    assert feed.findtext(f"{A}title") == "Acme & Co <Ideas> changelog"
    assert feed.findtext(f"{A}id", "").startswith("tag:")
    assert feed.find(f"{A}author/{A}name") is not None
    links = {link.get("rel"): link.get("href") for link in feed.findall(f"{A}link")}
    assert links["self"].endswith(f"/p/{portal.slug}/changelog.atom")
    assert links["alternate"].endswith(f"/p/{portal.slug}/changelog")
    entries = feed.findall(f"{A}entry")
    assert len(entries) == 1  # drafts are not in the feed
    entry = entries[0]
    for required in ("id", "title", "updated", "published"):
        assert entry.findtext(f"{A}{required}"), required
    assert entry.findtext(f"{A}title") == "Q&A <beta> ]]>"
    assert entry.findtext(f"{A}id", "").endswith(f":changelog:{entry_id}")
    dt.datetime.fromisoformat(entry.findtext(f"{A}updated", "").replace("Z", "+00:00"))
    alternate = [x for x in entry.findall(f"{A}link") if x.get("rel") == "alternate"]
    assert alternate[0].get("href", "").endswith(f"/p/{portal.slug}/changelog/{entry_id}")
    content = entry.find(f"{A}content")
    assert content is not None and content.get("type") == "html"
    assert "<strong>this</strong>" in (content.text or "") and "<img" not in (content.text or "")
    assert "Exports &amp; &lt;imports&gt;" in (content.text or "")


def test_private_portal_feed_and_changelog_are_closed(client: Client, session: Session) -> None:
    portal = make_portal(session, visibility="private", allowed_domains=["acme.example"])
    changelog.create_entry(session, ACTOR, ChangelogIn(portal_id=portal.id, title="Internal launch"), publish=True)
    assert client.get(f"/p/{portal.slug}/changelog.atom").status_code == 404
    assert "Internal launch" not in client.get(f"/p/{portal.slug}/changelog").text


def test_viewers_cannot_use_the_editor(viewer_client: Client, session: Session, mailbox: Mailbox) -> None:
    portal = make_portal(session)
    entry_id = changelog.create_entry(session, ACTOR, ChangelogIn(portal_id=portal.id, title="Draft"))
    assert viewer_client.get("/portal/changelog").status_code == 403
    assert viewer_client.form(f"/portal/changelog/{entry_id}/publish").status_code == 403
    session.rollback()
    assert session.get(ChangelogEntry, entry_id).published_at is None  # type: ignore[union-attr]


def test_members_edit_without_re_sending_and_delete(member_client: Client, session: Session, mailbox: Mailbox) -> None:
    portal = make_portal(session)
    board = make_board(session, portal)
    ada = make_portal_user(session, "ada@customer.example")
    idea = make_idea(session, portal, board, ada, "Dark mode")
    _ship(session, idea)
    mailbox.received.clear()
    entry_id = changelog.create_entry(session, ACTOR, ChangelogIn(portal_id=portal.id, title="Old", idea_ids=[idea]))
    listing = member_client.get("/portal/changelog")
    assert "Old" in listing.text and "Draft" in listing.text
    editor = member_client.get(f"/portal/changelog/{entry_id}")
    assert editor.status_code == 200 and 'value="' + str(idea) + '" checked' in editor.text
    saved = member_client.form(
        f"/portal/changelog/{entry_id}",
        {"portal_id": portal.id, "title": "New title", "body": "b", "idea_ids": [idea], "action": "publish"},
        follow_redirects=False,
    )
    assert saved.status_code == 303 and len(mailbox.received) == 1
    member_client.form(
        f"/portal/changelog/{entry_id}",
        {"portal_id": portal.id, "title": "Newer title", "body": "b", "idea_ids": [idea], "action": "publish"},
    )
    assert len(mailbox.received) == 1  # editing a published entry e-mails nobody again
    session.rollback()
    assert session.get(ChangelogEntry, entry_id).title == "Newer title"  # type: ignore[union-attr]
    preview = member_client.form("/portal/changelog/preview", {"body": "**hi** <script>x</script>"})
    assert "<strong>hi</strong>" in preview.text and "<script>" not in preview.text
    deleted = member_client.form(f"/portal/changelog/{entry_id}/delete", follow_redirects=False)
    session.rollback()
    assert deleted.status_code == 303 and _entries(session) == 0


def test_json_api_writes_reads_and_refuses_bad_input(client: Client, session: Session, mailbox: Mailbox) -> None:
    from tests.conftest import make_token, make_user

    portal = make_portal(session)
    board = make_board(session, portal)
    ada = make_portal_user(session, "ada@customer.example")
    idea = make_idea(session, portal, board, ada, "Dark mode")
    _ship(session, idea)
    mailbox.received.clear()
    writer = {"Authorization": f"Bearer {make_token(make_user('member'), 'write')}"}
    reader = {"Authorization": f"Bearer {make_token(make_user('viewer'), 'read')}"}

    bad = client.post(
        "/api/v1/portal/changelog", json={"portal_id": portal.id, "title": "", "idea_ids": [999]}, headers=writer
    )
    assert bad.status_code == 422 and any(d["loc"][-1] == "title" for d in bad.json()["detail"])
    assert (
        client.post("/api/v1/portal/changelog", json={"portal_id": portal.id, "title": "x"}, headers=reader).status_code
        == 403
    )
    assert _entries(session) == 0

    made = client.post(
        "/api/v1/portal/changelog",
        json={"portal_id": portal.id, "title": "Dark mode", "idea_ids": [idea]},
        headers=writer,
    )
    assert made.status_code == 201, made.text
    entry = made.json()
    assert entry["published_at"] is None and [i["id"] for i in entry["ideas"]] == [idea]
    published = client.post(f"/api/v1/portal/changelog/{entry['id']}/publish", headers=writer)
    assert published.status_code == 200 and published.json()["published_at"]
    assert [m.rcpt_tos for m in mailbox.received] == [["ada@customer.example"]]
    assert client.post(f"/api/v1/portal/changelog/{entry['id']}/publish", headers=writer).status_code == 409
    listed = client.get("/api/v1/portal/changelog", params={"portal_id": portal.id}, headers=reader).json()
    assert listed["total"] == 1 and listed["items"][0]["title"] == "Dark mode"
    assert client.delete(f"/api/v1/portal/changelog/{entry['id']}", headers=writer).status_code == 204
    assert client.get(f"/api/v1/portal/changelog/{entry['id']}", headers=reader).status_code == 404
