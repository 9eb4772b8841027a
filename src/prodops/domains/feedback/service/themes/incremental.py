"""New items join the existing themes as they arrive, without waiting for (or ever blocking on) a re-clustering."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from prodops.domains.feedback.models import FeedbackInsight, FeedbackTheme
from prodops.domains.feedback.service.themes import clustering
from prodops.platform.db import transaction
from prodops.platform.text import unpack

_CHUNK = 500


def active_centroids(session: Session, dim: int) -> tuple[list[int], NDArray[np.float32]]:
    """The centres new items may join, each with the theme its items go to: every theme with a centre of this
    width, a merged theme leading to the theme it was merged into (so it keeps catching its kind of feedback for
    the survivor). An edited theme left empty still catches items like the ones it had."""
    rows = session.execute(
        select(FeedbackTheme.id, FeedbackTheme.merged_into_id, FeedbackTheme.centroid).order_by(FeedbackTheme.id)
    ).all()
    merged_into = {tid: into for tid, into, _ in rows}

    def leads_to(theme_id: int) -> int | None:
        seen: set[int] = set()
        current: int | None = theme_id
        while current is not None and merged_into.get(current) is not None and current not in seen:
            seen.add(current)
            current = merged_into[current]
        return current if current in merged_into else None

    usable = [
        (target, blob)
        for tid, _, blob in rows
        if blob is not None and len(blob) == 2 * dim and (target := leads_to(tid)) is not None
    ]
    return [target for target, _ in usable], unpack([blob for _, blob in usable], dim)


def assign(
    session: Session, item_ids: Sequence[int], vectors: NDArray[np.floating]
) -> dict[int, tuple[int | None, float]]:
    """Each item's theme: the closest active theme it is close enough to join (cosine at least
    ``ASSIGN_RATIO`` × the theme's tightness, see :mod:`.clustering`), else None until the next clustering.

    Returns ``{item_id: (theme_id or None, cosine)}`` (the cosine to the closest theme when it joins none). Items
    that already have an analysis row get the theme written on it; theme sizes follow. An item that joins no theme
    keeps the one it had (the analysis upsert does the same). Runs inside the caller's transaction when there is one.
    """
    ids = [int(i) for i in item_ids]
    matrix = np.asarray(vectors, dtype=np.float32)
    if not ids:
        return {}
    if matrix.ndim != 2 or matrix.shape[0] != len(ids):
        raise ValueError(f"{len(ids)} item ids but vectors of shape {matrix.shape}")
    theme_ids, centroids = active_centroids(session, matrix.shape[1])
    if not theme_ids:
        return dict.fromkeys(ids, (None, 0.0))
    labels, scores = clustering.assign_passing(matrix, centroids)
    result: dict[int, tuple[int | None, float]] = {}
    for pos, item_id in enumerate(ids):
        label = int(labels[pos])
        result[item_id] = (theme_ids[label] if label >= 0 else None, round(float(scores[pos]), 4))
    with transaction(session):
        current: dict[int, int | None] = {}
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start : start + _CHUNK]
            for item_id, theme_id in session.execute(
                select(FeedbackInsight.item_id, FeedbackInsight.theme_id).where(FeedbackInsight.item_id.in_(chunk))
            ):
                current[item_id] = theme_id
        changes = Counter[int]()
        updates = []
        for item_id, (theme_id, score) in result.items():
            if theme_id is None:
                continue
            old = current.get(item_id)
            if old != theme_id:
                changes[theme_id] += 1
                if old is not None:
                    changes[old] -= 1
            if item_id in current:
                updates.append({"item_id": item_id, "theme_id": theme_id, "theme_score": score})
        for start in range(0, len(updates), _CHUNK):
            session.execute(update(FeedbackInsight), updates[start : start + _CHUNK])
        for theme_id, delta in changes.items():
            if delta:
                session.execute(
                    update(FeedbackTheme)
                    .where(FeedbackTheme.id == theme_id)
                    .values(size=FeedbackTheme.size + delta)
                    .execution_options(synchronize_session=False)
                )
    return result
