"""Re-clustering: all analysed feedback into themes, keeping what people did to the themes they know.

1. Cluster the stored embeddings (:func:`.clustering.cluster`: fitted on a sample of the non-archived items, every
   analysed item assigned — archived ones too, so trends and the emerging-theme baseline do not shrink as people
   archive what they triaged).
2. Match the new clusters to the existing themes, merged ones included, by centre cosine (Hungarian algorithm,
   floor :data:`.clustering.MATCH_FLOOR`). A cluster matching a theme keeps its id, custom name and alert state;
   one matching a merged theme goes to the theme it was merged into.
3. Edited themes that matched nothing (e.g. the second half of a split, which the clustering saw as one group) stay
   in the running with their own centre: every item joins the closest of the new clusters and those themes. So a
   split stays split and a renamed theme keeps the items like its own.
4. New clusters become new themes; themes nobody edited that got no items are deleted; edited ones stay, empty.
5. Key phrases and labels are recomputed for every theme from a sample of its items, against the rest.

The maths runs before the write transaction opens; the writes (themes, then each item whose theme or score
changed) take one transaction.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from prodops.domains.feedback.models import FeedbackInsight, FeedbackTheme
from prodops.domains.feedback.service.themes import clustering, store
from prodops.domains.feedback.service.themes.events import THEMES_RECLUSTERED
from prodops.domains.feedback.service.themes.schemas import ReclusterResult
from prodops.platform import audit, events
from prodops.platform.audit import Actor
from prodops.platform.db import transaction
from prodops.platform.text import get_embedder, pack, phrases, unpack

log = logging.getLogger(__name__)

#: Fewer analysed (non-archived) items than this are not clustered: nothing changes.
MIN_ITEMS = 20
#: Analysed items after which a workspace without themes gets its first clustering (see :func:`first_themes_due`).
FIRST_THEMES_AT = 500
_CHUNK = 1_000
_SCORE_CHANGE = 0.005

# Two re-clusterings at once would only repeat work and race on the same rows; per process, like the IMAP poll.
_running = threading.Lock()


@dataclass
class _Theme:
    id: int
    centroid: NDArray[np.float32] | None
    merged_into_id: int | None
    edited: bool


def _themes(session: Session, dim: int) -> dict[int, _Theme]:
    found: dict[int, _Theme] = {}
    for tid, blob, merged_into, edited in session.execute(
        select(FeedbackTheme.id, FeedbackTheme.centroid, FeedbackTheme.merged_into_id, FeedbackTheme.edited)
    ):
        centroid = unpack([blob], dim)[0] if blob is not None and len(blob) == 2 * dim else None
        found[tid] = _Theme(tid, centroid, merged_into, bool(edited))
    return found


def survivor(themes: dict[int, _Theme], theme_id: int) -> int | None:
    """Where a theme's items go: itself, or the end of its merge chain (None if that theme is gone)."""
    seen: set[int] = set()
    current: int | None = theme_id
    while current is not None and current in themes and themes[current].merged_into_id is not None:
        if current in seen:
            break
        seen.add(current)
        current = themes[current].merged_into_id
    return current if current in themes else None


@dataclass
class _Plan:
    """The outcome of the maths. Items join *targets* (a new cluster, or an existing theme's own centre); targets
    that lead to the same theme (a theme and the themes merged into it) form one *group*."""

    labels: NDArray[np.intp]
    """Each item's group (-1: none)."""
    scores: NDArray[np.float32]
    theme_ids: list[int | None]
    """Each group's existing theme (None: a new theme)."""
    target_themes: list[int | None]
    """Each target's matched theme, before following merges (None: a new cluster)."""
    target_groups: list[int]
    target_centroids: NDArray[np.float32]
    target_sizes: NDArray[np.int64]
    fitted: int
    chosen_by: str


