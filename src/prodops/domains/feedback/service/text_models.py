"""Trained text classifiers kept as ``TextModel`` rows: listing, loading (cached per process by model id), storing,
and the candidates an admin trains on a labelled file of their own — created at once as "evaluating", scored by
stratified cross-validation and fitted in a background job, then accepted (activated, see ``types.activate_model``)
or discarded.

A row's ``metrics`` carries the model's state next to its scores: ``status`` is ``ready``, ``evaluating`` (with
``progress`` folds done of ``folds``) or ``failed`` (with ``error``); ``source`` is ``builtin``, ``retrained`` or
``custom``; ``keys`` maps each label to the feedback type key it predicts. ``payload`` is empty until the job has
trained the model; only a ``ready`` model can be activated.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import threading
from collections import Counter, OrderedDict
from collections.abc import Callable, Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict
from sqlalchemy import delete, select
from sqlalchemy.orm import Session, defer

from prodops.domains.feedback.models import TextModel
from prodops.platform import audit, events
from prodops.platform.audit import Actor
from prodops.platform.db import transaction
from prodops.platform.errors import Conflict, NotFound, ValidationFailed
from prodops.platform.tabular import TabularError, load_upload, read_table
from prodops.platform.text import classify

log = logging.getLogger(__name__)

PURPOSE = "feedback_type"
ENTITY = "text_model"
Status = Literal["ready", "evaluating", "failed"]
Source = Literal["builtin", "retrained", "custom"]

MODEL_EVALUATED = events.declare(
    "feedback.text_model.evaluated", "A classifier trained on labelled data finished its cross-validation."
)


class TextModelOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    purpose: str
    labels: list[str]
    metrics: dict[str, Any]
    recipe: str
    active: bool
    training_rows: int
    created_by_id: int | None
    created_at: dt.datetime

    @property
    def status(self) -> Status:
        status = self.metrics.get("status", "ready")
        return status if status in ("ready", "evaluating", "failed") else "ready"

    @property
    def source(self) -> Source:
        source = self.metrics.get("source", "custom")
        return source if source in ("builtin", "retrained", "custom") else "custom"

    @property
    def macro_f1(self) -> float | None:
        value = self.metrics.get("macro_f1")
        return float(value) if isinstance(value, int | float) else None

    @property
    def keys(self) -> dict[str, str]:
        """Label → feedback type key."""
        stored = self.metrics.get("keys")
        return dict(stored) if isinstance(stored, dict) else {label: label for label in self.labels}


def _out(row: TextModel) -> TextModelOut:
    return TextModelOut.model_validate(row)


# --- reading -------------------------------------------------------------------------------------


def list_models(session: Session, purpose: str = PURPOSE) -> list[TextModelOut]:
    """Every stored model of ``purpose``, newest first (without their payloads)."""
    stmt = (
        select(TextModel)
        .options(defer(TextModel.payload))
        .where(TextModel.purpose == purpose)
        .order_by(TextModel.created_at.desc(), TextModel.id.desc())
    )
    return [_out(row) for row in session.scalars(stmt)]


def get_model(session: Session, model_id: int) -> TextModelOut:
    row = session.get(TextModel, model_id, options=[defer(TextModel.payload)])
    if row is None:
        raise NotFound("text model", model_id)
    return _out(row)


def active_model_id(session: Session, purpose: str = PURPOSE) -> int | None:
    stmt = (
        select(TextModel.id)
        .where(TextModel.purpose == purpose, TextModel.active.is_(True))
        .order_by(TextModel.id.desc())
        .limit(1)
    )
    return session.scalar(stmt)


class _Cache:
    """Loaded classifiers by model id and creation time (a ready model's payload never changes; a deleted model's
    id may be given to a new one, whose creation time differs)."""

    def __init__(self, size: int = 4) -> None:
        self.size = size
        self.items: OrderedDict[tuple[int, str], classify.TrainedClassifier] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key: tuple[int, str], load: Callable[[], classify.TrainedClassifier]) -> classify.TrainedClassifier:
        with self.lock:
            found = self.items.get(key)
            if found is not None:
                self.items.move_to_end(key)
                return found
        loaded = load()
        with self.lock:
            self.items[key] = loaded
            while len(self.items) > self.size:
                self.items.popitem(last=False)
        return loaded

    def clear(self) -> None:
        with self.lock:
            self.items.clear()


_classifiers = _Cache()


def classifier(session: Session, model: TextModelOut) -> classify.TrainedClassifier:
    """The fitted classifier of a ready model, read once per process."""

    def load() -> classify.TrainedClassifier:
        payload = session.scalar(select(TextModel.payload).where(TextModel.id == model.id))
        if payload is None:
            raise NotFound("text model", model.id)
        if not payload:
            raise Conflict(None, f"text model {model.id} has not finished training")
        return classify.TrainedClassifier.from_bytes(payload)

    return _classifiers.get((model.id, model.created_at.isoformat()), load)


# --- storing -------------------------------------------------------------------------------------


def type_key(label: str) -> str:
    """A feedback type key for a label: lower case letters, digits and ``_``, at most 40 characters."""
    key = re.sub(r"[^a-z0-9]+", "_", label.casefold()).strip("_")[:40].strip("_")
    return key or "type"


def label_keys(labels: Sequence[str]) -> dict[str, str]:
    """Each label's type key; labels whose keys collide get ``_2``, ``_3``... in label order."""
    keys: dict[str, str] = {}
    taken: set[str] = set()
    for label in sorted(labels):
        base = type_key(label)
        key, n = base, 1
        while key in taken:
            n += 1
            key = f"{base[: 40 - len(str(n)) - 1]}_{n}"
        taken.add(key)
        keys[label] = key
    return keys


