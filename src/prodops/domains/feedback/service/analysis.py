"""The analysis pipeline: what the offline models conclude about each feedback item, stored with the item.

:func:`analyse` takes a batch of items through every model at once — one embedding call (texts sorted by length,
so a transformer pads little), the type classifier, sentiment, the near-duplicate search against the stored items
and features, and the incremental theme assignment — and writes the results in one transaction per batch with a
few bulk statements per 500 items: an upsert of ``FeedbackInsight`` rows (a type a person set is never replaced)
and the item's open ``Suggestion`` rows (dismissed ones stay dismissed). Running it again gives the same rows.

Every insight records ``model_version`` (embedder | type model | sentiment model): :func:`stale_items` finds the
items whose analysis is missing or was made by other models, and the periodic sweep re-analyses them. Pages only
read what is stored; the jobs that call this live in ``feedback/jobs.py``.

Features get embeddings too (``FeatureVector``), recomputed only when their title or description changed (a hash
of the text) or the embedder did: :func:`refresh_feature_vectors`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import case, delete, func, insert, select
from sqlalchemy.orm import Session

from prodops.domains.features import service as features
from prodops.domains.feedback.models import FeatureVector, FeedbackInsight, FeedbackItem, Suggestion
from prodops.domains.feedback.service import similar, themes, types
from prodops.platform.db import transaction, utcnow
from prodops.platform.text import get_embedder, pack, sentiment

log = logging.getLogger(__name__)

#: Items per transaction: big enough for bulk statements to pay off, small enough to keep locks short.
BATCH = 1000
_CHUNK = 500
#: Longer texts are cut for the models (the stored item keeps its whole text).
MAX_CHARS = 5000


@dataclass
class AnalysisResult:
    analysed: int = 0
    suggestions: int = 0
    missing: int = 0
    """Ids asked for that are not (or no longer) items."""
    model_version: str = ""


def model_version(session: Session) -> str:
    """Which models the current analysis uses; stored with every insight (at most 120 characters)."""
    return f"{get_embedder().name}|{types.model_version(session)}|{sentiment.VERSION}"[:120]


def item_text(title: str | None, text: str) -> str:
    """What the models read of an item: its title (when it has one) and text."""
    title = (title or "").strip()
    return (f"{title}\n{text}" if title else text)[:MAX_CHARS]


def _dialect_insert(session: Session, model: Any) -> Any:
    name = session.get_bind().dialect.name
    if name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(model)
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(model)


def _upsert_insights(session: Session, rows: list[dict[str, Any]]) -> None:
    stmt = _dialect_insert(session, FeedbackInsight)
    new = stmt.excluded
    by_user = FeedbackInsight.kind_source == "user"
    stmt = stmt.on_conflict_do_update(
        index_elements=[FeedbackInsight.item_id],
        set_={
            # A type a person chose stays; the model's guess only fills the others.
            "kind": case((by_user, FeedbackInsight.kind), else_=new.kind),
            "kind_confidence": case((by_user, FeedbackInsight.kind_confidence), else_=new.kind_confidence),
            "sentiment": new.sentiment,
            # An item the incremental assignment leaves without a theme keeps the one clustering gave it.
            "theme_id": func.coalesce(new.theme_id, FeedbackInsight.theme_id),
            "theme_score": case((new.theme_id.is_(None), FeedbackInsight.theme_score), else_=new.theme_score),
            "embedding": new.embedding,
            "model_version": new.model_version,
            "analysed_at": new.analysed_at,
        },
    )
    for start in range(0, len(rows), _CHUNK):
        session.execute(stmt, rows[start : start + _CHUNK])


def _replace_suggestions(session: Session, ids: list[int], matches: dict[int, list[similar.Match]]) -> int:
    dismissed: set[tuple[int, str, int]] = set()
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        dismissed.update(
            (item_id, target_type, target_id)
            for item_id, target_type, target_id in session.execute(
                select(Suggestion.item_id, Suggestion.target_type, Suggestion.target_id).where(
                    Suggestion.item_id.in_(chunk), Suggestion.dismissed.is_(True)
                )
            )
        )
        session.execute(delete(Suggestion).where(Suggestion.item_id.in_(chunk), Suggestion.dismissed.is_(False)))
    now = utcnow()
    rows = [
        {
            "item_id": item_id,
            "target_type": m.target_type,
            "target_id": m.target_id,
            "score": m.score,
            "dismissed": False,
            "created_at": now,
        }
        for item_id in ids
        for m in matches.get(item_id, [])
        if (item_id, m.target_type, m.target_id) not in dismissed
    ]
    for start in range(0, len(rows), _CHUNK):
        session.execute(insert(Suggestion), rows[start : start + _CHUNK])
    # An earlier item gets the new one as similar feedback too, so what is suggested does not depend on the order
    # items arrived in (a suggestion it already has, or dismissed, stays as it is).
    batch = set(ids)
    reverse = [
        {**row, "item_id": row["target_id"], "target_id": row["item_id"]}
        for row in rows
        if row["target_type"] == "item" and row["target_id"] not in batch
    ]
    if reverse:
        stmt = _dialect_insert(session, Suggestion).on_conflict_do_nothing(
            index_elements=[Suggestion.item_id, Suggestion.target_type, Suggestion.target_id]
        )
        for start in range(0, len(reverse), _CHUNK):
            session.execute(stmt, reverse[start : start + _CHUNK])
    return len(rows)


def _analyse_batch(session: Session, ids: Sequence[int], version: str, result: AnalysisResult) -> None:
    rows: list[tuple[int, str | None, str]] = []
    for start in range(0, len(ids), _CHUNK):
        rows.extend(
            (item_id, title, text)
            for item_id, title, text in session.execute(
                select(FeedbackItem.id, FeedbackItem.title, FeedbackItem.text).where(
                    FeedbackItem.id.in_(ids[start : start + _CHUNK])
                )
            )
        )
    result.missing += len(set(ids)) - len(rows)
    if not rows:
        return
    rows.sort()
    item_ids = [r[0] for r in rows]
    texts = [item_text(r[1], r[2]) for r in rows]
    embedder = get_embedder()
    vectors = embedder.embed(texts)  # the embedder orders and batches by length itself
    kinds = types.predict(session, texts, vectors=vectors)
    moods = sentiment.score(texts)
    matches = similar.near_duplicates(session, item_ids, vectors)
    blobs = pack(vectors)
    with transaction(session):
        assigned = themes.assign(session, item_ids, vectors)
        now = utcnow()
        insight_rows = []
        for n, item_id in enumerate(item_ids):
            kind, confidence = kinds[n]
            theme_id, theme_score = assigned.get(item_id, (None, None))
            insight_rows.append(
                {
                    "item_id": item_id,
                    "kind": kind,
                    "kind_confidence": round(float(confidence), 4),
                    "kind_source": "model",
                    "sentiment": moods[n],
                    "theme_id": theme_id,
                    "theme_score": None if theme_id is None or theme_score is None else round(float(theme_score), 4),
                    "embedding": blobs[n],
                    "model_version": version,
                    "analysed_at": now,
                }
            )
        _upsert_insights(session, insight_rows)
        result.suggestions += _replace_suggestions(session, item_ids, matches)
    similar.remember_items(embedder.name, item_ids, vectors)
    result.analysed += len(item_ids)


def analyse(session: Session, item_ids: Sequence[int], *, batch: int = BATCH) -> AnalysisResult:
    """Analyse these items (idempotent); one transaction per ``batch`` items."""
    wanted = sorted(set(item_ids))
    result = AnalysisResult(model_version=model_version(session))
    for start in range(0, len(wanted), batch):
        _analyse_batch(session, wanted[start : start + batch], result.model_version, result)
    return result


def stale_items(session: Session, limit: int = BATCH) -> list[int]:
    """Items with no analysis yet, or one made by other models than the current ones (oldest ids first)."""
    version = model_version(session)
    stmt = (
        select(FeedbackItem.id)
        .outerjoin(FeedbackInsight, FeedbackInsight.item_id == FeedbackItem.id)
        .where((FeedbackInsight.item_id.is_(None)) | (FeedbackInsight.model_version != version))
        .order_by(FeedbackItem.id)
        .limit(limit)
    )
    return list(session.scalars(stmt))


# --- feature vectors ------------------------------------------------------------------------------


def refresh_feature_vectors(session: Session, feature_ids: Sequence[int] | None = None) -> int:
    """Embed the features (all, or these) whose vector is missing, was made by another embedder, or whose title
    or description changed; drop the vectors of merged and deleted features. Returns how many were embedded."""
    embedder = get_embedder()
    facts = features.feature_facts().subquery("facts")
    stmt = select(facts.c.feature_id, facts.c.merged_into_id)
    wanted = None if feature_ids is None else sorted(set(feature_ids))
    known: list[tuple[int, int | None]] = []
    if wanted is None:
        known = [(fid, merged) for fid, merged in session.execute(stmt)]
    else:
        for start in range(0, len(wanted), _CHUNK):
            chunk = wanted[start : start + _CHUNK]
            known.extend((fid, merged) for fid, merged in session.execute(stmt.where(facts.c.feature_id.in_(chunk))))
    alive = [fid for fid, merged in known if merged is None]
    found = {}
    for start in range(0, len(alive), _CHUNK):
        found.update(features.features_by_id(session, alive[start : start + _CHUNK]))
    texts = {fid: similar.feature_text(f.title, f.description) for fid, f in found.items()}
    hashes = {fid: similar.text_hash(text) for fid, text in texts.items()}
    stored: dict[int, tuple[str, str]] = {}
    for start in range(0, len(alive), _CHUNK):
        stored.update(
            (fid, (h, mv))
            for fid, h, mv in session.execute(
                select(FeatureVector.feature_id, FeatureVector.text_hash, FeatureVector.model_version).where(
                    FeatureVector.feature_id.in_(alive[start : start + _CHUNK])
                )
            )
        )
    stale = [fid for fid in sorted(texts) if stored.get(fid) != (hashes[fid], embedder.name)]
    if wanted is None:
        # Vectors of merged features (deleted ones cascade; those of another embedder are replaced below).
        alive_set = set(alive)
        gone = [fid for fid in session.scalars(select(FeatureVector.feature_id)) if fid not in alive_set]
    else:
        gone = [fid for fid in wanted if fid not in texts]
    vectors = embedder.embed([texts[fid] for fid in stale])
    blobs = pack(vectors)
    with transaction(session):
        for start in range(0, len(gone), _CHUNK):
            session.execute(delete(FeatureVector).where(FeatureVector.feature_id.in_(gone[start : start + _CHUNK])))
        if stale:
            insert_stmt = _dialect_insert(session, FeatureVector)
            insert_stmt = insert_stmt.on_conflict_do_update(
                index_elements=[FeatureVector.feature_id],
                set_={
                    "embedding": insert_stmt.excluded.embedding,
                    "model_version": insert_stmt.excluded.model_version,
                    "text_hash": insert_stmt.excluded.text_hash,
                },
            )
            rows = [
                {"feature_id": fid, "embedding": blob, "model_version": embedder.name, "text_hash": hashes[fid]}
                for fid, blob in zip(stale, blobs, strict=True)
            ]
            for start in range(0, len(rows), _CHUNK):
                session.execute(insert_stmt, rows[start : start + _CHUNK])
    return len(stale)


__all__ = [
    "BATCH",
    "AnalysisResult",
    "analyse",
    "item_text",
    "model_version",
    "refresh_feature_vectors",
    "stale_items",
]
