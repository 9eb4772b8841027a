"""The staff JSON API for portal ideas: viewers read, members act, read-only tokens cannot write, bad input is a
422 with the field named and nothing changed (real HTTP with bearer tokens)."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from prodops.domains.portal.models import Board, Comment, Idea, Portal, Vote
from tests.conftest import Client, make_token, make_user
from tests.portal.staffing import comment, customer, make_account, make_idea, vote


def _headers(role: str, scope: str | None = None) -> dict[str, str]:
    scope = scope or ("read" if role == "viewer" else "write")
    return {"Authorization": f"Bearer {make_token(make_user(role), scope)}"}


def _count(session: Session, model: type) -> int:
    session.rollback()
    return session.scalar(select(func.count()).select_from(model)) or 0


def test_list_and_read(client: Client, session: Session, portal: Portal, board: Board) -> None:
    make_account(session, "Big", 90_000)
    ann = customer(session, "Ann", "big.example")
    dark = make_idea(session, board, "Dark mode", author=ann)
    make_idea(session, board, "Offline", state="pending")
    vote(session, dark, ann)
    comment(session, dark, ann, "Please")
    viewer = _headers("viewer")

    listed = client.get("/api/v1/portal/ideas", headers=viewer).json()
    assert listed["total"] == 2
    listed = client.get("/api/v1/portal/ideas?state=pending", headers=viewer).json()
    assert [i["title"] for i in listed["items"]] == ["Offline"]
    listed = client.get(f"/api/v1/portal/ideas?portal_id={portal.id}&sort=-votes", headers=viewer).json()
    assert listed["items"][0]["title"] == "Dark mode" and listed["items"][0]["vote_count"] == 1
    assert client.get("/api/v1/portal/ideas?sort=sideways", headers=viewer).status_code == 422

    one = client.get(f"/api/v1/portal/ideas/{dark.id}", headers=viewer).json()
    assert (one["title"], one["status_kind"], one["author_name"], one["portal_slug"]) == (
        "Dark mode",
        "idea",
        "Ann",
        portal.slug,
    )
    voters = client.get(f"/api/v1/portal/ideas/{dark.id}/votes", headers=viewer).json()
    assert voters["total"] == 1 and voters["items"][0]["account_name"] == "Big" and voters["items"][0]["arr"] == 90_000
    comments = client.get(f"/api/v1/portal/ideas/{dark.id}/comments", headers=viewer).json()
    assert [c["body"] for c in comments["items"]] == ["Please"]
    queue = client.get("/api/v1/portal/moderation", headers=viewer).json()
    assert [i["title"] for i in queue["ideas"]] == ["Offline"]
    assert client.get("/api/v1/portal/ideas/999999", headers=viewer).status_code == 404


def test_proxy_vote_comment_and_moderation(client: Client, session: Session, portal: Portal, board: Board) -> None:
    make_account(session, "Big", 90_000)
    dark = make_idea(session, board, "Dark mode")
    pending = make_idea(session, board, "Offline", state="pending")
    member = _headers("member")

    response = client.post(f"/api/v1/portal/ideas/{dark.id}/votes", json={"email": "zoe@big.example"}, headers=member)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["email"] == "zoe@big.example" and body["cast_by_id"] is not None and body["account_name"] == "Big"
    again = client.post(f"/api/v1/portal/ideas/{dark.id}/votes", json={"email": "zoe@big.example"}, headers=member)
    assert again.status_code == 409 and "already voted" in again.text
    missing = client.post(f"/api/v1/portal/ideas/{dark.id}/votes", json={}, headers=member)
    assert missing.status_code == 422
    bad = client.post(f"/api/v1/portal/ideas/{dark.id}/votes", json={"email": "not-mail"}, headers=member)
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"][-1] == "email"
    assert _count(session, Vote) == 1

    note = client.post(
        f"/api/v1/portal/ideas/{dark.id}/comments", json={"body": "Big renewal", "internal": True}, headers=member
    )
    assert note.status_code == 201 and note.json()["internal"] is True
    both = client.post(
        f"/api/v1/portal/ideas/{dark.id}/comments",
        json={"body": "x", "internal": True, "official": True},
        headers=member,
    )
    assert both.status_code == 422
    official = client.patch(f"/api/v1/portal/comments/{note.json()['id']}", json={"official": True}, headers=member)
    assert official.status_code == 422 and "internal note" in official.text
    assert _count(session, Comment) == 1

    decided = client.post(
        "/api/v1/portal/moderation", json={"action": "approve", "ideas": [pending.id]}, headers=member
    ).json()
    assert decided == {"ideas": 1, "comments": 0}
    session.rollback()
    assert session.scalar(select(Idea.state).where(Idea.id == pending.id)) == "published"

    status = client.post(f"/api/v1/portal/ideas/{dark.id}/status", json={"status": "planned"}, headers=member)
    assert status.status_code == 200 and status.json()["status"] == "planned"
    edited = client.patch(f"/api/v1/portal/ideas/{dark.id}", json={"title": "Dark mode everywhere"}, headers=member)
    assert edited.json()["title"] == "Dark mode everywhere"

    merged = client.post(f"/api/v1/portal/ideas/{pending.id}/merge", json={"into": dark.id}, headers=member)
    assert merged.status_code == 200 and merged.json()["target_id"] == dark.id

    user_id = session.scalar(select(Vote.user_id))
    blocked = client.post(f"/api/v1/portal/users/{user_id}/block", json={"reason": "fake"}, headers=member)
    assert blocked.status_code == 200 and blocked.json()["blocked"] is True
    assert client.post(f"/api/v1/portal/users/{user_id}/block", json={"reason": ""}, headers=member).status_code == 422
    assert client.delete(f"/api/v1/portal/users/{user_id}/block", headers=member).json()["blocked"] is False


def test_who_may_write(client: Client, session: Session, portal: Portal, board: Board) -> None:
    idea = make_idea(session, board)
    for headers in (_headers("viewer"), _headers("admin", scope="read")):
        for method, url, payload in (
            ("post", f"/api/v1/portal/ideas/{idea.id}/votes", {"email": "a@b.example"}),
            ("post", f"/api/v1/portal/ideas/{idea.id}/comments", {"body": "hi"}),
            ("post", "/api/v1/portal/moderation", {"action": "reject", "ideas": [idea.id]}),
            ("delete", f"/api/v1/portal/ideas/{idea.id}", None),
        ):
            response = client.request(method, url, json=payload, headers=headers)
            assert response.status_code == 403, (url, response.status_code)
    assert client.get("/api/v1/portal/ideas").status_code == 401
    assert _count(session, Vote) == 0 and _count(session, Comment) == 0
    session.rollback()
    assert session.scalar(select(Idea.state).where(Idea.id == idea.id)) == "published"
