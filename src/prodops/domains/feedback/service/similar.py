"""Near-duplicates, "similar ideas" and hybrid search over feedback and features.

Embeddings are stored with each analysed item (``FeedbackInsight.embedding``) and feature (``FeatureVector``).
Each process keeps them in two in-memory vector indexes (float16 rows, see ``platform/text/search.py``), loaded on
first use and refreshed incrementally: new items by id on every use, a consistency check (row count) every minute,
features by their text hash on every use (a few thousand rows).

**Thresholds.** Two texts are near-duplicates when the cosine of their embeddings reaches a threshold calibrated
for each embedder by ``benchmarks/intelligence_pipeline.py calibrate``: hand-written paraphrases of product
feedback against random pairs of real reviews, and reviews against the demo feature they are about (its keyword
links) against the best other feature. The threshold keeps unrelated pairs above it to about one in a thousand —
a new item must not meet false duplicates in an inbox of thousands — and takes the paraphrases it can get. For an
embedder that was not calibrated, the thresholds are set the same number of standard deviations above the mean
cosine of unrelated pairs, measured on a sample of the stored embeddings (see :data:`Z_SCORES`).

**Merging** an item into a similar one (the item is the duplicate, the similar one the original it repeats):
the duplicate is archived, keeps a ``duplicate_of`` (the original's id) in its ``meta``, and is linked to every
feature the original is linked to, with the same importance — so its person and account count as one more
requester of those features in demand. Nothing is deleted: unarchiving the duplicate undoes the merge except for
those links.

**Search** fuses a keyword ranking with a meaning ranking by reciprocal rank fusion (``platform/text/search.py``,
k = 60). Keywords: the newest 2,000 items matching any query word (case-insensitive substring, as the inbox search:
ILIKE with the trigram indexes on PostgreSQL, LIKE on SQLite), ranked by BM25 on their title and text. Meaning: the
nearest embeddings to the query's, at least ``related`` similar.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from markupsafe import Markup
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from prodops.domains.features import service as features
from prodops.domains.feedback.models import (
    STATUSES,
    FeatureVector,
    FeedbackInsight,
    FeedbackItem,
    FeedbackLink,
    Suggestion,
)
from prodops.domains.feedback.schemas import FeedbackUpdate, LinkIn, LinkOut, Source
from prodops.domains.feedback.service import items as items_service
from prodops.platform import audit, events
from prodops.platform.audit import Actor
from prodops.platform.db import transaction
from prodops.platform.errors import NotFound, ValidationFailed
from prodops.platform.listing import contains
from prodops.platform.text import get_embedder
from prodops.platform.text import search as textsearch
from prodops.platform.text.search import VectorIndex

log = logging.getLogger(__name__)

_CHUNK = 500


# --- thresholds -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Thresholds:
    item: float
    """Two feedback items are near-duplicates at or above this cosine."""
    feature: float
    """An item probably asks for a feature (its title and description) at or above this."""
    idea: float
    """The widget's "similar ideas": what a customer is typing against a feature."""
    related: float
    """Search: the least similarity for a match by meaning."""


#: Measured by ``benchmarks/intelligence_pipeline.py calibrate`` (figures in benchmarks/README.md).
CALIBRATED: dict[str, Thresholds] = {
    # Hashing sees spelling, not meaning: 0.50 keeps unrelated review pairs above it to 0.1% and catches the
    # paraphrases that share their words (20% of the hand-written ones); its feature matches are weak.
    "hashing-v1-256": Thresholds(item=0.50, feature=0.45, idea=0.35, related=0.25),
    # WordLlama (the default) at 0.50 catches 51% of the hand-written paraphrases (hashing: 10%) with 0.19% of
    # unrelated review pairs above it; review → feature matches stay weak (short feature titles), so 0.45.
    "wordllama-0.4.0.post1-l2_supercat-256": Thresholds(item=0.50, feature=0.45, idea=0.35, related=0.30),
}
#: For an embedder not in :data:`CALIBRATED`: standard deviations above the mean cosine of unrelated pairs (the
#: hashing embedder's calibrated thresholds expressed the same way).
Z_SCORES = Thresholds(item=3.75, feature=3.3, idea=2.4, related=1.5)
#: Until enough items are stored to measure the unrelated pairs of an uncalibrated embedder.
UNCALIBRATED = Thresholds(item=0.70, feature=0.55, idea=0.45, related=0.30)
_MIN_FOR_STATS = 200