def plan(vectors: store.Vectors, dim: int, themes: dict[int, _Theme]) -> _Plan:
    """Steps 1–3 of the module docstring: the clustering, the matching and the final assignment (no writes)."""
    found = clustering.cluster(vectors.matrix, vectors.ids, fit_mask=~vectors.archived)
    known = [t for t in themes.values() if t.centroid is not None and survivor(themes, t.id) is not None]
    old = np.stack([t.centroid for t in known if t.centroid is not None]) if known else np.zeros((0, dim), np.float32)
    targets: list[int | None] = [None] * len(found.centroids)
    for new, old_pos, _ in clustering.match(found.centroids, old):
        targets[new] = known[old_pos].id
    centres = [found.centroids[i] for i in range(len(found.centroids))]
    matched = {t for t in targets if t is not None}
    # Themes people shaped (edited, or merged into another) that no cluster matched stay in the running with
    # their own centre: the items closest to them stay with them.
    for theme in known:
        if theme.id not in matched and (theme.edited or theme.merged_into_id is not None):
            assert theme.centroid is not None
            targets.append(theme.id)
            centres.append(theme.centroid)
    leads_to = [survivor(themes, t) if t is not None else None for t in targets]
    # A target of an edited theme may shrink, never dissolve.
    protected = np.asarray([t is not None and themes[t].edited for t in leads_to], dtype=bool)
    usable = int((np.linalg.norm(vectors.matrix.astype(np.float32), axis=1) > 0).sum())
    matrix = np.stack(centres) if centres else np.zeros((0, dim), dtype=np.float32)
    labels, scores, target_centroids, target_sizes = clustering.settle(
        vectors.matrix, matrix, clustering.min_theme_size(usable), protected
    )
    groups: list[int | None] = []
    target_groups: list[int] = []
    by_theme: dict[int, int] = {}
    for theme_id in leads_to:
        if theme_id is not None and theme_id in by_theme:
            target_groups.append(by_theme[theme_id])
            continue
        target_groups.append(len(groups))
        if theme_id is not None:
            by_theme[theme_id] = len(groups)
        groups.append(theme_id)
    mapping = np.asarray(target_groups, dtype=np.intp)
    grouped = np.where(labels >= 0, mapping[np.maximum(labels, 0)], -1) if len(mapping) else labels
    return _Plan(
        labels=grouped,
        scores=scores,
        theme_ids=groups,
        target_themes=targets,
        target_groups=target_groups,
        target_centroids=target_centroids,
        target_sizes=target_sizes,
        fitted=found.fitted_k,
        chosen_by=found.chosen_by,
    )


def _item_updates(
    vectors: store.Vectors, labels: NDArray[np.intp], scores: NDArray[np.float32], theme_of: Sequence[int | None]
) -> list[dict[str, object]]:
    updates: list[dict[str, object]] = []
    for pos in range(len(vectors)):
        group = int(labels[pos])
        theme_id = theme_of[group] if group >= 0 else None
        score = round(float(scores[pos]), 4) if theme_id is not None else None
        old_theme = int(vectors.theme_ids[pos])
        old_score = float(vectors.scores[pos])
        same_theme = (old_theme == -1 and theme_id is None) or old_theme == theme_id
        same_score = (score is None and np.isnan(old_score)) or (
            score is not None and not np.isnan(old_score) and abs(score - old_score) < _SCORE_CHANGE
        )
        if not (same_theme and same_score):
            updates.append({"item_id": int(vectors.ids[pos]), "theme_id": theme_id, "theme_score": score})
    return updates


def first_themes_due(session: Session) -> bool:
    """No theme exists yet but enough feedback is analysed to cluster: a new installation (or the demo) should get
    its themes now rather than at the nightly run."""
    if session.scalar(select(FeedbackTheme.id).limit(1)) is not None:
        return False
    return (session.scalar(select(func.count()).select_from(FeedbackInsight)) or 0) >= FIRST_THEMES_AT


def recluster(session: Session, *, actor: Actor | None = None) -> ReclusterResult:
    """Cluster all analysed feedback into themes (see the module docstring). Returns what changed; skipped (with
    the reason) while another re-clustering runs in this process or when there is too little to cluster."""
    if not _running.acquire(blocking=False):
        return ReclusterResult(skipped="another re-clustering is still running")
    try:
        return _recluster(session, actor or Actor.system("themes"))
    finally:
        _running.release()


