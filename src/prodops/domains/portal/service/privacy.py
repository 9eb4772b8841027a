"""A portal user's own data: export it as JSON, and delete the account.

Deleting anonymises rather than removes, like Canny and Fider: the ``PortalUser`` row stays (so votes and
comments keep counting and threads keep their shape) but loses its e-mail address, name and link to the
customers-domain person; ``deleted_at`` is set and ``session_epoch`` bumped, so every signed-in browser is
signed out. The text of the person's ideas and comments stays, without their name. Their follows and
pending sign-in links are removed; the feedback items their ideas, votes and comments became stop naming them
(:func:`demand.on_user_deleted`); the deletion is audited without the address.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from prodops.domains.portal.models import Board, Comment, Follow, Idea, Portal, PortalToken, PortalUser, Vote
from prodops.domains.portal.service import demand
from prodops.domains.portal.service._actor import portal_actor, portal_details
from prodops.platform import audit, events
from prodops.platform.audit import Actor
from prodops.platform.db import transaction, utcnow
from prodops.platform.errors import NotFound

EXPORT_VERSION = 1

ACCOUNT_DELETED = events.declare(
    "portal.user.deleted",
    "A portal user deleted their account (anonymised; votes and comments keep counting): user_id.",
)


def _iso(value: Any) -> Any:
    return audit.plain(value)


def export_data(session: Session, user_id: int) -> dict[str, Any]:
    """Everything the portal keeps about one portal user, as JSON-ready values: profile, ideas, comments, votes
    and follows (internal staff notes about them are not theirs and are left out)."""
    user = session.get(PortalUser, user_id)
    if user is None or user.deleted_at is not None:
        raise NotFound("portal user", user_id)

    def about_ideas(link: Any) -> Any:
        """``link`` (votes or follows) with each idea's title, board and portal."""
        return (
            select(link, Idea.title, Board.name.label("board"), Portal.name.label("portal"))
            .join(Idea, Idea.id == link.idea_id)
            .join(Board, Board.id == Idea.board_id)
            .join(Portal, Portal.id == Board.portal_id)
        )

    ideas = [
        {
            "id": idea.id,
            "title": idea.title,
            "body": idea.body,
            "state": idea.state,
            "portal": portal,
            "board": board,
            "votes": idea.vote_count,
            "comments": idea.comment_count,
            "created_at": _iso(idea.created_at),
            "updated_at": _iso(idea.updated_at),
        }
        for idea, board, portal in session.execute(
            select(Idea, Board.name, Portal.name)
            .join(Board, Board.id == Idea.board_id)
            .join(Portal, Portal.id == Board.portal_id)
            .where(Idea.author_id == user.id)
            .order_by(Idea.created_at, Idea.id)
        )
    ]
    comments = [
        {
            "id": comment.id,
            "idea_id": comment.idea_id,
            "idea_title": title,
            "parent_id": comment.parent_id,
            "body": comment.body,
            "state": comment.state,
            "created_at": _iso(comment.created_at),
            "edited_at": _iso(comment.edited_at),
        }
        for comment, title in session.execute(
            select(Comment, Idea.title)
            .join(Idea, Idea.id == Comment.idea_id)
            .where(Comment.author_id == user.id, Comment.internal.is_(False))
            .order_by(Comment.created_at, Comment.id)
        )
    ]
    votes = [
        {
            "idea_id": vote.idea_id,
            "idea_title": title,
            "portal": portal,
            "board": board,
            "created_at": _iso(vote.created_at),
            "cast_by_staff": vote.cast_by_id is not None,
        }
        for vote, title, board, portal in session.execute(
            about_ideas(Vote).where(Vote.user_id == user.id).order_by(Vote.created_at, Vote.id)
        )
    ]
    follows = [
        {
            "idea_id": follow.idea_id,
            "idea_title": title,
            "portal": portal,
            "board": board,
            "created_at": _iso(follow.created_at),
        }
        for follow, title, board, portal in session.execute(
            about_ideas(Follow).where(Follow.user_id == user.id).order_by(Follow.created_at, Follow.id)
        )
    ]
    return {
        "format": "prodops-portal-export",
        "version": EXPORT_VERSION,
        "exported_at": _iso(utcnow()),
        "profile": {
            "id": user.id,
            "email": user.email,
            "name": user.name,
            "email_verified_at": _iso(user.email_verified_at),
            "created_at": _iso(user.created_at),
            "last_seen_at": _iso(user.last_seen_at),
        },
        "ideas": ideas,
        "comments": comments,
        "votes": votes,
        "follows": follows,
    }


def delete_account(session: Session, user_id: int) -> None:
    """Anonymise a portal user at their own request (see the module docstring); counts do not change."""
    with transaction(session):
        user = session.get(PortalUser, user_id)
        if user is None or user.deleted_at is not None:
            raise NotFound("portal user", user_id)
        actor: Actor = portal_actor(user)
        # While the user still names their person: the feedback items their activity became stop naming them.
        demand.on_user_deleted(session, user, actor=actor)
        email = user.email
        follows = session.scalar(select(func.count()).select_from(Follow).where(Follow.user_id == user.id)) or 0
        session.execute(delete(Follow).where(Follow.user_id == user.id))
        tokens = 0
        if email:
            tokens = (
                session.scalar(
                    select(func.count()).select_from(PortalToken).where(func.lower(PortalToken.email) == email.lower())
                )
                or 0
            )
            session.execute(delete(PortalToken).where(func.lower(PortalToken.email) == email.lower()))
        user.email = None
        user.name = ""
        user.person_id = None
        user.email_verified_at = None
        user.deleted_at = utcnow()
        user.session_epoch = user.session_epoch + 1
        audit.record(
            session,
            Actor(None, f"portal: deleted user #{user.id}"),
            entity_type="portal_user",
            entity_id=user.id,
            action="delete_account",
            changes={
                "email": ["(removed)", None],
                "name": ["(removed)", None],
                "follows_removed": [None, follows],
                "tokens_removed": [None, tokens],
                **portal_details(user),
            },
            entity_label=f"deleted user #{user.id}",
        )
        events.emit(session, ACCOUNT_DELETED, {"user_id": user.id})