def thresholds(session: Session) -> Thresholds:
    embedder = get_embedder()
    known = CALIBRATED.get(embedder.name)
    if known is not None:
        return known
    stats = _items.stats(session)
    if stats is None:
        return UNCALIBRATED
    mean, sd = stats
    return Thresholds(
        item=mean + Z_SCORES.item * sd,
        feature=mean + Z_SCORES.feature * sd,
        idea=mean + Z_SCORES.idea * sd,
        related=mean + Z_SCORES.related * sd,
    )


# --- the in-memory indexes ------------------------------------------------------------------------


def model_prefix(embedder_name: str) -> str:
    """The start of the ``model_version`` of every insight whose embedding this embedder made."""
    return f"{embedder_name}|"


class _ItemIndex:
    """Every analysed item's embedding (of the current embedder), by item id."""

    CHECK_SECONDS = 60.0

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.index: VectorIndex | None = None
        self.embedder = ""
        self.max_id = 0
        self.checked = 0.0
        self._stats: tuple[float, float] | None = None

    def get(self, session: Session) -> VectorIndex:
        embedder = get_embedder()
        with self.lock:
            if self.index is None or self.embedder != embedder.name or self.index.dim != embedder.dim:
                self.index = VectorIndex(embedder.dim)
                self.embedder = embedder.name
                self.max_id = 0
                self._stats = None
                self._load(session, full=True)
            elif time.monotonic() - self.checked > self.CHECK_SECONDS:
                self._load(session, full=self._count(session) != len(self.index))
            else:
                self._load(session, full=False)
            return self.index

    def _where(self) -> list[ColumnElement[bool]]:
        return [
            FeedbackInsight.model_version.startswith(model_prefix(self.embedder), autoescape=True),
            FeedbackInsight.embedding.is_not(None),
        ]

    def _count(self, session: Session) -> int:
        return session.scalar(select(func.count()).select_from(FeedbackInsight).where(*self._where())) or 0

    def _load(self, session: Session, *, full: bool) -> None:
        assert self.index is not None
        stmt = select(FeedbackInsight.item_id, FeedbackInsight.embedding).where(*self._where())
        if full:
            self.index.clear()
            self.max_id = 0
            self.checked = time.monotonic()
        else:
            stmt = stmt.where(FeedbackInsight.item_id > self.max_id)
        ids: list[int] = []
        blobs: list[bytes] = []
        for item_id, blob in session.execute(stmt.order_by(FeedbackInsight.item_id)).yield_per(5000):
            if blob is None or len(blob) != 2 * self.index.dim:
                continue
            ids.append(item_id)
            blobs.append(blob)
            if len(ids) >= 5000:
                self.index.upsert(ids, blobs)
                self.max_id = max(self.max_id, ids[-1])
                ids, blobs = [], []
        if ids:
            self.index.upsert(ids, blobs)
            self.max_id = max(self.max_id, ids[-1])

    def add(self, embedder_name: str, ids: Sequence[int], vectors: NDArray[np.float32]) -> None:
        """Rows just written by an analysis in this process (no need to wait for a refresh)."""
        with self.lock:
            if self.index is not None and self.embedder == embedder_name and self.index.dim == vectors.shape[1]:
                self.index.upsert(list(ids), vectors)
                # max_id is left alone: rows below it written by other processes would be skipped otherwise.

    def remove(self, ids: Sequence[int]) -> None:
        with self.lock:
            if self.index is not None:
                self.index.remove(ids)

    def stats(self, session: Session) -> tuple[float, float] | None:
        """Mean and standard deviation of the cosine of random pairs of stored items (unrelated, mostly)."""
        if self._stats is not None:
            return self._stats
        index = self.get(session)
        if len(index) < _MIN_FOR_STATS:
            return None
        rng = np.random.default_rng(0)
        ids = index.ids()
        sample = index.vectors(list(rng.choice(ids, size=min(1000, len(ids)), replace=False)))
        sims = sample @ sample.T
        values = sims[~np.eye(len(sample), dtype=bool)]
        self._stats = (float(values.mean()), float(values.std()))
        return self._stats

    def forget(self) -> None:
        with self.lock:
            self.index = None
            self._stats = None


