"""Feedback types: the configurable set (bug, feature request, praise...), the classifier that gives every item a
type with a confidence, people's corrections, and retraining on them.

**The types.** ``DEFAULT_TYPES`` are created on first use. Admins add, rename, reorder and retire types; a key
never changes once created (stored insights and filters refer to it), and a retired type is kept, inactive.

**The model.** :func:`predict` uses the workspace's active ``TextModel``. When there is none, the built-in model is
trained from the shipped app-review data (``text_data/``: bug, feature_request, praise, experience), stored as
"Built-in (app reviews)" and activated. Its label set lacks three default types, which come from rules on top of
its probabilities — each only while the type is active and the active model does not learn it itself (a model
trained on corrections that include enough questions predicts ``question`` directly):

- ``other`` — the model's best probability is below :data:`OTHER_BELOW` (0.50). Measured by 5-fold
  cross-validation on the shipped data (``benchmarks/classifier.py``): below 0.50 the model's label is right about
  half the time or less in every band (TF-IDF ⊕ wordllama: 36% below 0.35, 32% from 0.35, 50% from 0.40, 46% from
  0.45, then 60% from 0.50 to 0.60), so a guess there misleads about as often as it helps; 9.2% of the reviews fall
  there (44% right, against 87% for the rest; the TF-IDF baseline: 10.8%, 43% against 87%). Empty texts are
  ``other`` too.
- ``question`` — a help-seeking question ("how do I…?", "is there a way…?", "where is…?"; the text has a question
  mark) that the model does not confidently call a bug or a feature request (below :data:`QUESTION_UNLESS`), with
  confidence ``1 − p/2`` for the model's best probability ``p`` (the surer the model was of another type, the less
  sure the rule). The app-review data has no question class, so this rule is not measured there; it is deliberately
  narrow ("can you add…?" stays a feature request, "why does it crash?" a bug).
- ``complaint`` — what the model calls ``experience`` with clearly negative sentiment (below
  :data:`COMPLAINT_BELOW`, from ``platform.text.sentiment``): in the app-review taxonomy "user experience" covers
  both "it keeps me organised" and "too many ads, it became unusable"; the negative half is a complaint.

A type the model predicts but an admin retired falls back to the next most likely active type.

**Corrections.** :func:`correct_type` sets an item's type (``kind_source='user'``; the analysis never overwrites
it) and each correction becomes a training example. :func:`retrain` trains the current recipe on the shipped data
plus every correction, corrections weighing :data:`CORRECTION_WEIGHT` times a shipped example: a person checked
them, on this workspace's own feedback, while the shipped labels were made by others and are partly
machine-augmented. The weight is a judgement, not a measurement (there is no labelled workspace data to tune it on):
three makes a handful of consistent corrections count, while one stray correction stays a few rows among 4,000.
A type needs :data:`MIN_EXAMPLES` corrections before it is learned. The new model is activated when its
cross-validated macro-F1 is not worse than the current model's by more than :data:`RETRAIN_TOLERANCE` (half a
point, below the noise of the measurement itself: on the shipped data the five folds' macro-F1 spread with a
standard deviation of 0.009 for the TF-IDF baseline, and fold seeds 0, 1 and 2 give pooled scores of 0.802, 0.801
and 0.796); otherwise the current model stays and the new one is kept in the history with the
reason.
"""

from __future__ import annotations

import csv
import functools
import gzip
import hashlib
import io
import json
import logging
import re
import threading
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from prodops.domains.feedback.models import DEFAULT_TYPES, FeedbackInsight, FeedbackItem, FeedbackType, TextModel
from prodops.domains.feedback.service import text_models
from prodops.domains.feedback.service.text_models import TextModelOut
from prodops.platform import audit, events
from prodops.platform.audit import Actor, AuditRecord
from prodops.platform.db import transaction, utcnow
from prodops.platform.errors import Conflict, NotFound, ValidationFailed
from prodops.platform.text import classify, sentiment

