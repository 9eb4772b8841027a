"""Reading what the analysis stored: each item's type, sentiment and theme, the type labels, and the
near-duplicate suggestions of an item. Reads only; pages never wait on a model."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from prodops.domains.features import service as features
from prodops.domains.feedback.models import (
    DEFAULT_TYPES,
    FeedbackInsight,
    FeedbackItem,
    FeedbackLink,
    FeedbackType,
    Suggestion,
)
from prodops.domains.feedback.schemas import FeedbackOut
from prodops.platform.text import sentiment

_CHUNK = 500


@dataclass(frozen=True)
class ItemInsight:
    item_id: int
    kind: str | None
    kind_confidence: float | None
    kind_source: str
    sentiment: float | None
    theme_id: int | None
    model_version: str


#: The last labels read (see :func:`label_of`): list rows show a type's label without a query of their own.
_last_labels: dict[str, str] = dict(DEFAULT_TYPES)


def kind_labels(session: Session) -> dict[str, str]:
    """Type key → label, in the configured order (the default types until the types are configured)."""
    stmt = select(FeedbackType.key, FeedbackType.label).order_by(FeedbackType.position)
    labels: dict[str, str] = {}
    for key, label in session.execute(stmt):
        labels[key] = label
    for key, label in DEFAULT_TYPES:
        labels.setdefault(key, label)
    _last_labels.clear()
    _last_labels.update(labels)
    return labels


def label_of(kind: str | None) -> str:
    """A type's label as last read by :func:`kind_labels` (which every inbox page calls through its facets), for
    rows rendered without a query of their own; an unknown key reads as itself."""
    if not kind:
        return ""
    return _last_labels.get(kind) or kind.replace("_", " ").capitalize()


def active_kinds(session: Session) -> list[tuple[str, str]]:
    """The types offered as filters: active configured ones, or the defaults."""
    rows = session.execute(
        select(FeedbackType.key, FeedbackType.label)
        .where(FeedbackType.active.is_(True))
        .order_by(FeedbackType.position, FeedbackType.key)
    ).all()
    return [(k, lbl) for k, lbl in rows] or list(DEFAULT_TYPES)


#: The columns of an :class:`ItemInsight`, in order: select them next to the items (outer join on ``item_id``)
#: to read both in one statement.
INSIGHT_COLUMNS = (
    FeedbackInsight.item_id,
    FeedbackInsight.kind,
    FeedbackInsight.kind_confidence,
    FeedbackInsight.kind_source,
    FeedbackInsight.sentiment,
    FeedbackInsight.theme_id,
    FeedbackInsight.model_version,
)


def insights_by_item(session: Session, ids: Sequence[int]) -> dict[int, ItemInsight]:
    found: dict[int, ItemInsight] = {}
    wanted = sorted(set(ids))
    for start in range(0, len(wanted), _CHUNK):
        stmt = select(*INSIGHT_COLUMNS).where(FeedbackInsight.item_id.in_(wanted[start : start + _CHUNK]))
        for row in session.execute(stmt):
            found[row[0]] = ItemInsight(*row)
    return found


def with_insights(
    session: Session, items: Sequence[FeedbackOut], found: Mapping[int, ItemInsight] | None = None
) -> list[FeedbackOut]:
    """The items with their type, sentiment and theme filled in: from ``found`` when the caller read them along
    with the items, else with one statement per 500 items."""
    if found is None:
        found = insights_by_item(session, [i.id for i in items])
    for item in items:
        insight = found.get(item.id)
        if insight is not None:
            item.kind = insight.kind
            item.kind_confidence = 1.0 if insight.kind_source == "user" else insight.kind_confidence
            item.sentiment = insight.sentiment
            item.theme_id = insight.theme_id
    return list(items)


# --- suggestions ------------------------------------------------------------------------------


@dataclass(frozen=True)
class SimilarItem:
    suggestion_id: int
    item_id: int
    score: float
    title: str
    excerpt: str
    status: str
    received_at: object


@dataclass(frozen=True)
class LikelyFeature:
    suggestion_id: int
    feature_id: int
    score: float
    title: str
    status_label: str


@dataclass(frozen=True)
class Suggestions:
    items: list[SimilarItem]
    features: list[LikelyFeature]
    analysed: bool
    """False while the item waits for its analysis (nothing to suggest yet)."""


def suggestions_for(session: Session, item_id: int, *, limit: int = 5) -> Suggestions:
    """The item's open (not dismissed) suggestions, best first: similar feedback that still exists and is not
    archived, and surviving features it is not linked to yet. A fixed number of statements."""
    rows = session.execute(
        select(Suggestion.id, Suggestion.target_type, Suggestion.target_id, Suggestion.score)
        .where(Suggestion.item_id == item_id, Suggestion.dismissed.is_(False))
        .order_by(Suggestion.score.desc(), Suggestion.id)
    ).all()
    analysed = session.scalar(select(FeedbackInsight.item_id).where(FeedbackInsight.item_id == item_id)) is not None
    item_rows = [r for r in rows if r.target_type == "item"]
    feature_rows = [r for r in rows if r.target_type == "feature"]
    similar: list[SimilarItem] = []
    if item_rows:
        targets = {
            row.id: row
            for row in session.execute(
                select(
                    FeedbackItem.id,
                    FeedbackItem.title,
                    FeedbackItem.text,
                    FeedbackItem.status,
                    FeedbackItem.received_at,
                ).where(FeedbackItem.id.in_([r.target_id for r in item_rows]), FeedbackItem.status != "archived")
            )
        }
        for r in item_rows:
            t = targets.get(r.target_id)
            if t is not None and len(similar) < limit:
                similar.append(
                    SimilarItem(r.id, t.id, round(r.score, 3), t.title, t.text[:280], t.status, t.received_at)
                )
    likely: list[LikelyFeature] = []
    if feature_rows:
        linked = set(session.scalars(select(FeedbackLink.feature_id).where(FeedbackLink.item_id == item_id)))
        found = features.features_by_id(session, [r.target_id for r in feature_rows])
        for r in feature_rows:
            f = found.get(r.target_id)
            if f is None or f.merged_into_id is not None or f.id in linked or len(likely) >= limit:
                continue
            likely.append(LikelyFeature(r.id, f.id, round(r.score, 3), f.title, f.status_label))
    return Suggestions(items=similar, features=likely, analysed=analysed)


def sentiment_label(value: float | None) -> str | None:
    """``Negative``/``Neutral``/``Positive`` for templates."""
    name = sentiment.label(value)
    return sentiment.LABELS[name] if name else None
