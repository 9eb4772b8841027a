"""What people do to themes: rename, merge, split. Each marks the themes edited, so a re-clustering keeps them
(see :mod:`.recluster`), and is audited."""

from __future__ import annotations

from typing import Any

import numpy as np
from sqlalchemy import Select, func, select, update
from sqlalchemy.orm import Session

from prodops.domains.feedback.models import FeedbackInsight, FeedbackTheme
from prodops.domains.feedback.queries.themes import ThemeDetail, get_theme
from prodops.domains.feedback.service.themes import clustering, store
from prodops.domains.feedback.service.themes.events import THEME_CHANGED
from prodops.domains.feedback.service.themes.schemas import ThemeMerge, ThemeRename, ThemeSplit
from prodops.platform import audit, events
from prodops.platform.audit import Actor
from prodops.platform.db import transaction
from prodops.platform.errors import Conflict, NotFound, ValidationFailed
from prodops.platform.text import get_embedder, pack, unpack

ENTITY = "feedback_theme"
_CHUNK = 1_000


def _label(theme: FeedbackTheme) -> str:
    return theme.custom_label or theme.label


def _theme(session: Session, theme_id: int) -> FeedbackTheme:
    theme = session.get(FeedbackTheme, theme_id)
    if theme is None:
        raise NotFound("theme", theme_id)
    return theme


def _refuse_merged(theme: FeedbackTheme) -> None:
    if theme.merged_into_id is not None:
        raise Conflict(
            None, f"theme {theme.id} was merged into theme {theme.merged_into_id}; change that theme instead"
        )


def rename(session: Session, actor: Actor, theme_id: int, data: ThemeRename) -> ThemeDetail:
    """Give a theme a name people chose (kept across re-clustering), or clear it to show the generated label."""
    with transaction(session):
        theme = _theme(session, theme_id)
        _refuse_merged(theme)
        before = theme.custom_label
        if before != data.label:
            theme.custom_label = data.label
            theme.edited = True
            audit.record(
                session,
                actor,
                entity_type=ENTITY,
                entity_id=theme.id,
                action="rename",
                changes={"custom_label": [before, data.label]},
                entity_label=_label(theme),
            )
            events.emit(session, THEME_CHANGED, {"action": "rename", "theme_id": theme.id, "label": _label(theme)})
    return get_theme(session, theme_id)


def merge(session: Session, actor: Actor, theme_id: int, data: ThemeMerge) -> ThemeDetail:
    """Move every item of ``theme_id`` into ``data.into_id`` and mark the first merged: later re-clusterings that
    find it again put its items into the survivor. Returns the survivor."""
    if data.into_id == theme_id:
        raise ValidationFailed("into_id", "a theme cannot be merged into itself")
    with transaction(session):
        theme = _theme(session, theme_id)
        _refuse_merged(theme)
        into = session.get(FeedbackTheme, data.into_id)
        if into is None:
            raise ValidationFailed("into_id", f"there is no theme {data.into_id}")
        if into.merged_into_id is not None:
            raise ValidationFailed(
                "into_id", f"theme {into.id} was itself merged into theme {into.merged_into_id}; merge into that one"
            )
        # Both themes keep their own centres: new feedback like either one joins the survivor, and a re-clustering
        # that finds either group again puts it in the survivor.
        session.execute(
            update(FeedbackInsight)
            .where(FeedbackInsight.theme_id == theme.id)
            .values(theme_id=into.id)
            .execution_options(synchronize_session=False)
        )
        # Themes merged into this one earlier now lead straight to the survivor.
        session.execute(
            update(FeedbackTheme)
            .where(FeedbackTheme.merged_into_id == theme.id)
            .values(merged_into_id=into.id)
            .execution_options(synchronize_session="fetch")
        )
        theme.merged_into_id = into.id
        theme.edited = True
        into.edited = True
        session.flush()
        store.recount(session, [theme.id, into.id])
        store.refresh_phrases(session, [into.id])
        audit.record(
            session,
            actor,
            entity_type=ENTITY,
            entity_id=theme.id,
            action="merge",
            changes={"merged_into_id": [None, into.id]},
            entity_label=_label(theme),
        )
        audit.record(
            session,
            actor,
            entity_type=ENTITY,
            entity_id=into.id,
            action="merge_in",
            changes={"merged_from": [None, theme.id]},
            entity_label=_label(into),
        )
        events.emit(session, THEME_CHANGED, {"action": "merge", "theme_id": theme.id, "into_id": into.id})
        survivor = into.id
    return get_theme(session, survivor)


