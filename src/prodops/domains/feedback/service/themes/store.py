"""Reading the stored embeddings and texts the theme use cases work on, and keeping theme sizes and key phrases
up to date. Called from inside the theme services only."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from prodops.domains.feedback.models import FeedbackInsight, FeedbackItem, FeedbackTheme
from prodops.domains.feedback.service.themes import clustering
from prodops.platform.text import phrases

_CHUNK = 500
#: Rows read per round trip when loading embeddings (a server-side cursor on PostgreSQL).
_BATCH = 5_000
#: Texts per theme, and texts of the rest, the key phrases are computed from.
PHRASE_TEXTS = 150
BACKGROUND_TEXTS = 1_000
#: What a theme is called when its texts have no phrase in common.
NO_PHRASES = "Other feedback"
MAX_TEXT = 2_000

IdList = Sequence[int] | NDArray[np.int64]


@dataclass(frozen=True)
class Vectors:
    """Analysed items with an embedding of the current width, in id order."""

    ids: NDArray[np.int64]
    matrix: NDArray[np.float16]
    archived: NDArray[np.bool_]
    theme_ids: NDArray[np.int64]
    """The stored theme (-1 for none)."""
    scores: NDArray[np.float32]
    """The stored theme score (NaN for none)."""

    def __len__(self) -> int:
        return len(self.ids)


def load_vectors(session: Session, dim: int, *, theme_id: int | None = None) -> Vectors:
    """Every analysed item's embedding (or only the members of ``theme_id``), kept as float16: 100,000 items of 384
    dimensions take 77 MB. Embeddings of another width (made by another model, waiting to be re-analysed) are
    skipped."""
    stmt = (
        select(
            FeedbackInsight.item_id,
            FeedbackInsight.embedding,
            FeedbackItem.status,
            FeedbackInsight.theme_id,
            FeedbackInsight.theme_score,
        )
        .join(FeedbackItem, FeedbackItem.id == FeedbackInsight.item_id)
        .where(FeedbackInsight.embedding.is_not(None))
        .order_by(FeedbackInsight.item_id)
        .execution_options(yield_per=_BATCH)
    )
    if theme_id is not None:
        stmt = stmt.where(FeedbackInsight.theme_id == theme_id)
    width = 2 * dim
    ids: list[int] = []
    blobs: list[bytes] = []
    archived: list[bool] = []
    themes: list[int] = []
    scores: list[float] = []
    for item_id, blob, status, tid, score in session.execute(stmt):
        if blob is None or len(blob) != width:
            continue
        ids.append(item_id)
        blobs.append(blob)
        archived.append(status == "archived")
        themes.append(-1 if tid is None else tid)
        scores.append(np.nan if score is None else score)
    matrix = (
        np.frombuffer(b"".join(blobs), dtype="<f2").reshape(len(blobs), dim)
        if blobs
        else np.zeros((0, dim), dtype=np.float16)
    )
    return Vectors(
        ids=np.asarray(ids, dtype=np.int64),
        matrix=matrix,
        archived=np.asarray(archived, dtype=bool),
        theme_ids=np.asarray(themes, dtype=np.int64),
        scores=np.asarray(scores, dtype=np.float32),
    )


def texts(session: Session, ids: Sequence[int]) -> dict[int, str]:
    """Title and text of these items (cut to a reasonable length for phrase counting)."""
    found: dict[int, str] = {}
    wanted = sorted({int(i) for i in ids})
    for start in range(0, len(wanted), _CHUNK):
        chunk = wanted[start : start + _CHUNK]
        for item_id, title, text in session.execute(
            select(FeedbackItem.id, FeedbackItem.title, FeedbackItem.text).where(FeedbackItem.id.in_(chunk))
        ):
            found[item_id] = (f"{title}. {text}" if title else text)[:MAX_TEXT]
    return found


def sample_ids(ids: IdList, limit: int) -> list[int]:
    array = np.asarray(ids, dtype=np.int64)
    return [int(i) for i in array[clustering.sample_positions(array, limit)]]


def phrases_for(session: Session, groups: Sequence[IdList], background: IdList) -> list[list[phrases.Phrase]]:
    """Key phrases of each group of items against the rest (a deterministic sample of each)."""
    picked = [sample_ids(g, PHRASE_TEXTS) for g in groups]
    rest = sample_ids(background, BACKGROUND_TEXTS)
    found = texts(session, [i for g in picked for i in g] + rest)
    return phrases.key_phrases(
        [[found[i] for i in g if i in found] for g in picked], [found[i] for i in rest if i in found]
    )


def refresh_phrases(session: Session, theme_ids: Sequence[int]) -> None:
    """Recompute the key phrases and generated labels of these themes from their current members, against a
    sample of the other analysed items (after a merge or split; the re-clustering does all themes at once)."""
    if not theme_ids:
        return
    members: list[list[int]] = []
    for theme_id in theme_ids:
        members.append(
            list(
                session.scalars(
                    select(FeedbackInsight.item_id)
                    .where(FeedbackInsight.theme_id == theme_id)
                    .order_by(FeedbackInsight.item_id)
                    .limit(20 * PHRASE_TEXTS)
                )
            )
        )
    others = list(
        session.scalars(
            select(FeedbackInsight.item_id)
            .where(
                (FeedbackInsight.theme_id.is_(None)) | (FeedbackInsight.theme_id.not_in(list(theme_ids))),
                FeedbackInsight.embedding.is_not(None),
            )
            .order_by(FeedbackInsight.item_id)
            .limit(5 * BACKGROUND_TEXTS)
        )
    )
    found = phrases_for(session, members, others)
    for theme_id, found_phrases in zip(theme_ids, found, strict=True):
        theme = session.get(FeedbackTheme, theme_id)
        if theme is not None:
            theme.key_phrases = [p.text for p in found_phrases]
            theme.label = phrases.label(found_phrases, fallback=NO_PHRASES)[:200]


def recount(session: Session, theme_ids: Sequence[int] | None = None) -> None:
    """Set the size of these themes (all when None) to the number of items they hold."""
    counted = select(FeedbackInsight.theme_id, func.count()).where(FeedbackInsight.theme_id.is_not(None))
    if theme_ids is not None:
        if not theme_ids:
            return
        counted = counted.where(FeedbackInsight.theme_id.in_(list(theme_ids)))
    counts: dict[int, int] = {}
    for tid, n in session.execute(counted.group_by(FeedbackInsight.theme_id)):
        if tid is not None:
            counts[int(tid)] = int(n)
    targets = list(theme_ids) if theme_ids is not None else list(session.scalars(select(FeedbackTheme.id)))
    for theme_id in targets:
        session.execute(
            update(FeedbackTheme)
            .where(FeedbackTheme.id == theme_id, FeedbackTheme.size != counts.get(theme_id, 0))
            .values(size=counts.get(theme_id, 0))
            .execution_options(synchronize_session="fetch")
        )
