"""Portal e-mail: followers hear about status changes and official replies; voters and followers hear about
the changelog entries that ship their ideas.

- **Status changes.** The features domain emits ``features.feature.status_changed`` after its commit; every
  change of one transaction is gathered (:func:`_open_batch` / :func:`_close_batch` around the kernel's
  after-commit dispatch) and one job tells each follower of a *published* idea of those features once per
  portal, listing every idea of theirs that moved. When the new status notifies on its own (``notify``, e.g.
  *Shipped*), the feedback hub's close-the-loop e-mail already reaches the people who asked for, voted for or
  follow the feature; followers it reaches are left out here, so nobody gets two e-mails for one launch.
- **Official replies.** :func:`official_reply_on_commit` (called by the service that posts an official staff
  comment, inside its transaction) e-mails the idea's followers once the comment is committed.
- **Launches.** :func:`announce_on_commit` (called when a changelog entry is published) e-mails the voters and
  followers of its linked ideas, each person once, however many of those ideas they voted for or follow.

Nobody deleted, blocked or without an e-mail address is mailed. Every e-mail carries the portal's name, a signed
one-click unsubscribe for *all* e-mail from that portal (``List-Unsubscribe`` + ``List-Unsubscribe-Post``, topic
``portal:<id>:updates``, honoured by every sender here) and, in idea e-mails, a signed link that unfollows that
idea (``/p/<slug>/unfollow/<token>``). User text is escaped; Markdown is rendered sanitised.
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event as sa_event
from sqlalchemy import select
from sqlalchemy.orm import Session

from prodops.domains.features import service as features
from prodops.domains.features.schemas import StatusOut
from prodops.domains.feedback import service as feedback
from prodops.domains.portal.models import (
    Board,
    ChangelogEntry,
    ChangelogIdea,
    Comment,
    Follow,
    Idea,
    Portal,
    PortalUser,
    Vote,
)
from prodops.domains.portal.service._actor import portal_actor, portal_details
from prodops.platform import audit, events
from prodops.platform.config import get_settings
from prodops.platform.db import session_scope, transaction
from prodops.platform.jobs import task
from prodops.platform.notify import email as mail
from prodops.platform.notify import optout

log = logging.getLogger(__name__)

optout.declare_topic_prefix("portal:", "e-mail from this ideas portal (updates on ideas you follow or voted for)")
optout.declare_topic_prefix("portal-idea:", "e-mail about one idea you follow on an ideas portal")

STATUS_TEMPLATE = "portal_status_changed"
REPLY_TEMPLATE = "portal_official_reply"
CHANGELOG_TEMPLATE = "portal_changelog"
EXCERPT = 600


def portal_topic(portal_id: int) -> str:
    """The opt-out topic of every e-mail a portal sends."""
    return f"portal:{portal_id}:updates"


def idea_topic(idea_id: int) -> str:
    """The topic of the signed link that unfollows one idea."""
    return f"portal-idea:{idea_id}"


def unfollow_token(email: str, idea_id: int) -> str:
    return optout.make_token(email, idea_topic(idea_id))


def read_unfollow_token(token: str) -> tuple[str, int] | None:
    """``(email, idea id)`` of a genuine unfollow token; None for anything else."""
    found = optout.read_token(token)
    if found is None or not found[1].startswith("portal-idea:"):
        return None
    try:
        return found[0], int(found[1].removeprefix("portal-idea:"))
    except ValueError:
        return None


def _base() -> str:
    return get_settings().base_url.rstrip("/")


def _portal_context(portal: Portal, email: str) -> dict[str, Any]:
    """What every portal e-mail shows: the portal's name and colour, its address, the stop-all link."""
    return {
        "portal_name": portal.name,
        "portal_color": portal.primary_color,
        "portal_url": f"{_base()}/p/{portal.slug}",
        "unsubscribe_url": optout.unsubscribe_url(email, portal_topic(portal.id)),
    }


