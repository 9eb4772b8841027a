"""Moderation (members): the approval queue, staff edits and deletions of any idea or comment, and blocking a
portal user. Every change is audited with the staff member as the actor; the demand model follows (approved
posts are filed as feedback, removed ones withdrawn)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from prodops.domains.portal.models import Board, Comment, Idea, PortalUser
from prodops.domains.portal.schemas import CommentEdit, IdeaEdit, ModerationIn, ModerationResult
from prodops.domains.portal.service import demand
from prodops.platform import audit, events
from prodops.platform.audit import Actor
from prodops.platform.db import transaction, utcnow
from prodops.platform.errors import Conflict, NotFound, ValidationFailed

IDEA_APPROVED = events.declare("portal.idea.approved", "A moderator approved a pending portal idea.")
IDEA_REJECTED = events.declare("portal.idea.rejected", "A moderator rejected a pending portal idea.")
IDEA_MODERATED = events.declare(
    "portal.idea.moderated", "Staff edited or deleted a portal idea (payload: idea_id, action, changed fields)."
)
COMMENT_APPROVED = events.declare("portal.comment.approved", "A moderator approved a pending portal comment.")
COMMENT_MODERATED = events.declare(
    "portal.comment.moderated", "Staff edited, rejected or deleted a portal comment (payload: comment_id, action)."
)
USER_BLOCKED = events.declare("portal.user.blocked", "A portal user was blocked (signed out everywhere).")
USER_UNBLOCKED = events.declare("portal.user.unblocked", "A portal user was unblocked.")


def _bump_comments(session: Session, idea_id: int, delta: int) -> None:
    session.execute(
        update(Idea)
        .where(Idea.id == idea_id)
        .values(comment_count=Idea.comment_count + delta)
        .execution_options(synchronize_session=False)
    )


def _counts(comment: Comment) -> bool:
    """Whether a comment is in ``Idea.comment_count`` (published and not internal)."""
    return comment.state == "published" and not comment.internal


def _idea(session: Session, idea_id: int) -> Idea:
    idea = session.get(Idea, idea_id)
    if idea is None:
        raise NotFound("idea", idea_id)
    return idea


def _comment(session: Session, comment_id: int) -> Comment:
    comment = session.get(Comment, comment_id)
    if comment is None:
        raise NotFound("comment", comment_id)
    return comment


def _record(session: Session, actor: Actor, kind: str, entity_id: int, action: str, changes: Any, label: str) -> None:
    audit.record(
        session, actor, entity_type=kind, entity_id=entity_id, action=action, changes=changes, entity_label=label[:300]
    )


# --- the approval queue -------------------------------------------------------------------------


def _pending(session: Session, model: Any, ids: Sequence[int], field: str) -> list[Any]:
    wanted = sorted(set(ids))
    if not wanted:
        return []
    rows = list(session.scalars(select(model).where(model.id.in_(wanted)).with_for_update()))
    found = {r.id: r for r in rows}
    missing = [i for i in wanted if i not in found]
    if missing:
        raise ValidationFailed(field, f"there is no {field[:-1]} {', '.join(map(str, missing[:10]))}")
    decided = [r.id for r in rows if r.state != "pending"]
    if decided:
        raise Conflict(
            field,
            f"{field[:-1]} {', '.join(map(str, decided[:10]))} is no longer waiting for moderation "
            "(someone else decided first); reload the queue.",
        )
    return [found[i] for i in wanted]


def moderate(session: Session, actor: Actor, data: ModerationIn) -> ModerationResult:
    """Approve or reject pending ideas and comments, all or nothing: one item that is no longer pending refuses the
    whole batch (another moderator decided first)."""
    if not data.ideas and not data.comments:
        raise ValidationFailed("ideas", "choose at least one idea or comment")
    approve = data.action == "approve"
    with transaction(session):
        ideas = _pending(session, Idea, data.ideas, "ideas")
        comments = _pending(session, Comment, data.comments, "comments")
        for idea in ideas:
            idea.state = "published" if approve else "rejected"
            session.flush()
            _record(session, actor, "portal_idea", idea.id, data.action, {"state": ["pending", idea.state]}, idea.title)
            if approve:
                demand.on_idea_published(session, idea, actor=actor)
            events.emit(
                session,
                IDEA_APPROVED if approve else IDEA_REJECTED,
                {"idea_id": idea.id, "feature_id": idea.feature_id, "title": idea.title},
            )
        for comment in comments:
            comment.state = "published" if approve else "deleted"
            session.flush()
            _record(
                session,
                actor,
                "portal_comment",
                comment.id,
                data.action,
                {"state": ["pending", comment.state]},
                comment.body[:80],
            )
            if approve:
                _bump_comments(session, comment.idea_id, 1)
                demand.on_comment(session, comment, actor=actor)
                events.emit(session, COMMENT_APPROVED, {"comment_id": comment.id, "idea_id": comment.idea_id})
            else:
                events.emit(session, COMMENT_MODERATED, {"comment_id": comment.id, "action": "reject"})
    return ModerationResult(ideas=len(ideas), comments=len(comments))


# --- staff edits and deletions ------------------------------------------------------------------


def edit_idea(session: Session, actor: Actor, idea_id: int, data: IdeaEdit) -> Idea:
    """Staff edit any idea: title, body, or move it to another board of the same portal."""
    changes = data.model_dump(exclude_unset=True)
    for key in ("title", "board_id"):
        if key in changes and changes[key] is None:
            raise ValidationFailed(key, "cannot be empty")
    if "body" in changes and changes["body"] is None:
        changes["body"] = ""
    with transaction(session):
        idea = _idea(session, idea_id)
        if idea.state in ("deleted", "merged"):
            raise Conflict(None, f"This idea was {idea.state}; it can no longer be edited.")
        board_id = changes.get("board_id")
        if board_id is not None and board_id != idea.board_id:
            target = session.get(Board, board_id)
            current = session.get(Board, idea.board_id)
            if target is None or current is None or target.portal_id != current.portal_id:
                raise ValidationFailed("board_id", "choose a board of the same portal")
        before = audit.snapshot(idea, ("title", "body", "board_id"))
        for key, value in changes.items():
            setattr(idea, key, value)
        session.flush()
        diff = audit.diff(before, audit.snapshot(idea, ("title", "body", "board_id")))
        if diff:
            _record(session, actor, "portal_idea", idea.id, "staff_edit", diff, idea.title)
            demand.on_idea(session, idea, actor=actor)
            events.emit(session, IDEA_MODERATED, {"idea_id": idea.id, "action": "edit", "changes": sorted(diff)})
        return idea


def delete_idea(session: Session, actor: Actor, idea_id: int, *, reason: str = "") -> Idea:
    """Take an idea off the portal (kept for the record as ``deleted``); its feedback is withdrawn from demand.
    Its feature stays in the catalogue."""
    with transaction(session):
        idea = _idea(session, idea_id)
        if idea.state in ("deleted", "merged"):
            raise Conflict(None, f"This idea was already {idea.state}.")
        before = idea.state
        idea.state = "deleted"
        demand.on_idea_removed(session, idea, actor=actor)
        changes: dict[str, list[Any]] = {"state": [before, "deleted"]}
        if reason:
            changes["reason"] = [None, reason[:500]]
        _record(session, actor, "portal_idea", idea.id, "staff_delete", changes, idea.title)
        events.emit(session, IDEA_MODERATED, {"idea_id": idea.id, "action": "delete", "changes": ["state"]})
        return idea


def edit_comment(session: Session, actor: Actor, comment_id: int, data: CommentEdit) -> Comment:
    changes = data.model_dump(exclude_unset=True)
    if "body" in changes and changes["body"] is None:
        raise ValidationFailed("body", "cannot be empty")
    if "official" in changes and changes["official"] is None:
        raise ValidationFailed("official", "cannot be empty")
    with transaction(session):
        comment = _comment(session, comment_id)
        if comment.state == "deleted":
            raise Conflict(None, "This comment was deleted.")
        if changes.get("official") and comment.staff_author_id is None:
            raise ValidationFailed("official", "only staff comments can be the team's official answer")
        if changes.get("official") and comment.internal:
            raise ValidationFailed("official", "an internal note cannot be an official answer")
        before = audit.snapshot(comment, ("body", "official"))
        for key, value in changes.items():
            setattr(comment, key, value)
        if "body" in changes and changes["body"] != before["body"]:
            comment.edited_at = utcnow()
        session.flush()
        diff = audit.diff(before, audit.snapshot(comment, ("body", "official")))
        if diff:
            _record(session, actor, "portal_comment", comment.id, "staff_edit", diff, comment.body[:80])
            demand.on_comment(session, comment, actor=actor)
            if diff.get("official") == [False, True]:
                from prodops.domains.portal.service import notifications

                notifications.official_reply_on_commit(session, comment.id)
            events.emit(session, COMMENT_MODERATED, {"comment_id": comment.id, "action": "edit"})
        return comment


def delete_comment(session: Session, actor: Actor, comment_id: int, *, reason: str = "") -> Comment:
    """Remove any comment (replies stay, under a "deleted" placeholder); the idea's counter follows."""
    with transaction(session):
        comment = _comment(session, comment_id)
        if comment.state == "deleted":
            raise Conflict(None, "This comment was already deleted.")
        counted = _counts(comment)
        before = comment.state
        comment.state = "deleted"
        if counted:
            _bump_comments(session, comment.idea_id, -1)
        demand.on_comment_deleted(session, comment, actor=actor)
        changes: dict[str, list[Any]] = {"state": [before, "deleted"]}
        if reason:
            changes["reason"] = [None, reason[:500]]
        _record(session, actor, "portal_comment", comment.id, "staff_delete", changes, comment.body[:80])
        events.emit(session, COMMENT_MODERATED, {"comment_id": comment.id, "action": "delete"})
        return comment


