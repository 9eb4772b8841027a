"""Saved inbox views: save the filters under a name, private or shared; owners change them, admins tidy shared ones."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from prodops.domains.feedback.models import SavedView
from prodops.domains.feedback.service import views
from prodops.domains.feedback.service.views import SavedViewIn, SavedViewUpdate
from prodops.platform.audit import AuditRecord
from prodops.platform.errors import Conflict, NotFound, PermissionDenied
from prodops.platform.identity.service import actor_for
from tests.conftest import Client, login, make_user


def audit_actions(session: Session) -> list[str]:
    session.rollback()
    stmt = select(AuditRecord.action).where(AuditRecord.entity_type == "feedback_view").order_by(AuditRecord.id)
    return list(session.scalars(stmt))


def test_the_query_is_checked_and_kept_without_position() -> None:
    data = SavedViewIn(name="E-mail bugs", query="?source=email&tag=bug&page=3&after=77&item=5&q=&sort=-importance")
    assert data.query == "source=email&tag=bug&sort=-importance"
    with pytest.raises(ValueError, match="colour: is not an inbox filter"):
        SavedViewIn(name="x", query="colour=red")
    with pytest.raises(ValueError, match=r"status\.0"):
        SavedViewIn(name="x", query="status=open")
    with pytest.raises(ValueError, match="name"):
        SavedViewIn(name="  ", query="")


def test_create_list_rename_share_delete(session: Session) -> None:
    ann, bob = make_user("member"), make_user("member")
    mine = views.create_view(session, actor_for(ann), SavedViewIn(name="Critical", query="importance=critical"))
    shared = views.create_view(session, actor_for(bob), SavedViewIn(name="Team", query="status=all", shared=True))
    views.create_view(session, actor_for(bob), SavedViewIn(name="Bob only", query="source=widget"))
    assert [v.name for v in views.list_views(session, ann.id)] == ["Critical", "Team"]
    assert [v.name for v in views.list_views(session, bob.id)] == ["Bob only", "Team"]
    assert mine.url == "/feedback?importance=critical" and shared.owner_name == bob.email

    renamed = views.update_view(session, actor_for(ann), mine.id, SavedViewUpdate(name="Hot", shared=True))
    assert (renamed.name, renamed.shared, renamed.query) == ("Hot", True, "importance=critical")
    with pytest.raises(Conflict) as clash:
        views.create_view(session, actor_for(ann), SavedViewIn(name="hot", query=""))
    assert clash.value.field == "name"
    # Another member sees a shared view but cannot change or delete it, and cannot see private ones.
    with pytest.raises(PermissionDenied):
        views.update_view(session, actor_for(bob), mine.id, SavedViewUpdate(name="Mine now"))
    with pytest.raises(PermissionDenied):
        views.delete_view(session, actor_for(bob), mine.id)
    private = views.list_views(session, bob.id)[0]
    with pytest.raises(NotFound):
        views.get_view(session, private.id, ann.id)
    with pytest.raises(NotFound):
        views.delete_view(session, actor_for(ann), private.id, is_admin=True)
    views.delete_view(session, actor_for(ann), mine.id)
    assert [v.name for v in views.list_views(session, ann.id)] == ["Team"]
    assert audit_actions(session) == ["create", "create", "create", "update", "delete"]


def test_admins_may_delete_shared_views_only(session: Session) -> None:
    ann, boss = make_user("member"), make_user("admin")
    shared = views.create_view(session, actor_for(ann), SavedViewIn(name="Team", query="", shared=True))
    private = views.create_view(session, actor_for(ann), SavedViewIn(name="Own", query=""))
    with pytest.raises(NotFound):
        views.delete_view(session, actor_for(boss), private.id, is_admin=True)
    views.delete_view(session, actor_for(boss), shared.id, is_admin=True)
    session.rollback()
    assert list(session.scalars(select(SavedView.name))) == ["Own"]


def flashes(client: Client, url: str = "/feedback") -> str:
    return " ".join(re.findall(r'<div class="flash [a-z]+" role="status">([^<]*)</div>', client.get(url).text))


def test_saving_views_from_the_inbox(member_client: Client, session: Session) -> None:
    saved = member_client.form(
        "/feedback/views",
        {"name": "Widget ideas", "query": "source=widget&after=12&unlinked=true", "shared": "on"},
        follow_redirects=False,
    )
    assert saved.status_code == 303 and saved.headers["location"] == "/feedback?source=widget&unlinked=true"
    page = member_client.get("/feedback?source=widget&unlinked=true").text
    assert "saved and shared" in page
    assert re.search(
        r'<a href="/feedback\?source=widget&amp;unlinked=true" aria-current="page"[^>]*>Widget ideas', page
    )
    view_id = session.scalar(select(SavedView.id))
    bad = member_client.form("/feedback/views", {"name": "Broken", "query": "status=maybe"}, follow_redirects=False)
    assert bad.status_code == 303 and "status" in flashes(member_client)
    assert session.scalar(select(func.count()).select_from(SavedView)) == 1
    edit = member_client.form(
        f"/feedback/views/{view_id}/edit", {"name": "Widget asks", "back": "/feedback"}, follow_redirects=False
    )
    assert edit.status_code == 303
    session.rollback()
    view = session.get(SavedView, view_id)
    assert view is not None and (view.name, view.shared) == ("Widget asks", False)
    assert member_client.form(f"/feedback/views/{view_id}/delete", {"back": "/feedback"}).status_code == 200
    session.rollback()
    assert session.scalar(select(func.count()).select_from(SavedView)) == 0


def test_view_permissions_over_http(client: Client, session: Session) -> None:
    ann, bob, boss = make_user("member"), make_user("member"), make_user("admin")
    shared = views.create_view(session, actor_for(ann), SavedViewIn(name="Team", query="", shared=True))
    private = views.create_view(session, actor_for(ann), SavedViewIn(name="Own", query=""))
    login(client, bob)
    assert client.form(f"/feedback/views/{shared.id}/edit", {"name": "Taken"}).status_code == 403
    assert client.form(f"/feedback/views/{shared.id}/delete").status_code == 403
    assert client.form(f"/feedback/views/{private.id}/delete").status_code == 404
    login(client, boss)
    assert client.form(f"/feedback/views/{shared.id}/delete", follow_redirects=False).status_code == 303
    assert client.form(f"/feedback/views/{private.id}/delete").status_code == 404
    session.rollback()
    assert list(session.scalars(select(SavedView.name))) == ["Own"]
    viewer = make_user("viewer")
    login(client, viewer)
    assert client.form("/feedback/views", {"name": "Nope", "query": ""}).status_code == 403
    assert "Save these filters" not in client.get("/feedback").text