def _send(portal: Portal, email: str, subject: str, template: str, context: dict[str, Any]) -> None:
    """Queue one portal e-mail (rendered and sent by the kernel's e-mail job) with the one-click headers."""
    mail.send_email(
        email,
        subject,
        template,
        {**_portal_context(portal, email), **context},
        headers=optout.list_unsubscribe_headers(email, portal_topic(portal.id)),
    )


@dataclass
class _Reader:
    """A portal user who may be e-mailed."""

    id: int
    email: str
    name: str
    person_id: int | None


def _readers(session: Session, user_ids: Iterable[int]) -> dict[int, _Reader]:
    """The users among ``user_ids`` who can be e-mailed: not deleted, not blocked, with an address."""
    wanted = sorted(set(user_ids))
    found: dict[int, _Reader] = {}
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        stmt = select(PortalUser.id, PortalUser.email, PortalUser.name, PortalUser.person_id).where(
            PortalUser.id.in_(chunk),
            PortalUser.deleted_at.is_(None),
            PortalUser.blocked_at.is_(None),
            PortalUser.email.is_not(None),
        )
        for uid, email, name, person_id in session.execute(stmt):
            if email:
                found[uid] = _Reader(uid, email, name or "", person_id)
    return found


def _opted_out(session: Session, readers: Iterable[_Reader], topic: str) -> set[str]:
    return optout.opted_out(session, [r.email for r in readers], topic)


def _followers(session: Session, idea_ids: Sequence[int]) -> dict[int, list[int]]:
    """idea id → the ids of the users who follow it."""
    found: dict[int, list[int]] = defaultdict(list)
    for start in range(0, len(idea_ids), 500):
        chunk = list(idea_ids[start : start + 500])
        for idea_id, user_id in session.execute(
            select(Follow.idea_id, Follow.user_id).where(Follow.idea_id.in_(chunk)).order_by(Follow.id)
        ):
            found[idea_id].append(user_id)
    return found


def _excerpt(text: str) -> str:
    text = text.strip()
    return text if len(text) <= EXCERPT else text[: EXCERPT - 1].rsplit(" ", 1)[0] + "…"


# --- status changes: gathered per transaction --------------------------------------------------

_local = threading.local()


def _batches() -> list[list[dict[str, Any]]]:
    stack: list[list[dict[str, Any]]] | None = getattr(_local, "stack", None)
    if stack is None:
        stack = []
        _local.stack = stack
    return stack


@sa_event.listens_for(Session, "after_transaction_end", insert=True)
def _open_batch(session: Session, transaction: Any) -> None:
    # Runs before the kernel dispatches a committed transaction's events (insert=True puts it first), so the
    # status changes of one transaction land in one batch; transactions ended by handlers get batches of their own.
    _batches().append([])


@sa_event.listens_for(Session, "after_transaction_end")
def _close_batch(session: Session, transaction: Any) -> None:
    stack = _batches()
    if not stack:
        return
    changes = stack.pop()
    if changes:
        try:
            status_changes_job(changes)
        except Exception:  # never fail the caller's commit because a notice could not be queued
            log.exception("could not queue portal status e-mails for %s", changes)


@events.subscribe(features.STATUS_CHANGED)
def _on_status_changed(ev: events.Event) -> None:
    change = {k: ev.payload.get(k) for k in ("feature_id", "product_id", "from_status", "to_status", "to_kind")}
    change["notify"] = bool(ev.payload.get("notify"))
    stack = _batches()
    if stack:
        stack[-1].append(change)
    else:  # dispatched outside a commit (a direct dispatch): nothing to gather with
        status_changes_job([change])


@dataclass
class _Moved:
    idea_id: int
    title: str
    from_label: str
    to_label: str
    to_kind: str


@dataclass
class _Letter:
    reader: _Reader
    portal: Portal
    moved: list[_Moved] = field(default_factory=list)


def _label(lifecycle: list[StatusOut], key: str | None) -> str:
    return next((s.label for s in lifecycle if s.key == key), key or "")