@dataclass(frozen=True)
class _FeatureEntry:
    title: str
    text: str
    text_hash: str


class _FeatureIndex:
    """Every surviving feature's embedding and text, by feature id, refreshed by text hash."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.index: VectorIndex | None = None
        self.embedder = ""
        self.entries: dict[int, _FeatureEntry] = {}

    def get(self, session: Session) -> tuple[VectorIndex, dict[int, _FeatureEntry]]:
        embedder = get_embedder()
        with self.lock:
            if self.index is None or self.embedder != embedder.name or self.index.dim != embedder.dim:
                self.index = VectorIndex(embedder.dim)
                self.embedder = embedder.name
                self.entries = {}
            stored = dict(
                session.execute(
                    select(FeatureVector.feature_id, FeatureVector.text_hash).where(
                        FeatureVector.model_version == embedder.name
                    )
                ).all()
            )
            gone = [fid for fid in self.entries if fid not in stored]
            changed = [fid for fid, h in stored.items() if fid not in self.entries or self.entries[fid].text_hash != h]
            if gone:
                self.index.remove(gone)
                for fid in gone:
                    del self.entries[fid]
            for start in range(0, len(changed), _CHUNK):
                chunk = changed[start : start + _CHUNK]
                rows = session.execute(
                    select(FeatureVector.feature_id, FeatureVector.embedding, FeatureVector.text_hash).where(
                        FeatureVector.feature_id.in_(chunk), FeatureVector.model_version == embedder.name
                    )
                ).all()
                found = features.features_by_id(session, [r[0] for r in rows])
                kept = [r for r in rows if r[0] in found and len(r[1]) == 2 * embedder.dim]
                self.index.upsert([r[0] for r in kept], [r[1] for r in kept])
                for fid, _blob, text_hash in kept:
                    f = found[fid]
                    self.entries[fid] = _FeatureEntry(f.title, feature_text(f.title, f.description), text_hash)
            return self.index, dict(self.entries)

    def forget(self) -> None:
        with self.lock:
            self.index = None
            self.entries = {}


_items = _ItemIndex()
_features = _FeatureIndex()


def item_index(session: Session) -> VectorIndex:
    return _items.get(session)


def feature_index(session: Session) -> tuple[VectorIndex, dict[int, _FeatureEntry]]:
    return _features.get(session)


def remember_items(embedder_name: str, ids: Sequence[int], vectors: NDArray[np.float32]) -> None:
    _items.add(embedder_name, ids, vectors)


def forget_items(ids: Sequence[int]) -> None:
    _items.remove(ids)


def forget() -> None:
    """Drop both in-memory indexes (they reload on next use): for tests that empty the database under them."""
    _items.forget()
    _features.forget()


def feature_text(title: str, description: str) -> str:
    """What a feature's embedding is made of."""
    return f"{title}\n{description}".strip()


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@events.subscribe(items_service.ITEM_DELETED)
def _on_deleted(event: events.Event) -> None:
    forget_items([int(event.payload["id"])])


# --- near-duplicates (called by the analysis) ----------------------------------------------------


@dataclass(frozen=True)
class Match:
    target_type: Literal["item", "feature"]
    target_id: int
    score: float


