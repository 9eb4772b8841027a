"""Surveys and their questions: create, change (questions as one validated set, so branching always points at a
question that exists and further on), delete. Every write is audited and emits a ``surveys.survey.*`` event."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from prodops.domains.surveys.models import Answer, Question, Survey
from prodops.domains.surveys.schemas import QuestionIn, SurveyIn, SurveyOut, SurveyUpdate
from prodops.domains.surveys.service._shared import (
    ENTITY,
    SURVEY_CREATED,
    SURVEY_DELETED,
    SURVEY_UPDATED,
    default_thank_you,
    get_survey,
    new_public_key,
    snapshot,
    standard_questions,
    survey_row,
)
from prodops.platform import audit, events
from prodops.platform.audit import Actor
from prodops.platform.db import transaction
from prodops.platform.errors import Conflict, ValidationFailed
from prodops.platform.org.models import Product

SCORED = ("nps", "csat", "ces")


def _check_product(session: Session, product_id: int | None) -> None:
    if product_id is not None and session.get(Product, product_id) is None:
        raise ValidationFailed("product_id", f"there is no product {product_id}")


def check_questions(kind: str, questions: Sequence[QuestionIn]) -> None:
    """Refuse a question set that cannot be answered: keys twice, a branch to a missing or earlier question, a scored
    survey without its scored question, a branch range outside the answer's scale."""
    problems: list[tuple[str | None, str]] = []
    keys = [q.key for q in questions]
    position = {k: i for i, k in enumerate(keys)}
    for i, q in enumerate(questions):
        if keys.index(q.key) != i:
            problems.append((f"questions.{i}.key", f"the key {q.key!r} is used twice"))
        for b, branch in enumerate(q.branches):
            where = f"questions.{i}.branches.{b}"
            if branch.goto != "end":
                target = position.get(branch.goto)
                if target is None:
                    problems.append((f"{where}.goto", f"there is no question {branch.goto!r}"))
                elif target <= i:
                    problems.append((f"{where}.goto", f"{branch.goto!r} comes before: branches only go forward"))
            if branch.choices and q.qtype not in ("single", "multi"):
                problems.append((f"{where}.choices", "only choice questions branch on choices"))
            unknown = [c for c in branch.choices if c not in {o.value for o in q.options}]
            if unknown:
                problems.append((f"{where}.choices", f"{unknown[0]!r} is not one of the question's options"))
            if (branch.min is not None or branch.max is not None) and q.qtype in ("text", "single", "multi"):
                problems.append((f"{where}.min", "only score and rating questions branch on a range"))
    if kind in SCORED and not any(q.qtype == kind for q in questions):
        problems.append(("questions", f"an {kind.upper()} survey needs an {kind.upper()} question"))
    if not questions:
        problems.append(("questions", "add at least one question"))
    if problems:
        (field, message), *rest = problems
        raise ValidationFailed(field, message, more=rest)


def _options(q: QuestionIn) -> list[dict[str, Any]]:
    if q.qtype == "rating":
        top = q.scale_max or len(q.options) or 5
        return [{"value": str(v), "label": {}} for v in range(1, top + 1)]
    return [o.model_dump() for o in q.options]


def _write_questions(session: Session, survey: Survey, questions: Sequence[QuestionIn]) -> dict[str, list[Any]]:
    """Make the survey's questions exactly ``questions`` (matched by key; answered questions keep their id)."""
    existing = {q.key: q for q in session.scalars(select(Question).where(Question.survey_id == survey.id))}
    answered = dict(
        session.execute(
            select(Answer.question_id, func.count())
            .where(Answer.question_id.in_([q.id for q in existing.values()]))
            .group_by(Answer.question_id)
        ).all()
    )
    wanted = {q.key for q in questions}
    for key, row in existing.items():
        if key not in wanted and answered.get(row.id):
            raise Conflict(
                "questions", f"{key!r} has {answered[row.id]} answers: it cannot be removed (close the survey instead)"
            )
    before = sorted(existing)
    for key, row in list(existing.items()):
        if key not in wanted:
            session.delete(row)
    session.flush()
    for position, q in enumerate(questions):
        current = existing.get(q.key)
        if current is not None and answered.get(current.id) and current.qtype != q.qtype:
            raise Conflict(f"questions.{position}.qtype", f"{q.key!r} has answers: its type cannot change")
        values = {
            "position": position,
            "qtype": q.qtype,
            "text": dict(q.text),
            "options": _options(q),
            "required": q.required,
            "branches": [b.model_dump(exclude_defaults=True) | {"goto": b.goto} for b in q.branches],
        }
        if current is None:
            session.add(Question(survey_id=survey.id, key=q.key, **values))
        else:
            for name, value in values.items():
                if getattr(current, name) != value:
                    setattr(current, name, value)
    session.flush()
    return {"questions": [before, [q.key for q in questions]]} if before != [q.key for q in questions] else {}