def split(session: Session, actor: Actor, theme_id: int, data: ThemeSplit) -> list[ThemeDetail]:
    """Re-cluster one theme's items into ``data.parts`` themes. The largest part keeps the theme (its id, name and
    alert state); the others become new themes. All parts are marked edited, so re-clustering keeps them apart.
    Returns the parts, largest first."""
    dim = get_embedder().dim
    theme = _theme(session, theme_id)
    _refuse_merged(theme)
    members = store.load_vectors(session, dim, theme_id=theme_id)
    needed = data.parts * clustering.MIN_THEME_ITEMS
    if len(members) < needed:
        raise ValidationFailed(
            "parts",
            f"this theme has {len(members)} analysed item{'s' if len(members) != 1 else ''}; splitting it into "
            f"{data.parts} needs at least {needed}",
        )
    labels = clustering.split(members.matrix, members.ids, data.parts)
    order = clustering.order_by_size(labels.tolist())
    if len(order) < 2:
        raise ValidationFailed("parts", "its items are too alike to tell apart")
    remap = np.full(data.parts, -1, dtype=np.intp)
    remap[order] = np.arange(len(order))
    parts = np.where(labels >= 0, remap[np.maximum(labels, 0)], -1)
    centroids, _ = clustering.means(members.matrix, parts, len(order))
    directions = clustering.unit(centroids)
    with transaction(session):
        theme = _theme(session, theme_id)
        _refuse_merged(theme)
        part_ids = [theme.id]
        theme.centroid = pack(centroids[:1])[0]
        theme.edited = True
        for n in range(1, len(order)):
            new = FeedbackTheme(label="", key_phrases=[], centroid=pack(centroids[n : n + 1])[0], size=0, edited=True)
            session.add(new)
            session.flush()
            part_ids.append(new.id)
        updates = []
        for pos, item_id in enumerate(members.ids.tolist()):
            part = int(parts[pos])
            if part < 0:
                continue  # an item without text stays where it was
            score = float(members.matrix[pos].astype(np.float32) @ directions[part])
            updates.append({"item_id": item_id, "theme_id": part_ids[part], "theme_score": round(score, 4)})
        for start in range(0, len(updates), _CHUNK):
            session.execute(update(FeedbackInsight), updates[start : start + _CHUNK])
        # Themes merged into this one earlier now lead to the part closest to them: the split is the newer decision.
        for merged in session.scalars(select(FeedbackTheme).where(FeedbackTheme.merged_into_id == theme.id)):
            if merged.centroid is not None and len(merged.centroid) == 2 * dim:
                closest = int(np.argmax(directions @ unpack([merged.centroid], dim)[0]))
                merged.merged_into_id = part_ids[closest]
        session.flush()
        store.recount(session, part_ids)
        store.refresh_phrases(session, part_ids)
        for part_id in part_ids[1:]:
            created = session.get(FeedbackTheme, part_id)
            assert created is not None
            audit.record(
                session,
                actor,
                entity_type=ENTITY,
                entity_id=part_id,
                action="create",
                changes={"split_from": [None, theme.id], "size": [None, created.size]},
                entity_label=_label(created),
            )
        audit.record(
            session,
            actor,
            entity_type=ENTITY,
            entity_id=theme.id,
            action="split",
            changes={"parts": [None, part_ids], "size": [len(members), theme.size]},
            entity_label=_label(theme),
        )
        events.emit(session, THEME_CHANGED, {"action": "split", "theme_id": theme.id, "parts": part_ids})
    return [get_theme(session, part_id) for part_id in part_ids]


def members_of(session: Session, theme_id: int) -> list[int]:
    """Item ids of a theme, in id order."""
    return list(
        session.scalars(
            select(FeedbackInsight.item_id)
            .where(FeedbackInsight.theme_id == theme_id)
            .order_by(FeedbackInsight.item_id)
        )
    )


def theme_counts(session: Session, item_ids: Select[Any], limit: int = 10) -> list[tuple[int, str, int]]:
    """(theme id, label, items) of the themes the given items (``SELECT item id``) fall in, largest first — for other
    domains' breakdowns, e.g. surveys' themes of promoters, passives and detractors."""
    label = func.coalesce(FeedbackTheme.custom_label, FeedbackTheme.label)
    stmt = (
        select(FeedbackTheme.id, label, func.count())
        .join(FeedbackInsight, FeedbackInsight.theme_id == FeedbackTheme.id)
        .where(FeedbackInsight.item_id.in_(item_ids))
        .group_by(FeedbackTheme.id, label)
        .order_by(func.count().desc(), FeedbackTheme.id)
        .limit(limit)
    )
    return [(int(tid), str(name), int(n)) for tid, name, n in session.execute(stmt)]