def near_duplicates(
    session: Session,
    item_ids: Sequence[int],
    vectors: NDArray[np.float32],
    *,
    k_items: int = 5,
    k_features: int = 3,
) -> dict[int, list[Match]]:
    """For each item: the most similar other items (already analysed, or in this batch) that are not archived, and
    the surviving features it is not linked to yet, each at or above its threshold; best first."""
    if not item_ids:
        return {}
    limits = thresholds(session)
    ids = list(item_ids)
    existing = item_index(session).search(vectors, k_items, min_score=limits.item, skip=ids)
    batch = VectorIndex(vectors.shape[1])
    batch.upsert(ids, vectors)
    within = batch.search(vectors, k_items, min_score=limits.item, skip=ids)
    candidates: dict[int, dict[int, float]] = {}
    for item_id, a, b in zip(ids, existing, within, strict=True):
        found = dict(a)
        found.update(b)  # a re-analysed item's new vector wins over the stored one
        candidates[item_id] = found
    wanted = sorted({t for found in candidates.values() for t in found})
    open_items: set[int] = set()
    for start in range(0, len(wanted), _CHUNK):
        open_items.update(
            session.scalars(
                select(FeedbackItem.id).where(
                    FeedbackItem.id.in_(wanted[start : start + _CHUNK]), FeedbackItem.status != "archived"
                )
            )
        )
    index, _entries = feature_index(session)
    by_feature = index.search(vectors, k_features, min_score=limits.feature) if len(index) else [[] for _ in ids]
    linked: set[tuple[int, int]] = set()
    for start in range(0, len(ids), _CHUNK):
        linked.update(
            (item_id, feature_id)
            for item_id, feature_id in session.execute(
                select(FeedbackLink.item_id, FeedbackLink.feature_id).where(
                    FeedbackLink.item_id.in_(ids[start : start + _CHUNK])
                )
            )
        )
    result: dict[int, list[Match]] = {}
    for item_id, feature_matches in zip(ids, by_feature, strict=True):
        similar = sorted(
            ((t, s) for t, s in candidates[item_id].items() if t in open_items and t != item_id), key=lambda x: -x[1]
        )[:k_items]
        result[item_id] = [Match("item", t, round(s, 4)) for t, s in similar] + [
            Match("feature", f, round(s, 4)) for f, s in feature_matches if (item_id, f) not in linked
        ]
    return result


# --- suggestion actions ---------------------------------------------------------------------------


def _suggestion(session: Session, suggestion_id: int, target_type: str) -> Suggestion:
    found = session.get(Suggestion, suggestion_id)
    if found is None:
        raise NotFound("suggestion", suggestion_id)
    if found.target_type != target_type:
        what = "a feature" if target_type == "feature" else "similar feedback"
        raise ValidationFailed("suggestion_id", f"suggestion {suggestion_id} does not point to {what}")
    return found


def suggestion_item(session: Session, suggestion_id: int) -> int:
    """The item a suggestion belongs to (NotFound when there is no such suggestion)."""
    item_id = session.scalar(select(Suggestion.item_id).where(Suggestion.id == suggestion_id))
    if item_id is None:
        raise NotFound("suggestion", suggestion_id)
    return item_id


def link_suggested(session: Session, actor: Actor, suggestion_id: int, importance: str = "nice") -> LinkOut:
    """Link the item to the feature a suggestion names (the suggestion is used up)."""
    with transaction(session):
        found = _suggestion(session, suggestion_id, "feature")
        data = LinkIn.model_validate({"feature_id": found.target_id, "importance": importance})
        link = items_service.link_feature(session, actor, found.item_id, data)
        session.delete(found)
    return link


@dataclass(frozen=True)
class MergeResult:
    duplicate_id: int
    original_id: int
    links_copied: list[int]