def notify_status_changes(session: Session, changes: Sequence[dict[str, Any]]) -> int:
    """E-mail the followers of the published ideas of the changed features, one e-mail per follower and portal
    listing each of their ideas that moved. Returns the number of e-mails queued."""
    per_feature: dict[int, dict[str, Any]] = {}
    for change in changes:
        fid = int(change["feature_id"])
        if fid in per_feature:  # moved twice in one transaction: from the first status to the last
            per_feature[fid] = {**change, "from_status": per_feature[fid]["from_status"]}
        else:
            per_feature[fid] = dict(change)
    per_feature = {f: c for f, c in per_feature.items() if c["from_status"] != c["to_status"]}
    if not per_feature:
        return 0
    rows = session.execute(
        select(Idea.id, Idea.title, Idea.feature_id, Portal)
        .join(Board, Board.id == Idea.board_id)
        .join(Portal, Portal.id == Board.portal_id)
        .where(Idea.feature_id.in_(sorted(per_feature)), Idea.state == "published", Portal.enabled.is_(True))
        .order_by(Idea.id)
    ).all()
    if not rows:
        return 0
    followers = _followers(session, [r[0] for r in rows])
    readers = _readers(session, (u for users in followers.values() for u in users))
    told_by_loop: dict[int, set[int]] = {}
    for fid, change in per_feature.items():
        if change["notify"]:
            told_by_loop[fid] = set(feedback.loop.audience(session, fid))
    lifecycles: dict[int | None, list[StatusOut]] = {}
    letters: dict[tuple[int, int], _Letter] = {}
    for idea_id, title, feature_id, portal in rows:
        change = per_feature[feature_id]
        product_id = change.get("product_id")
        if product_id not in lifecycles:
            lifecycles[product_id] = features.statuses_for(session, product_id)
        lifecycle = lifecycles[product_id]
        moved = _Moved(
            idea_id,
            title,
            _label(lifecycle, change["from_status"]),
            _label(lifecycle, change["to_status"]),
            str(change.get("to_kind") or ""),
        )
        for user_id in followers.get(idea_id, []):
            reader = readers.get(user_id)
            if reader is None or (
                reader.person_id is not None and reader.person_id in told_by_loop.get(feature_id, ())
            ):
                continue
            letters.setdefault((user_id, portal.id), _Letter(reader, portal)).moved.append(moved)
    return _post_status_letters(session, list(letters.values()))


def _post_status_letters(session: Session, letters: list[_Letter]) -> int:
    sent = 0
    by_portal: dict[int, list[_Letter]] = defaultdict(list)
    for letter in letters:
        by_portal[letter.portal.id].append(letter)
    for portal_id, group in by_portal.items():
        opted = _opted_out(session, (letter.reader for letter in group), portal_topic(portal_id))
        # Who opted out of single ideas (an unfollow token taken to the general unsubscribe page): one query per idea.
        idea_ids = sorted({m.idea_id for letter in group for m in letter.moved})
        emails = [letter.reader.email for letter in group]
        unfollowed = {i: optout.opted_out(session, emails, idea_topic(i)) for i in idea_ids}
        for letter in group:
            address = letter.reader.email.lower()
            if address in opted:
                continue
            moved = [m for m in letter.moved if address not in unfollowed[m.idea_id]]
            if not moved:
                continue
            portal = letter.portal
            if len(moved) == 1:
                subject = f"{portal.name}: “{moved[0].title}” is now {moved[0].to_label.lower()}"
            else:
                subject = f"{portal.name}: {len(moved)} ideas you follow have a new status"
            ideas = [
                {
                    "title": m.title,
                    "from_label": m.from_label,
                    "to_label": m.to_label,
                    "to_kind": m.to_kind,
                    "url": f"{_base()}/p/{portal.slug}/i/{m.idea_id}",
                    "unfollow_url": f"{_base()}/p/{portal.slug}/unfollow/{unfollow_token(letter.reader.email, m.idea_id)}",
                }
                for m in moved
            ]
            _send(portal, letter.reader.email, subject, STATUS_TEMPLATE, {"name": letter.reader.name, "ideas": ideas})
            sent += 1
    return sent