def store_model(
    session: Session,
    actor: Actor,
    *,
    name: str,
    model: classify.TrainedClassifier,
    metrics: dict[str, Any],
    source: Source,
) -> TextModelOut:
    """Add a ready, inactive model (inside the caller's transaction or its own)."""
    with transaction(session):
        row = TextModel(
            name=name[:120],
            purpose=PURPOSE,
            labels=list(model.labels),
            metrics={"keys": label_keys(model.labels), **metrics, "status": "ready", "source": source},
            recipe=model.recipe,
            payload=model.to_bytes(),
            active=False,
            training_rows=int(model.extra.get("rows", 0)),
            created_by_id=actor.user_id,
        )
        session.add(row)
        session.flush()
        audit.record(
            session,
            actor,
            entity_type=ENTITY,
            entity_id=row.id,
            action="create",
            changes={"labels": [None, row.labels], "macro_f1": [None, metrics.get("macro_f1")]},
            entity_label=row.name,
        )
        return _out(row)


# --- labelled files ------------------------------------------------------------------------------


def read_labelled_file(
    data: bytes, filename: str, text_column: str, label_column: str, *, sheet: str | None = None
) -> tuple[list[str], list[str]]:
    try:
        table = read_table(data, filename, sheet=sheet)
    except TabularError as exc:
        raise ValidationFailed("file", exc.message) from exc
    return classify.labelled_rows(table, text_column, label_column)


def guess_columns(headers: Sequence[str]) -> tuple[str | None, str | None]:
    """The likeliest text and label columns of a file, by their names."""

    def pick(names: Sequence[str], exclude: str | None) -> str | None:
        lowered = {h.casefold().strip(): h for h in headers if h != exclude}
        for name in names:
            if name in lowered:
                return lowered[name]
        return None

    text = pick(("text", "feedback", "comment", "review", "content", "body", "message", "description"), None)
    label = pick(("label", "type", "category", "class", "kind", "tag", "topic"), text)
    return text, label


# --- candidates trained on a user's file ------------------------------------------------------------