def merge_suggested(session: Session, actor: Actor, suggestion_id: int) -> MergeResult:
    """Merge the item into the similar item a suggestion names (see the module's docstring for what it means)."""
    with transaction(session):
        found = _suggestion(session, suggestion_id, "item")
        duplicate = session.get(FeedbackItem, found.item_id)
        original = session.get(FeedbackItem, found.target_id)
        assert duplicate is not None  # the suggestion row cascades with its item
        if original is None or original.status == "archived":
            raise ValidationFailed(
                "suggestion_id", "the similar item was deleted or archived since; there is nothing to merge into"
            )
        already = {link.feature_id for link in duplicate.links}
        copied: list[int] = []
        for link in list(original.links):
            if link.feature_id not in already:
                data = LinkIn.model_validate({"feature_id": link.feature_id, "importance": link.importance})
                items_service.link_feature(session, actor, duplicate.id, data)
                copied.append(link.feature_id)
        before = duplicate.meta.get("duplicate_of")
        duplicate.meta = {**duplicate.meta, "duplicate_of": original.id}
        items_service.update_item(session, actor, duplicate.id, FeedbackUpdate(status="archived"))
        audit.record(
            session,
            actor,
            entity_type="feedback",
            entity_id=duplicate.id,
            action="merge",
            changes={"duplicate_of": [before, original.id], "features_linked": [[], copied]},
            entity_label=(duplicate.title or duplicate.text)[:80],
        )
        session.delete(found)
        session.flush()
        return MergeResult(duplicate.id, original.id, copied)


def dismiss_suggestion(session: Session, actor: Actor, suggestion_id: int) -> int:
    """Hide a suggestion for good (re-analysing the item does not bring it back). Returns the item's id."""
    with transaction(session):
        found = session.get(Suggestion, suggestion_id)
        if found is None:
            raise NotFound("suggestion", suggestion_id)
        if not found.dismissed:
            found.dismissed = True
            audit.record(
                session,
                actor,
                entity_type="feedback",
                entity_id=found.item_id,
                action="dismiss_suggestion",
                changes={"suggestion": [f"{found.target_type} {found.target_id}", None]},
            )
        return found.item_id


# --- similar ideas (the widget) -------------------------------------------------------------------


class SimilarIdea(BaseModel):
    """What a customer may see of a feature: its title and status, nothing internal."""

    title: str
    status: str


MIN_IDEA_QUERY = 8


def similar_ideas(session: Session, q: str, *, product_id: int | None = None, limit: int = 5) -> list[SimilarIdea]:
    """Features like what a customer is typing: near in meaning, or with its words in the title (fused)."""
    q = q.strip()[:500]
    if len(q) < MIN_IDEA_QUERY:
        return []
    index, entries = feature_index(session)
    if not entries:
        return []
    vector = get_embedder().embed([q])
    by_meaning = [fid for fid, _ in index.search(vector, 20, min_score=thresholds(session).idea)[0]]
    words = [t for t in textsearch.terms(q) if len(t) >= 3]
    ids = list(entries)
    titles = [entries[fid].title for fid in ids]
    scores = textsearch.bm25(titles, words)
    by_words = [ids[i] for i in np.argsort(-scores, kind="stable")[:10] if scores[i] > 0]
    fused = [fid for fid, _ in textsearch.reciprocal_rank_fusion([by_meaning, by_words])][: limit * 4]
    found = features.features_by_id(session, fused)
    ideas: list[SimilarIdea] = []
    for fid in fused:
        f = found.get(fid)
        if f is None or f.merged_into_id is not None:
            continue
        if product_id is not None and f.product_id not in (None, product_id):
            continue
        ideas.append(SimilarIdea(title=f.title, status=f.status_label))
        if len(ideas) == limit:
            break
    return ideas


# --- hybrid search --------------------------------------------------------------------------------

#: Items matching a query word that the keyword side reads and ranks by BM25 (the newest ones): it stops the scan
#: early for common words, and 2,000 candidates are ranked in a few milliseconds.
KEYWORD_POOL = 2_000
#: How deep each side's ranking goes into the fusion.
FUSION_DEPTH = 100


def _values(value: Any) -> Any:
    if value is None:
        return []
    items = value if isinstance(value, list | tuple) else [value]
    found: list[str] = []
    for item in items:
        found.extend(p.strip() for p in str(item).split(","))
    return [v for v in found if v]