log = logging.getLogger(__name__)

ENTITY = "feedback_type"
BUILTIN_NAME = "Built-in (app reviews)"
BUILTIN_LABELS = ("bug", "experience", "feature_request", "praise")
DATA_FILE = "app-reviews-4class.csv.gz"
METRICS_FILE = "builtin_metrics.json"

OTHER_BELOW = 0.50
QUESTION_UNLESS = 0.70
COMPLAINT_BELOW = -0.3
CORRECTION_WEIGHT = 3.0
MIN_EXAMPLES = 5
RETRAIN_TOLERANCE = 0.005
FOLDS = 5
#: Changes whenever the rules above change, so stored types are recomputed.
RULES_VERSION = "r1"

TYPE_CORRECTED = events.declare(
    "feedback.item.type_corrected", "A person set a feedback item's type (it becomes a training example)."
)
MODEL_ACTIVATED = events.declare(
    "feedback.type_model.activated", "Another feedback type classifier was put in use (items get re-analysed)."
)

_QUESTION = re.compile(
    r"(?:^|[.!?\n]\s*)(?:how (?:do|can|to|does|would|should)|where (?:is|are|can|do|does)|is there|are there|"
    r"is it possible|what (?:is|are|does|do)|which|do (?:i|you|we) (?:need|have)|does (?:it|this|the)|"
    r"can i|could i|when will)\b",
    re.IGNORECASE,
)


# --- schemas ---------------------------------------------------------------------------------------


class FeedbackTypeOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    key: str
    label: str
    position: int
    active: bool