def _write_themes(
    session: Session,
    found: _Plan,
    has_items: list[bool],
    phrases_of: dict[int, list[phrases.Phrase]],
    labels_of: dict[int, str],
    result: ReclusterResult,
) -> tuple[dict[int, FeedbackTheme], list[int | None]]:
    """Create or update the theme of each group (label, key phrases, centres); returns every theme row by id and
    each group's theme id."""
    rows = {t.id: t for t in session.scalars(select(FeedbackTheme))}
    current = {tid: _Theme(tid, None, t.merged_into_id, t.edited) for tid, t in rows.items()}
    theme_of: list[int | None] = []
    for g, theme_id in enumerate(found.theme_ids):
        target = survivor(current, theme_id) if theme_id is not None else None
        if not has_items[g]:
            theme_of.append(target)
            continue
        found_here = phrases_of[g]
        label = labels_of[g][:200]
        if target is None:
            theme = FeedbackTheme(label=label, key_phrases=[p.text for p in found_here], size=0)
            session.add(theme)
            session.flush()
            rows[theme.id] = theme
            result.created += 1
            target = theme.id
        else:
            theme = rows[target]
            theme.label = label
            theme.key_phrases = [p.text for p in found_here]
            result.kept += 1
        theme_of.append(target)
    # Each centre follows its own members: a theme's, and those of the themes merged into it (which keep catching
    # their kind of feedback for the survivor).
    for pos, group in enumerate(found.target_groups):
        if found.target_sizes[pos] == 0 or theme_of[group] is None:
            continue
        owner = found.target_themes[pos]
        centre_of = owner if owner is not None and owner in rows else theme_of[group]
        assert centre_of is not None
        rows[centre_of].centroid = pack(found.target_centroids[pos : pos + 1])[0]
    return rows, theme_of


def _recluster(session: Session, actor: Actor) -> ReclusterResult:
    started = time.perf_counter()
    dim = get_embedder().dim
    vectors = store.load_vectors(session, dim)
    active = int((~vectors.archived).sum())
    if active < MIN_ITEMS:
        session.rollback()
        return ReclusterResult(
            items=len(vectors), skipped=f"{active} analysed open items; at least {MIN_ITEMS} are needed"
        )
    themes = _themes(session, dim)
    found = plan(vectors, dim, themes)
    groups = [np.flatnonzero(found.labels == g) for g in range(len(found.theme_ids))]
    live = [g for g in range(len(groups)) if len(groups[g])]
    unthemed = vectors.ids[found.labels < 0]
    found_phrases = store.phrases_for(session, [vectors.ids[groups[g]] for g in live], unthemed)
    phrases_of = dict(zip(live, found_phrases, strict=True))
    # Labels are given largest theme first, each avoiding phrases a larger theme's label already uses.
    by_size = sorted(live, key=lambda g: -len(groups[g]))
    labels_of = dict(
        zip(by_size, phrases.distinct_labels([phrases_of[g] for g in by_size], fallback=store.NO_PHRASES), strict=True)
    )
    session.rollback()  # the reads are done; the writes below take their own transaction
    result = ReclusterResult(items=len(vectors), fitted=found.fitted, chosen_by=found.chosen_by)
    with transaction(session):
        rows, theme_of = _write_themes(session, found, [len(g) > 0 for g in groups], phrases_of, labels_of, result)
        holding = {theme_of[g] for g in live}
        removed = [tid for tid, t in rows.items() if t.merged_into_id is None and not t.edited and tid not in holding]
        result.emptied = sum(
            1 for tid, t in rows.items() if t.merged_into_id is None and t.edited and tid not in holding
        )
        updates = _item_updates(vectors, found.labels, found.scores, theme_of)
        if removed:
            session.execute(
                update(FeedbackInsight)
                .where(FeedbackInsight.theme_id.in_(removed))
                .values(theme_id=None, theme_score=None)
                .execution_options(synchronize_session=False)
            )
        for start in range(0, len(updates), _CHUNK):
            session.execute(update(FeedbackInsight), updates[start : start + _CHUNK])
        for tid in removed:
            session.delete(rows[tid])
        session.flush()
        store.recount(session)
        result.removed = len(removed)
        result.themes = len(holding)
        result.clustered = int((found.labels >= 0).sum())
        result.seconds = round(time.perf_counter() - started, 2)
        audit.record(
            session,
            actor,
            entity_type="feedback_theme",
            entity_id="all",
            action="recluster",
            changes={
                key: [None, getattr(result, key)]
                for key in ("items", "clustered", "themes", "created", "kept", "removed", "emptied")
            },
            entity_label="All themes",
        )
        events.emit(session, THEMES_RECLUSTERED, result.model_dump(exclude={"skipped"}))
    log.info("themes: %s", result.summary())
    return result