class SearchQuery(BaseModel):
    """``GET /api/v1/feedback/search`` and ``/feedback/search``: words or a sentence, over items or features."""

    model_config = ConfigDict(extra="forbid")

    q: str = Field(min_length=1, max_length=200, description="Words or a sentence; found by keyword and by meaning.")
    kind: Literal["items", "features"] = Field(default="items", description="Search feedback items or features.")
    status: list[str] = Field(
        default_factory=list,
        description="Items: any of new, triaged, linked, archived (default every status). Features: status keys.",
    )
    source: list[Source] = Field(default_factory=list, description="Items only: any of these channels.")
    received_from: dt.date | None = Field(default=None, description="Items only: received on or after this day.")
    received_to: dt.date | None = Field(default=None, description="Items only: received on or before this day.")
    limit: int = Field(default=20, ge=1, le=100)

    @field_validator("q", mode="before")
    @classmethod
    def _strip(cls, v: Any) -> Any:
        return v.strip() if isinstance(v, str) else v

    @field_validator("status", "source", mode="before")
    @classmethod
    def _lists(cls, v: Any) -> Any:
        return list(dict.fromkeys(_values(v)))

    @field_validator("received_from", "received_to", mode="before")
    @classmethod
    def _blank(cls, v: Any) -> Any:
        return None if isinstance(v, str) and not v.strip() else v

    @model_validator(mode="after")
    def _consistent(self) -> SearchQuery:
        if self.kind == "items":
            unknown = [s for s in self.status if s not in STATUSES]
            if unknown:
                raise ValueError(f"unknown item status {unknown[0]!r}; use {', '.join(STATUSES)}")
        if self.received_from and self.received_to and self.received_to < self.received_from:
            raise ValueError("received_to must not be before received_from")
        return self


@dataclass(frozen=True)
class SearchHit:
    kind: Literal["item", "feature"]
    id: int
    title: str
    snippet: Markup
    """The text around the matched words, escaped, with the words in ``<mark>``."""
    score: float
    """The fused score (reciprocal rank fusion)."""
    keyword_rank: int | None
    vector_rank: int | None
    similarity: float | None
    """Cosine between the query and the text, when it was found by meaning."""
    status: str
    status_label: str
    source: str | None
    received_at: dt.datetime | None
    url: str


@dataclass(frozen=True)
class SearchResult:
    query: SearchQuery
    terms: list[str]
    hits: list[SearchHit]
    keyword_matches: int
    """Items or features containing a query word (capped at :data:`KEYWORD_POOL` for items)."""
    meaning_matches: int


def _day_start(day: dt.date) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)


def _item_filters(query: SearchQuery) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    if query.status:
        where.append(FeedbackItem.status.in_(query.status))
    if query.source:
        where.append(FeedbackItem.source.in_(query.source))
    if query.received_from is not None:
        where.append(FeedbackItem.received_at >= _day_start(query.received_from))
    if query.received_to is not None:
        where.append(FeedbackItem.received_at < _day_start(query.received_to + dt.timedelta(days=1)))
    return where


def _term_match(term: str) -> ColumnElement[bool]:
    return or_(contains(FeedbackItem.title, term), contains(FeedbackItem.text, term))


def _items_by_keyword(session: Session, words: list[str], where: list[ColumnElement[bool]]) -> tuple[list[int], int]:
    """The newest :data:`KEYWORD_POOL` items containing any of the words, ranked by BM25 (document frequencies
    counted in that pool: among texts that match, a rarer word weighs more). One statement."""
    if not words:
        return [], 0
    rows = session.execute(
        select(FeedbackItem.id, FeedbackItem.title, FeedbackItem.text)
        .where(*where, or_(*[_term_match(t) for t in words]))
        .order_by(FeedbackItem.id.desc())
        .limit(KEYWORD_POOL)
    ).all()
    if not rows:
        return [], 0
    docs = [f"{title} {text}" for _id, title, text in rows]
    scores = textsearch.bm25(docs, words)
    order = np.argsort(-scores, kind="stable")[:FUSION_DEPTH]  # stable: newest first among equals
    return [rows[i][0] for i in order if scores[i] > 0], len(rows)


