"""Merging duplicate features: votes, subscribers, tags and (through hooks) other domains' links move to the survivor."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from prodops.domains.features import queries
from prodops.domains.features.models import Feature, FeatureSubscriber, FeatureVote
from prodops.domains.features.schemas import MAX_TAGS, FeatureOut
from prodops.domains.features.service._shared import FEATURE_MERGED, record
from prodops.platform import events
from prodops.platform.audit import Actor
from prodops.platform.db import transaction
from prodops.platform.errors import Conflict, NotFound, ValidationFailed

MergeHook = Callable[[Session, int, int], None]
"""``hook(session, source_id, target_id)``: runs inside the merge's transaction; raising undoes the whole merge."""

_merge_hooks: list[MergeHook] = []


def on_merge(hook: MergeHook) -> MergeHook:
    """Register a function that moves a domain's own rows from a merged feature to the survivor (usable as a
    decorator). It runs inside the merge's transaction, after votes and subscribers moved; it must not commit."""
    if hook not in _merge_hooks:
        _merge_hooks.append(hook)
    return hook


def _count(session: Session, stmt: Any) -> int:
    return session.scalar(select(func.count()).select_from(stmt.subquery())) or 0


def _move(session: Session, model: type[FeatureVote] | type[FeatureSubscriber], source_id: int, target_id: int) -> int:
    """Move one person-per-feature table's rows; a person already on the target keeps theirs. Returns rows moved."""
    on_target = select(model.person_id).where(model.feature_id == target_id)
    session.execute(delete(model).where(model.feature_id == source_id, model.person_id.in_(on_target)))
    moved = _count(session, select(model.id).where(model.feature_id == source_id))
    session.execute(update(model).where(model.feature_id == source_id).values(feature_id=target_id))
    return moved


def merge_features(session: Session, actor: Actor, source_id: int, target_id: int) -> FeatureOut:
    """Merge feature ``source_id`` into ``target_id`` (the survivor) and return the survivor.

    Votes and subscribers move (one per person), the source's tags are added to the target's, every hook
    registered with :func:`on_merge` runs in the same transaction, and the source stays as a redirect
    (``merged_into_id``); features merged into the source earlier now point at the survivor too."""
    if source_id == target_id:
        raise ValidationFailed("into", "A feature cannot be merged into itself; pick another feature.")
    with transaction(session):
        source = session.get(Feature, source_id)
        if source is None:
            raise NotFound("feature", source_id)
        target = session.get(Feature, target_id)
        if target is None:
            raise ValidationFailed("into", f"there is no feature {target_id}")
        if source.merged_into_id is not None:
            raise Conflict(None, f"“{source.title}” was already merged into feature {source.merged_into_id}.")
        if target.merged_into_id is not None:
            raise ValidationFailed(
                "into",
                f"“{target.title}” was itself merged into feature {target.merged_into_id}; merge into that one instead.",
            )
        votes_before = _count(session, select(FeatureVote.id).where(FeatureVote.feature_id == target_id))
        subs_before = _count(session, select(FeatureSubscriber.id).where(FeatureSubscriber.feature_id == target_id))
        votes_moved = _move(session, FeatureVote, source_id, target_id)
        subs_moved = _move(session, FeatureSubscriber, source_id, target_id)

        tags_before = list(target.tags or [])
        merged_tags = list(dict.fromkeys([*tags_before, *(source.tags or [])]))[:MAX_TAGS]
        if merged_tags != tags_before:
            target.tags = merged_tags
        source.merged_into_id = target_id
        session.execute(update(Feature).where(Feature.merged_into_id == source_id).values(merged_into_id=target_id))
        session.flush()
        for hook in list(_merge_hooks):
            hook(session, source_id, target_id)

        record(session, actor, source, "merge", {"merged_into_id": [None, target_id]})
        target_changes: dict[str, list[Any]] = {"merged_from": [None, f"#{source_id} {source.title}"]}
        if merged_tags != tags_before:
            target_changes["tags"] = [tags_before, merged_tags]
        if votes_moved:
            target_changes["votes"] = [votes_before, votes_before + votes_moved]
        if subs_moved:
            target_changes["subscribers"] = [subs_before, subs_before + subs_moved]
        record(session, actor, target, "merge_in", target_changes)
        events.emit(
            session,
            FEATURE_MERGED,
            {
                "source_id": source_id,
                "target_id": target_id,
                "source_title": source.title,
                "target_title": target.title,
                "votes_moved": votes_moved,
                "subscribers_moved": subs_moved,
            },
        )
    return queries.get_feature(session, target_id)