@task()
def status_changes_job(changes: list[dict[str, Any]]) -> None:
    """Tell followers about the status changes of one transaction (queued after it commits)."""
    with session_scope() as session:
        sent = notify_status_changes(session, changes)
    if sent:
        log.info("portal: %s status e-mail(s) queued for %s change(s)", sent, len(changes))


# --- official replies ------------------------------------------------------------------------------


def official_reply_on_commit(session: Session, comment_id: int) -> None:
    """Call inside the transaction that publishes an official staff comment: its idea's followers are e-mailed
    once the transaction commits (nothing is sent when it rolls back)."""

    def enqueue() -> None:
        official_reply_job(comment_id)

    events.on_commit(session, enqueue)


def notify_official_reply(session: Session, comment_id: int) -> int:
    """E-mail the idea's followers an official reply (published, not internal, on a published idea)."""
    row = session.execute(
        select(Comment, Idea.title, Idea.id, Portal)
        .join(Idea, Idea.id == Comment.idea_id)
        .join(Board, Board.id == Idea.board_id)
        .join(Portal, Portal.id == Board.portal_id)
        .where(Comment.id == comment_id)
    ).first()
    if row is None:
        return 0
    comment, title, idea_id, portal = row
    idea_state = session.scalar(select(Idea.state).where(Idea.id == idea_id))
    if (
        not comment.official
        or comment.internal
        or comment.state != "published"
        or idea_state != "published"
        or not portal.enabled
    ):
        return 0
    readers = _readers(session, _followers(session, [idea_id]).get(idea_id, []))
    readers = {uid: r for uid, r in readers.items() if uid != comment.author_id}
    opted = _opted_out(session, readers.values(), portal_topic(portal.id))
    unfollowed = optout.opted_out(session, [r.email for r in readers.values()], idea_topic(idea_id))
    sent = 0
    for reader in readers.values():
        if reader.email.lower() in opted or reader.email.lower() in unfollowed:
            continue
        _send(
            portal,
            reader.email,
            f"{portal.name}: the team replied to “{title}”",
            REPLY_TEMPLATE,
            {
                "name": reader.name,
                "idea_title": title,
                "reply": comment.body,
                "url": f"{_base()}/p/{portal.slug}/i/{idea_id}#comment-{comment.id}",
                "unfollow_url": f"{_base()}/p/{portal.slug}/unfollow/{unfollow_token(reader.email, idea_id)}",
            },
        )
        sent += 1
    return sent


@task()
def official_reply_job(comment_id: int) -> None:
    with session_scope() as session:
        notify_official_reply(session, comment_id)


# --- launches: changelog entries ------------------------------------------------------------------


def announce_on_commit(session: Session, entry_id: int) -> None:
    """Call inside the transaction that publishes a changelog entry: its ideas' voters and followers are
    e-mailed once it commits."""

    def enqueue() -> None:
        changelog_job(entry_id)

    events.on_commit(session, enqueue)


def changelog_audience(session: Session, entry_id: int) -> dict[int, dict[str, list[int]]]:
    """user id → ``{"voted": [idea ids], "follows": [idea ids]}`` among the entry's linked ideas (deleted ideas
    left out), before anyone is filtered out."""
    idea_ids = list(
        session.scalars(
            select(ChangelogIdea.idea_id)
            .join(Idea, Idea.id == ChangelogIdea.idea_id)
            .where(ChangelogIdea.entry_id == entry_id, Idea.state != "deleted")
        )
    )
    found: dict[int, dict[str, list[int]]] = defaultdict(lambda: {"voted": [], "follows": []})
    for start in range(0, len(idea_ids), 500):
        chunk = idea_ids[start : start + 500]
        for idea_id, user_id in session.execute(select(Vote.idea_id, Vote.user_id).where(Vote.idea_id.in_(chunk))):
            found[user_id]["voted"].append(idea_id)
        for idea_id, user_id in session.execute(
            select(Follow.idea_id, Follow.user_id).where(Follow.idea_id.in_(chunk))
        ):
            found[user_id]["follows"].append(idea_id)
    return dict(found)