# --- blocking -----------------------------------------------------------------------------------


def block_user(session: Session, actor: Actor, user_id: int, reason: str) -> PortalUser:
    """Block a portal user: signed out everywhere at once (their ``session_epoch`` moves on), unable to sign in,
    and their posts still waiting for moderation are rejected. Published posts stay (delete them one by one)."""
    reason = reason.strip()
    if not reason:
        raise ValidationFailed("reason", "say why, for the record (the person does not see it)")
    with transaction(session):
        user = session.get(PortalUser, user_id)
        if user is None:
            raise NotFound("portal user", user_id)
        if user.blocked_at is not None:
            raise Conflict(None, f"{user.email or 'This user'} is already blocked.")
        user.blocked_at = utcnow()
        user.blocked_reason = reason[:500]
        user.session_epoch = user.session_epoch + 1
        pending_ideas = list(session.scalars(select(Idea.id).where(Idea.author_id == user_id, Idea.state == "pending")))
        pending_comments = list(
            session.scalars(select(Comment.id).where(Comment.author_id == user_id, Comment.state == "pending"))
        )
        session.flush()
        audit.record(
            session,
            actor,
            entity_type="portal_user",
            entity_id=user.id,
            action="block",
            changes={"blocked": [False, True], "reason": [None, user.blocked_reason]},
            entity_label=user.email or f"portal user {user.id}",
        )
        if pending_ideas or pending_comments:
            moderate(session, actor, ModerationIn(action="reject", ideas=pending_ideas, comments=pending_comments))
        events.emit(session, USER_BLOCKED, {"user_id": user.id})
        return user


def unblock_user(session: Session, actor: Actor, user_id: int) -> PortalUser:
    with transaction(session):
        user = session.get(PortalUser, user_id)
        if user is None:
            raise NotFound("portal user", user_id)
        if user.blocked_at is None:
            return user
        reason = user.blocked_reason
        user.blocked_at = None
        user.blocked_reason = ""
        audit.record(
            session,
            actor,
            entity_type="portal_user",
            entity_id=user.id,
            action="unblock",
            changes={"blocked": [True, False], "reason": [reason, None]},
            entity_label=user.email or f"portal user {user.id}",
        )
        events.emit(session, USER_UNBLOCKED, {"user_id": user.id})
        return user


__all__ = [
    "COMMENT_APPROVED",
    "COMMENT_MODERATED",
    "IDEA_APPROVED",
    "IDEA_MODERATED",
    "IDEA_REJECTED",
    "USER_BLOCKED",
    "USER_UNBLOCKED",
    "block_user",
    "delete_comment",
    "delete_idea",
    "edit_comment",
    "edit_idea",
    "moderate",
    "unblock_user",
]