def create_survey(session: Session, actor: Actor, data: SurveyIn) -> SurveyOut:
    questions = data.questions if data.questions is not None else standard_questions(data.kind, data.languages)
    if data.kind == "custom" and not questions:
        raise ValidationFailed("questions", "a custom survey needs questions")
    check_questions(data.kind, questions)
    with transaction(session):
        _check_product(session, data.product_id)
        survey = Survey(
            name=data.name,
            kind=data.kind,
            status=data.status,
            languages=list(data.languages),
            intro=dict(data.intro),
            thank_you=dict(data.thank_you) or default_thank_you(data.languages),
            throttle_days=data.throttle_days,
            product_id=data.product_id,
            public_key=new_public_key(),
        )
        session.add(survey)
        session.flush()
        _write_questions(session, survey, questions)
        after = snapshot(survey)
        audit.record(
            session,
            actor,
            entity_type=ENTITY,
            entity_id=survey.id,
            action="create",
            changes=audit.diff({}, after),
            entity_label=survey.name,
        )
        events.emit(session, SURVEY_CREATED, {"id": survey.id, **after})
        survey_id = survey.id
    return get_survey(session, survey_id)


def update_survey(session: Session, actor: Actor, survey_id: int, data: SurveyUpdate) -> SurveyOut:
    changes = data.model_dump(exclude_unset=True)
    for required in ("name", "languages", "status"):
        if required in changes and changes[required] is None:
            raise ValidationFailed(required, "cannot be empty")
    with transaction(session):
        survey = survey_row(session, survey_id)
        if "product_id" in changes:
            _check_product(session, changes["product_id"])
        before = snapshot(survey)
        for key, value in changes.items():
            wanted = {} if value is None and key in ("intro", "thank_you") else value
            if getattr(survey, key) != wanted:
                setattr(survey, key, wanted)
        diff = audit.diff(before, snapshot(survey))
        if diff:
            audit.record(
                session,
                actor,
                entity_type=ENTITY,
                entity_id=survey.id,
                action="update",
                changes=diff,
                entity_label=survey.name,
            )
            events.emit(session, SURVEY_UPDATED, {"id": survey.id, "changes": diff})
    return get_survey(session, survey_id)


def save_questions(session: Session, actor: Actor, survey_id: int, questions: Sequence[QuestionIn]) -> SurveyOut:
    """Replace the survey's questions with ``questions`` (validated as a whole; answered questions stay)."""
    with transaction(session):
        survey = survey_row(session, survey_id)
        check_questions(survey.kind, questions)
        diff = _write_questions(session, survey, questions)
        audit.record(
            session,
            actor,
            entity_type=ENTITY,
            entity_id=survey.id,
            action="questions",
            changes=diff,
            entity_label=survey.name,
        )
        events.emit(session, SURVEY_UPDATED, {"id": survey.id, "changes": diff or {"questions": ["edited"]}})
    return get_survey(session, survey_id)


def delete_survey(session: Session, actor: Actor, survey_id: int) -> None:
    with transaction(session):
        survey = survey_row(session, survey_id)
        before = snapshot(survey)
        session.delete(survey)
        audit.record(
            session,
            actor,
            entity_type=ENTITY,
            entity_id=survey_id,
            action="delete",
            changes=audit.diff(before, {}),
            entity_label=before["name"],
        )
        events.emit(session, SURVEY_DELETED, {"id": survey_id, "name": before["name"]})


def as_inputs(survey: SurveyOut) -> list[QuestionIn]:
    """The survey's questions as inputs, for an editor that changes one and saves the set."""
    found = []
    for q in survey.questions:
        options = [] if q.qtype == "rating" else [o.model_dump() for o in q.options]
        scale_max = len(q.options) if q.qtype == "rating" else None
        found.append(
            QuestionIn.model_validate(
                {
                    "key": q.key,
                    "qtype": q.qtype,
                    "text": q.text,
                    "options": options,
                    "required": q.required,
                    "branches": q.branches,
                    "scale_max": scale_max,
                }
            )
        )
    return found