def notify_changelog(session: Session, entry_id: int) -> int:
    """E-mail a published entry to the voters and followers of its ideas, each once. Returns e-mails queued."""
    row = session.execute(
        select(ChangelogEntry, Portal)
        .join(Portal, Portal.id == ChangelogEntry.portal_id)
        .where(ChangelogEntry.id == entry_id)
    ).first()
    if row is None:
        return 0
    entry, portal = row
    if entry.published_at is None or not portal.enabled:
        return 0
    audience = changelog_audience(session, entry_id)
    readers = _readers(session, audience)
    opted = _opted_out(session, readers.values(), portal_topic(portal.id))
    titles = dict(
        session.execute(
            select(Idea.id, Idea.title)
            .join(ChangelogIdea, ChangelogIdea.idea_id == Idea.id)
            .where(ChangelogIdea.entry_id == entry_id)
        ).all()
    )
    sent = 0
    for user_id, reader in readers.items():
        if reader.email.lower() in opted:
            continue
        why = audience[user_id]
        mine = list(dict.fromkeys([*why["voted"], *why["follows"]]))
        ideas = [
            {
                "title": titles.get(i, ""),
                "voted": i in why["voted"],
                "url": f"{_base()}/p/{portal.slug}/i/{i}",
            }
            for i in mine
        ]
        _send(
            portal,
            reader.email,
            f"{portal.name}: {entry.title}",
            CHANGELOG_TEMPLATE,
            {
                "name": reader.name,
                "entry_title": entry.title,
                "entry_body": entry.body,
                "entry_url": f"{_base()}/p/{portal.slug}/changelog/{entry.id}",
                "ideas": ideas,
            },
        )
        sent += 1
    return sent


@task()
def changelog_job(entry_id: int) -> None:
    """E-mail a just-published changelog entry to its ideas' voters and followers."""
    with session_scope() as session:
        sent = notify_changelog(session, entry_id)
    log.info("portal: changelog entry %s e-mailed to %s people", entry_id, sent)


# --- unfollow by link ------------------------------------------------------------------------------


@dataclass(frozen=True)
class UnfollowView:
    email: str
    idea_id: int
    idea_title: str
    following: bool


def unfollow_view(session: Session, token: str) -> UnfollowView | None:
    """What an unfollow link names (for its confirmation page); None for a forged or foreign link."""
    found = read_unfollow_token(token)
    if found is None:
        return None
    email, idea_id = found
    title = session.scalar(select(Idea.title).where(Idea.id == idea_id))
    if title is None:
        return None
    user_id = session.scalar(select(PortalUser.id).where(PortalUser.email == email))
    following = (
        user_id is not None
        and session.scalar(select(Follow.id).where(Follow.idea_id == idea_id, Follow.user_id == user_id)) is not None
    )
    return UnfollowView(email, idea_id, title, following)


def unfollow_by_token(session: Session, token: str) -> UnfollowView | None:
    """Stop following the idea a signed link names (the link is the credential); harmless twice."""
    view = unfollow_view(session, token)
    if view is None:
        return None
    with transaction(session):
        user = session.scalar(select(PortalUser).where(PortalUser.email == view.email))
        if user is not None:
            follow = session.scalar(select(Follow).where(Follow.idea_id == view.idea_id, Follow.user_id == user.id))
            removed = follow is not None
            if follow is not None:
                session.delete(follow)
            if removed:
                audit.record(
                    session,
                    portal_actor(user),
                    entity_type="portal_idea",
                    entity_id=view.idea_id,
                    action="unfollow",
                    changes={"via": [None, "e-mail link"], **portal_details(user)},
                    entity_label=view.idea_title,
                )
    return UnfollowView(view.email, view.idea_id, view.idea_title, False)