def _items_by_meaning(
    session: Session, vector: NDArray[np.float32], where: list[ColumnElement[bool]], floor: float
) -> list[tuple[int, float]]:
    index = item_index(session)
    if not len(index):
        return []
    found = index.search(vector, FUSION_DEPTH * 4, min_score=floor)[0]
    if not found:
        return []
    allowed = set(session.scalars(select(FeedbackItem.id).where(FeedbackItem.id.in_([i for i, _ in found]), *where)))
    return [(i, s) for i, s in found if i in allowed][:FUSION_DEPTH]


def search(session: Session, query: SearchQuery) -> SearchResult:
    """Hybrid search: keyword and meaning rankings fused (see the module's docstring)."""
    words = textsearch.terms(query.q)
    vector = get_embedder().embed([query.q])
    floor = thresholds(session).related
    if query.kind == "features":
        return _search_features(session, query, words, vector, floor)
    where = _item_filters(query)
    by_words, keyword_matches = _items_by_keyword(session, words, where)
    by_meaning = _items_by_meaning(session, vector, where, floor)
    similarity = dict(by_meaning)
    word_rank = {i: n for n, i in enumerate(by_words, start=1)}
    meaning_rank = {i: n for n, (i, _) in enumerate(by_meaning, start=1)}
    fused = textsearch.reciprocal_rank_fusion([by_words, [i for i, _ in by_meaning]])[: query.limit]
    rows = {
        row.id: row
        for row in session.execute(
            select(
                FeedbackItem.id,
                FeedbackItem.title,
                FeedbackItem.text,
                FeedbackItem.status,
                FeedbackItem.source,
                FeedbackItem.received_at,
            ).where(FeedbackItem.id.in_([i for i, _ in fused]))
        )
    }
    hits = []
    for item_id, score in fused:
        row = rows.get(item_id)
        if row is None:
            continue
        hits.append(
            SearchHit(
                kind="item",
                id=row.id,
                title=row.title,
                snippet=textsearch.snippet(row.text, words),
                score=round(score, 5),
                keyword_rank=word_rank.get(item_id),
                vector_rank=meaning_rank.get(item_id),
                similarity=round(similarity[item_id], 3) if item_id in similarity else None,
                status=row.status,
                status_label=row.status.capitalize(),
                source=row.source,
                received_at=row.received_at,
                url=f"/feedback/items/{row.id}",
            )
        )
    return SearchResult(query, words, hits, keyword_matches, len(by_meaning))


def _search_features(
    session: Session, query: SearchQuery, words: list[str], vector: NDArray[np.float32], floor: float
) -> SearchResult:
    index, entries = feature_index(session)
    ids = list(entries)
    by_words: list[int] = []
    if ids and words:
        scores = textsearch.bm25([entries[f].text for f in ids], words)
        by_words = [ids[i] for i in np.argsort(-scores, kind="stable") if scores[i] > 0]
    keyword_matches = len(by_words)
    by_meaning = index.search(vector, FUSION_DEPTH, min_score=floor)[0] if len(index) else []
    similarity = dict(by_meaning)
    word_rank = {i: n for n, i in enumerate(by_words[:FUSION_DEPTH], start=1)}
    meaning_rank = {i: n for n, (i, _) in enumerate(by_meaning, start=1)}
    fused = textsearch.reciprocal_rank_fusion([by_words[:FUSION_DEPTH], [i for i, _ in by_meaning]])
    found = features.features_by_id(session, [i for i, _ in fused])
    hits = []
    for fid, score in fused:
        f = found.get(fid)
        if f is None or f.merged_into_id is not None or (query.status and f.status not in query.status):
            continue
        hits.append(
            SearchHit(
                kind="feature",
                id=f.id,
                title=f.title,
                snippet=textsearch.snippet(f.description or f.title, words),
                score=round(score, 5),
                keyword_rank=word_rank.get(fid),
                vector_rank=meaning_rank.get(fid),
                similarity=round(similarity[fid], 3) if fid in similarity else None,
                status=f.status,
                status_label=f.status_label,
                source=None,
                received_at=None,
                url=f"/features/{f.id}",
            )
        )
        if len(hits) == query.limit:
            break
    return SearchResult(query, words, hits, keyword_matches, len(by_meaning))