class FeedbackTypeIn(BaseModel):
    label: str = Field(min_length=1, max_length=80)
    key: str | None = Field(default=None, max_length=40)

    @field_validator("label")
    @classmethod
    def _label(cls, value: str) -> str:
        value = " ".join(value.split())
        if not value:
            raise ValueError("give the type a name")
        return value

    @field_validator("key")
    @classmethod
    def _key(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        value = value.strip()
        if not re.fullmatch(r"[a-z0-9_]{1,40}", value):
            raise ValueError("a key has only lower-case letters, digits and _")
        return value


class TypeCorrection(BaseModel):
    kind: str = Field(min_length=1, max_length=40)


class InsightTypeOut(BaseModel):
    item_id: int
    kind: str | None
    kind_label: str | None
    kind_confidence: float | None
    kind_source: str


@dataclass(frozen=True)
class RetrainResult:
    activated: bool
    model: TextModelOut
    previous: TextModelOut | None
    reason: str
    corrections: int
    left_out: dict[str, int]
    """Corrections not learned, by type: types with fewer than MIN_EXAMPLES corrections, or retired types."""


# --- the types -------------------------------------------------------------------------------------


def _ensure_defaults(session: Session) -> None:
    if session.scalar(select(func.count()).select_from(FeedbackType)):
        return
    with transaction(session):
        if session.scalar(select(func.count()).select_from(FeedbackType)):
            return
        for position, (key, label) in enumerate(DEFAULT_TYPES):
            session.add(FeedbackType(key=key, label=label, position=position, active=True))


def list_types(session: Session, *, include_retired: bool = True) -> list[FeedbackTypeOut]:
    """The types in their order (the defaults are created on first use); retired ones last."""
    _ensure_defaults(session)
    stmt = select(FeedbackType).order_by(FeedbackType.active.desc(), FeedbackType.position, FeedbackType.key)
    if not include_retired:
        stmt = stmt.where(FeedbackType.active.is_(True))
    return [FeedbackTypeOut.model_validate(t) for t in session.scalars(stmt)]


def type_labels(session: Session) -> dict[str, str]:
    """Key → label of every type, retired ones included (stored insights may name them)."""
    return {t.key: t.label for t in list_types(session)}


def _get_type(session: Session, key: str) -> FeedbackType:
    found = session.get(FeedbackType, key)
    if found is None:
        raise NotFound("feedback type", key)
    return found


def _audit_type(session: Session, actor: Actor, t: FeedbackType, action: str, changes: dict[str, list[Any]]) -> None:
    audit.record(
        session, actor, entity_type=ENTITY, entity_id=t.key, action=action, changes=changes, entity_label=t.label
    )


def add_type(session: Session, actor: Actor, data: FeedbackTypeIn) -> FeedbackTypeOut:
    """A new active type at the end of the list; its key comes from the label unless given."""
    _ensure_defaults(session)
    key = data.key or text_models.type_key(data.label)
    with transaction(session):
        existing = session.get(FeedbackType, key)
        if existing is not None:
            hint = " (retired: restore it instead)" if not existing.active else ""
            raise ValidationFailed("label", f"a type with the key {key!r} exists already: {existing.label}{hint}")
        if session.scalar(select(FeedbackType.key).where(func.lower(FeedbackType.label) == data.label.lower())):
            raise ValidationFailed("label", f"a type named {data.label!r} exists already")
        last = session.scalar(select(func.max(FeedbackType.position))) or 0
        created = FeedbackType(key=key, label=data.label, position=last + 1, active=True)
        session.add(created)
        session.flush()
        _audit_type(session, actor, created, "create", {"label": [None, created.label], "key": [None, key]})
        return FeedbackTypeOut.model_validate(created)


def rename_type(session: Session, actor: Actor, key: str, label: str) -> FeedbackTypeOut:
    """Change what a type is called (its key stays)."""
    data = FeedbackTypeIn(label=label)
    with transaction(session):
        t = _get_type(session, key)
        clash = session.scalar(
            select(FeedbackType.key).where(
                func.lower(FeedbackType.label) == data.label.lower(), FeedbackType.key != key
            )
        )
        if clash:
            raise ValidationFailed("label", f"the type {clash!r} is already called {data.label!r}")
        if t.label != data.label:
            _audit_type(session, actor, t, "update", {"label": [t.label, data.label]})
            t.label = data.label
        return FeedbackTypeOut.model_validate(t)


def set_type_active(session: Session, actor: Actor, key: str, active: bool) -> FeedbackTypeOut:
    """Retire a type (kept, inactive: the model no longer gives it and it is not offered for corrections) or restore
    it. The last active type cannot be retired."""
    with transaction(session):
        t = _get_type(session, key)
        if t.active == active:
            return FeedbackTypeOut.model_validate(t)
        if not active:
            others = session.scalar(
                select(func.count())
                .select_from(FeedbackType)
                .where(FeedbackType.active.is_(True), FeedbackType.key != key)
            )
            if not others:
                raise ValidationFailed("key", "the last active type cannot be retired")
        _audit_type(session, actor, t, "retire" if not active else "restore", {"active": [t.active, active]})
        t.active = active
        return FeedbackTypeOut.model_validate(t)


def move_type(session: Session, actor: Actor, key: str, offset: int) -> list[FeedbackTypeOut]:
    """Move a type up (``offset < 0``) or down among the active types."""
    _ensure_defaults(session)
    with transaction(session):
        _get_type(session, key)
        ordered = list(
            session.scalars(
                select(FeedbackType).order_by(FeedbackType.active.desc(), FeedbackType.position, FeedbackType.key)
            )
        )
        index = next(i for i, t in enumerate(ordered) if t.key == key)
        target = max(0, min(len(ordered) - 1, index + offset))
        if target != index:
            moved = ordered.pop(index)
            ordered.insert(target, moved)
            for position, t in enumerate(ordered):
                if t.position != position:
                    t.position = position
            _audit_type(session, actor, moved, "reorder", {"position": [index, target]})
    return list_types(session)


def reorder_types(session: Session, actor: Actor, keys: Sequence[str]) -> list[FeedbackTypeOut]:
    """Put the types in this order (every key once; types not named keep their order after them)."""
    _ensure_defaults(session)
    with transaction(session):
        rows = {t.key: t for t in session.scalars(select(FeedbackType))}
        unknown = [k for k in keys if k not in rows]
        if unknown:
            raise ValidationFailed("keys", f"unknown type(s): {', '.join(unknown[:10])}")
        if len(set(keys)) != len(keys):
            raise ValidationFailed("keys", "a type is named twice")
        rest = sorted((t for k, t in rows.items() if k not in keys), key=lambda t: (t.position, t.key))
        before = [t.key for t in sorted(rows.values(), key=lambda t: (t.position, t.key))]
        for position, t in enumerate([*(rows[k] for k in keys), *rest]):
            t.position = position
        after = [*keys, *(t.key for t in rest)]
        if before != after:
            audit.record(
                session, actor, entity_type=ENTITY, entity_id="*", action="reorder", changes={"order": [before, after]}
            )
    return list_types(session)


# --- the built-in model ------------------------------------------------------------------------------


def _data_files() -> Any:
    return resources.files("prodops.domains.feedback").joinpath("text_data")


@functools.cache
def shipped_data() -> tuple[tuple[str, ...], tuple[str, ...], str]:
    """(texts, labels, sha256 of the file) of the shipped app reviews."""
    raw = _data_files().joinpath(DATA_FILE).read_bytes()
    digest = hashlib.sha256(raw).hexdigest()
    rows = list(csv.DictReader(io.StringIO(gzip.decompress(raw).decode("utf-8"), newline="")))
    return tuple(r["text"] for r in rows), tuple(r["label"] for r in rows), digest


def metrics_key(recipe: str) -> dict[str, str]:
    """What the shipped scores were measured on: recipe, data and (for recipes with embeddings) embedder."""
    key = {"recipe": recipe, "data_sha256": shipped_data()[2]}
    if classify.get_recipe(recipe).uses_embedder:
        from prodops.platform.text import get_embedder

        key["embedder"] = get_embedder().name
    return key


def shipped_metrics(recipe: str) -> dict[str, Any] | None:
    """The cross-validated scores shipped for this recipe on this data, if they match."""
    try:
        stored = json.loads(_data_files().joinpath(METRICS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    wanted = metrics_key(recipe)
    for entry in stored.get("entries", []):
        if entry.get("key") == wanted and isinstance(entry.get("metrics"), dict):
            return dict(entry["metrics"])
    return None


def builtin_metrics(recipe: str) -> dict[str, Any]:
    """Scores of the built-in recipe: the shipped ones, or measured now when they do not match."""
    found = shipped_metrics(recipe)
    if found is not None:
        return found
    texts, labels, _ = shipped_data()
    return classify.evaluate(list(texts), list(labels), folds=FOLDS, recipe=recipe).as_metrics()


_builtin_lock = threading.Lock()
_builtin_cache: dict[tuple[str, ...], tuple[classify.TrainedClassifier, dict[str, Any]]] = {}


def _builtin(recipe: str) -> tuple[classify.TrainedClassifier, dict[str, Any]]:
    """The built-in classifier and its scores, trained once per process (the training is deterministic)."""
    key = tuple(metrics_key(recipe).values())
    with _builtin_lock:
        if key not in _builtin_cache:
            texts, labels, _ = shipped_data()
            model = classify.train(list(texts), list(labels), recipe)
            _builtin_cache[key] = (model, builtin_metrics(recipe))
        return _builtin_cache[key]


def current_model(session: Session) -> TextModelOut | None:
    """The model in use, without training anything (None before the first analysis made the built-in one): for
    pages, which never wait on a model."""
    model_id = text_models.active_model_id(session)
    return text_models.get_model(session, model_id) if model_id is not None else None


def _builtin_matches(model: TextModelOut, recipe: classify.Recipe, embedder: str) -> bool:
    return model.recipe == recipe.name and (not recipe.uses_embedder or model.metrics.get("embedder") == embedder)


def active_model(session: Session) -> TextModelOut:
    """The feedback type model in use. When there is none — or the built-in model in use was made with another
    recipe than the best this installation runs (an embedding model was installed or removed) — the built-in model
    for the preferred recipe is trained (or found among the stored ones), stored and activated."""
    from prodops.platform.text import get_embedder

    recipe = classify.default_recipe()
    embedder = get_embedder().name
    model_id = text_models.active_model_id(session)
    if model_id is not None:
        current = text_models.get_model(session, model_id)
        if current.source != "builtin" or _builtin_matches(current, recipe, embedder):
            return current
    model, metrics = _builtin(recipe.name)
    if recipe.uses_embedder:
        metrics = {**metrics, "embedder": embedder}
    actor = Actor.system("built-in")
    with transaction(session):
        latest = text_models.active_model_id(session)
        in_use = text_models.get_model(session, latest) if latest is not None else None
        # Another thread may have been quicker.
        if in_use is None or (in_use.source == "builtin" and not _builtin_matches(in_use, recipe, embedder)):
            stored = next(
                (
                    m
                    for m in text_models.list_models(session)
                    if m.source == "builtin" and m.status == "ready" and _builtin_matches(m, recipe, embedder)
                ),
                None,
            )
            if stored is None:
                stored = text_models.store_model(
                    session, actor, name=BUILTIN_NAME, model=model, metrics=metrics, source="builtin"
                )
            _activate(session, actor, stored.id)
    model_id = text_models.active_model_id(session)
    assert model_id is not None
    return text_models.get_model(session, model_id)


# --- prediction --------------------------------------------------------------------------------------


def _active_keys(session: Session) -> list[str]:
    return [t.key for t in list_types(session, include_retired=False)]


def model_version(session: Session) -> str:
    """Identifies the types :func:`predict` gives now: the active model, the rules and the active types. Stored
    with each analysis, so a change re-analyses the items."""
    model = active_model(session)
    types_hash = hashlib.sha256(",".join(sorted(_active_keys(session))).encode()).hexdigest()[:6]
    return f"type{model.id}{RULES_VERSION}{types_hash}"


def is_help_question(text: str) -> bool:
    return "?" in text and _QUESTION.search(text) is not None


def predict(
    session: Session, texts: Sequence[str], *, vectors: NDArray[np.float32] | None = None
) -> list[tuple[str, float]]:
    """Each text's type key and confidence (0..1) from the active model and the rules above. ``vectors`` are the
    texts' embeddings from ``get_embedder()`` when the caller has them (a model with an embedding block then does
    not embed the texts again)."""
    if not texts:
        return []
    model = active_model(session)
    try:
        fitted = text_models.classifier(session, model)
        raw = None if vectors is None or fitted.embedding is None else np.asarray(vectors, dtype=np.float64)
        proba = fitted.predict_proba(list(texts), vectors=raw)
    except classify.EmbedderMismatch:
        log.warning("type model %s needs another embedder; using the built-in model until it is retrained", model.id)
        fitted, _ = _builtin(classify.BASELINE.name)
        proba = fitted.predict_proba(list(texts))
        model = model.model_copy(update={"metrics": {**model.metrics, "keys": {k: k for k in fitted.labels}}})
    keys = model.keys
    label_keys = [keys.get(label, label) for label in fitted.labels]
    active = set(_active_keys(session))
    learned = set(label_keys)
    use_other = "other" in active and "other" not in learned
    use_question = "question" in active and "question" not in learned
    use_complaint = "complaint" in active and "complaint" not in learned and "experience" in learned
    moods = sentiment.score(list(texts)) if use_complaint else [0.0] * len(texts)
    allowed = np.array([k in active for k in label_keys])
    results: list[tuple[str, float]] = []
    for row, text in enumerate(texts):
        p = proba[row]
        if not (text or "").strip():
            results.append(("other" if "other" in active else label_keys[int(p.argmax())], 0.0))
            continue
        masked = np.where(allowed, p, -1.0) if allowed.any() else p
        best = int(masked.argmax())
        key, confidence = label_keys[best], float(p[best])
        if (
            use_question
            and is_help_question(text)
            and not (key in ("bug", "feature_request") and confidence >= QUESTION_UNLESS)
        ):
            results.append(("question", round(1.0 - float(p.max()) / 2, 4)))
        elif use_other and confidence < OTHER_BELOW:
            results.append(("other", round(1.0 - confidence, 4)))
        elif use_complaint and key == "experience" and moods[row] < COMPLAINT_BELOW:
            results.append(("complaint", confidence))
        else:
            results.append((key, confidence))
    return results


# --- corrections ---------------------------------------------------------------------------------------


def correct_type(session: Session, actor: Actor, item_id: int, kind: str) -> InsightTypeOut:
    """Set an item's type by hand: the analysis keeps it, and it becomes a training example."""
    labels = {t.key: t for t in list_types(session)}
    chosen = labels.get(kind)
    if chosen is None or not chosen.active:
        offered = ", ".join(k for k, t in labels.items() if t.active)
        raise ValidationFailed("kind", f"{kind!r} is not an active type; choose one of {offered}")
    with transaction(session):
        item = session.get(FeedbackItem, item_id)
        if item is None:
            raise NotFound("feedback item", item_id)
        insight = session.get(FeedbackInsight, item_id)
        before = (None, None) if insight is None else (insight.kind, insight.kind_source)
        if insight is None:
            insight = FeedbackInsight(item_id=item_id, model_version="", analysed_at=utcnow())
            session.add(insight)
        changed = before != (kind, "user")
        insight.kind = kind
        insight.kind_confidence = 1.0
        insight.kind_source = "user"
        if changed:
            audit.record(
                session,
                actor,
                entity_type="feedback",
                entity_id=item_id,
                action="correct_type",
                changes={"kind": [before[0], kind]},
                entity_label=(item.title or item.text)[:80],
            )
            events.emit(session, TYPE_CORRECTED, {"id": item_id, "kind": kind, "previous": before[0]})
    return item_type(session, item_id)


def item_type(session: Session, item_id: int) -> InsightTypeOut:
    """An item's stored type (``kind`` None until the analysis has run)."""
    if session.get(FeedbackItem, item_id) is None:
        raise NotFound("feedback item", item_id)
    row = session.execute(
        select(FeedbackInsight.kind, FeedbackInsight.kind_confidence, FeedbackInsight.kind_source).where(
            FeedbackInsight.item_id == item_id
        )
    ).first()
    kind, confidence, source = row if row is not None else (None, None, "model")
    return InsightTypeOut(
        item_id=item_id,
        kind=kind,
        kind_label=type_labels(session).get(kind, kind) if kind else None,
        kind_confidence=confidence,
        kind_source=source,
    )


def corrections(session: Session) -> list[tuple[str, str]]:
    """(item text as the models read it, type key) of every item whose type a person set."""
    from prodops.domains.feedback.service.analysis import item_text

    stmt = (
        select(FeedbackItem.title, FeedbackItem.text, FeedbackInsight.kind)
        .join(FeedbackInsight, FeedbackInsight.item_id == FeedbackItem.id)
        .where(FeedbackInsight.kind_source == "user", FeedbackInsight.kind.is_not(None))
        .order_by(FeedbackItem.id)
    )
    return [(item_text(title, text), str(kind)) for title, text, kind in session.execute(stmt)]


# --- models: activation and retraining -------------------------------------------------------------------


def _output_keys(model: TextModelOut) -> list[str]:
    keys = list(dict.fromkeys(model.keys.get(label, label) for label in model.labels))
    if model.source != "custom":
        keys.extend(k for k in ("question", "complaint", "other") if k not in keys)
    return keys


def _activate(session: Session, actor: Actor, model_id: int) -> TextModelOut:
    """Inside a transaction: make ``model_id`` the active model and its label set the active types."""
    model = text_models.get_model(session, model_id)
    if model.status != "ready":
        raise Conflict(None, "This model has not finished training; it can be activated once it is ready.")
    previous_id = text_models.active_model_id(session)
    previous = text_models.get_model(session, previous_id) if previous_id is not None else None
    session.execute(
        update(TextModel).where(TextModel.purpose == model.purpose, TextModel.id != model_id).values(active=False)
    )
    session.execute(update(TextModel).where(TextModel.id == model_id).values(active=True))
    _ensure_defaults(session)
    wanted = _output_keys(model)
    names = {model.keys.get(label, label): label for label in model.labels}
    defaults = dict(DEFAULT_TYPES)
    rows = {t.key: t for t in session.scalars(select(FeedbackType))}
    # A user's own label set replaces the types; a model of the built-in line adds to them, unless it takes over
    # from a user's label set.
    replace = model.source == "custom" or (previous is not None and previous.source == "custom")
    last = max((t.position for t in rows.values()), default=-1)
    for key in wanted:
        t = rows.get(key)
        if t is None:
            last += 1
            t = FeedbackType(key=key, label=defaults.get(key, names.get(key, key))[:80], position=last, active=True)
            session.add(t)
            rows[key] = t
        elif not t.active:
            t.active = True
    if replace:
        for key, t in rows.items():
            if key not in wanted and t.active:
                t.active = False
        order = {key: i for i, key in enumerate(wanted)}
        for t in rows.values():
            if t.key in order:
                t.position = order[t.key]
            else:
                t.position = len(order) + t.position
    audit.record(
        session,
        actor,
        entity_type=text_models.ENTITY,
        entity_id=model_id,
        action="activate",
        changes={"active": [False, True], "replaces": [previous_id, model_id]},
        entity_label=model.name,
    )
    events.emit(session, MODEL_ACTIVATED, {"id": model_id, "previous_id": previous_id, "types": wanted})
    return text_models.get_model(session, model_id)


def activate_model(session: Session, actor: Actor, model_id: int) -> TextModelOut:
    """Put a ready model in use. A model trained on a user's own labels makes its label set the types (new types
    for new labels; the others are kept, retired); every item is re-analysed by the next sweep."""
    with transaction(session):
        if text_models.get_model(session, model_id).active:
            return text_models.get_model(session, model_id)
        return _activate(session, actor, model_id)


def retrain(session: Session, actor: Actor, *, force: bool = True) -> RetrainResult | None:
    """Train the current recipe on the shipped data plus every correction and activate it when it scores well
    enough (see the module docstring). With ``force=False`` (the weekly job) nothing happens when no correction
    was made since the last retraining; then the answer is None."""
    current = active_model(session)
    if current.source == "custom":
        raise Conflict(
            None,
            "The active model was trained on your own labelled file: train it again from an updated file "
            "(Train on your own labels). Retraining adds corrections to the built-in app-review data only.",
        )
    found = corrections(session)
    active = set(_active_keys(session))
    base_texts, base_labels, _ = shipped_data()
    counts = Counter(kind for _, kind in found)
    learnable = {kind for kind, n in counts.items() if kind in active and (kind in BUILTIN_LABELS or n >= MIN_EXAMPLES)}
    used = [(text, kind) for text, kind in found if kind in learnable]
    left_out = {kind: n for kind, n in sorted(counts.items()) if kind not in learnable}
    fingerprint = hashlib.sha256(json.dumps(used, ensure_ascii=False).encode()).hexdigest()[:16]
    if not force:
        last = next((m for m in text_models.list_models(session) if m.source in ("retrained", "builtin")), None)
        if last is not None and last.metrics.get("corrections_hash", "") == (fingerprint if used else ""):
            return None
    texts = [*base_texts, *(t for t, _ in used)]
    labels = [*base_labels, *(k for _, k in used)]
    weights = [1.0] * len(base_texts) + [CORRECTION_WEIGHT] * len(used)
    recipe = classify.default_recipe().name
    report = classify.evaluate(texts, labels, folds=FOLDS, recipe=recipe, weights=weights)
    fitted = classify.train(texts, labels, recipe, weights=weights)
    old_score = current.macro_f1
    activate = old_score is None or report.macro_f1 >= old_score - RETRAIN_TOLERANCE
    if activate:
        reason = (
            f"cross-validated macro-F1 {report.macro_f1:.3f} against {old_score:.3f} for the model it replaces"
            if old_score is not None
            else f"cross-validated macro-F1 {report.macro_f1:.3f}"
        )
    else:
        reason = (
            f"kept the current model: the new one's cross-validated macro-F1 {report.macro_f1:.3f} is below the "
            f"current {old_score:.3f} by more than {RETRAIN_TOLERANCE}"
        )
    metrics = {
        **report.as_metrics(),
        "corrections": len(used),
        "corrections_hash": fingerprint if used else "",
        "correction_weight": CORRECTION_WEIGHT,
        "left_out": left_out,
        "decision": reason,
        "compared_with": current.id,
    }
    with transaction(session):
        stored = text_models.store_model(
            session,
            actor,
            name=f"Retrained with {len(used):,} correction{'s' if len(used) != 1 else ''}",
            model=fitted,
            metrics=metrics,
            source="retrained",
        )
        if activate:
            stored = _activate(session, actor, stored.id)
    return RetrainResult(
        activated=activate, model=stored, previous=current, reason=reason, corrections=len(used), left_out=left_out
    )


def model_history(session: Session) -> list[TextModelOut]:
    """Every feedback type model, newest first (without payloads)."""
    return text_models.list_models(session)


def correction_count(session: Session) -> int:
    return int(
        session.scalar(select(func.count()).select_from(FeedbackInsight).where(FeedbackInsight.kind_source == "user"))
        or 0
    )


def type_counts(session: Session) -> dict[str, int]:
    """Items per stored type."""
    stmt = (
        select(FeedbackInsight.kind, func.count())
        .where(FeedbackInsight.kind.is_not(None))
        .group_by(FeedbackInsight.kind)
    )
    return {str(kind): int(n) for kind, n in session.execute(stmt)}


def recent_changes(session: Session, limit: int = 8) -> list[AuditRecord]:
    """The newest audit records about types and type models, for the admin page."""
    stmt = (
        select(AuditRecord)
        .where(AuditRecord.entity_type.in_((ENTITY, text_models.ENTITY)))
        .order_by(AuditRecord.at.desc(), AuditRecord.id.desc())
        .limit(limit)
    )
    return list(session.scalars(stmt))


__all__ = [
    "BUILTIN_NAME",
    "COMPLAINT_BELOW",
    "CORRECTION_WEIGHT",
    "MIN_EXAMPLES",
    "MODEL_ACTIVATED",
    "OTHER_BELOW",
    "QUESTION_UNLESS",
    "RETRAIN_TOLERANCE",
    "TYPE_CORRECTED",
    "FeedbackTypeIn",
    "FeedbackTypeOut",
    "InsightTypeOut",
    "RetrainResult",
    "TypeCorrection",
    "activate_model",
    "active_model",
    "add_type",
    "correct_type",
    "correction_count",
    "corrections",
    "current_model",
    "is_help_question",
    "item_type",
    "list_types",
    "model_history",
    "model_version",
    "move_type",
    "predict",
    "recent_changes",
    "rename_type",
    "reorder_types",
    "retrain",
    "set_type_active",
    "shipped_data",
    "type_counts",
    "type_labels",
]