def start_candidate(
    session: Session,
    actor: Actor,
    *,
    name: str,
    upload_id: str,
    text_column: str,
    label_column: str,
    folds: int = 5,
    enqueue: Callable[[int], object] | None = None,
) -> TextModelOut:
    """Check the uploaded file and create the candidate model, ``evaluating``; ``enqueue(model_id)`` runs
    :func:`run_candidate` in the background after commit. Problems with the file raise ``ValidationFailed``
    naming the rows and columns, and nothing is stored."""
    if not 2 <= folds <= 10:
        raise ValidationFailed("folds", "use from 2 to 10 folds")
    data, filename = load_upload(upload_id)
    texts, labels = read_labelled_file(data, filename, text_column, label_column)
    try:
        classify.check_data(texts, labels, folds=folds)
    except classify.ClassifierError as exc:
        raise ValidationFailed("label_column", exc.message) from exc
    name = name.strip() or f"{filename} ({label_column})"
    with transaction(session):
        row = TextModel(
            name=name[:120],
            purpose=PURPOSE,
            labels=sorted(set(labels)),
            metrics={
                "status": "evaluating",
                "source": "custom",
                "progress": 0,
                "folds": folds,
                "upload_id": upload_id,
                "filename": filename,
                "text_column": text_column,
                "label_column": label_column,
                "label_counts": dict(sorted(Counter(labels).items())),
                "keys": label_keys(sorted(set(labels))),
            },
            recipe=classify.default_recipe().name,
            payload=b"",
            active=False,
            training_rows=len(texts),
            created_by_id=actor.user_id,
        )
        session.add(row)
        session.flush()
        audit.record(
            session,
            actor,
            entity_type=ENTITY,
            entity_id=row.id,
            action="evaluate",
            changes={"labels": [None, row.labels], "training_rows": [None, row.training_rows]},
            entity_label=row.name,
        )
        model_id = row.id
        if enqueue is not None:
            run_job = enqueue

            def queue() -> None:
                run_job(model_id)

            events.on_commit(session, queue)
    return get_model(session, model_id)


def _set_metrics(session: Session, model_id: int, **changes: Any) -> None:
    with transaction(session):
        row = session.get(TextModel, model_id, options=[defer(TextModel.payload)])
        if row is not None:
            row.metrics = {**row.metrics, **changes}


def run_candidate(session: Session, model_id: int) -> TextModelOut:
    """The job: cross-validate the candidate's recipe on its file (recording the folds done as it goes), train it
    on every row and store it, ``ready`` — or ``failed`` with the reason."""
    model = get_model(session, model_id)
    if model.status != "evaluating":
        return model
    metrics = model.metrics
    try:
        data, filename = load_upload(str(metrics.get("upload_id", "")))
        texts, labels = read_labelled_file(
            data, filename, str(metrics.get("text_column")), str(metrics.get("label_column"))
        )
        folds = int(metrics.get("folds", 5))
        done = 0

        def advance(n: int) -> None:
            nonlocal done
            done += n
            _set_metrics(session, model_id, progress=done)

        report = classify.evaluate(texts, labels, folds=folds, recipe=model.recipe, progress=advance)
        fitted = classify.train(texts, labels, model.recipe)
    except (ValidationFailed, NotFound) as exc:
        _set_metrics(session, model_id, status="failed", error=exc.message)
        return get_model(session, model_id)
    except Exception as exc:
        log.exception("training text model %s failed", model_id)
        _set_metrics(session, model_id, status="failed", error=f"training failed: {exc}")
        return get_model(session, model_id)
    with transaction(session):
        row = session.get(TextModel, model_id)
        if row is None:  # discarded while it was training
            raise NotFound("text model", model_id)
        row.payload = fitted.to_bytes()
        row.labels = list(fitted.labels)
        row.training_rows = len(texts)
        kept = {k: v for k, v in row.metrics.items() if k not in ("progress", "error")}
        row.metrics = {**kept, **report.as_metrics(), "status": "ready", "progress": folds}
        events.emit(
            session,
            MODEL_EVALUATED,
            {"id": model_id, "macro_f1": report.macro_f1, "labels": list(fitted.labels)},
        )
    return get_model(session, model_id)


def discard_model(session: Session, actor: Actor, model_id: int) -> None:
    """Delete a model that is not active (a candidate the admin did not accept, or an old one)."""
    with transaction(session):
        row = session.get(TextModel, model_id, options=[defer(TextModel.payload)])
        if row is None:
            raise NotFound("text model", model_id)
        if row.active:
            raise Conflict(None, "This model is in use. Activate another model before deleting it.")
        audit.record(
            session,
            actor,
            entity_type=ENTITY,
            entity_id=model_id,
            action="delete",
            changes={"name": [row.name, None]},
            entity_label=row.name,
        )
        session.execute(delete(TextModel).where(TextModel.id == model_id))


__all__ = [
    "ENTITY",
    "MODEL_EVALUATED",
    "PURPOSE",
    "TextModelOut",
    "active_model_id",
    "classifier",
    "discard_model",
    "get_model",
    "guess_columns",
    "label_keys",
    "list_models",
    "read_labelled_file",
    "run_candidate",
    "start_candidate",
    "store_model",
    "type_key",
]
