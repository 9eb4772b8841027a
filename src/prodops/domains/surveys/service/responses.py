"""Answering a survey, from any channel: one page (question) at a time through personal links, the public link and
the in-app snippet — each answered page is saved, so partial responses are kept — or a whole response at once
through the API and imports.

Branching: after a question, the first of its branches that matches the answer (a range of scores, or choices)
says where to go — a later question or the end; without a match, the next question by position. When the path
reaches the end the response is complete: its text answers are feedback already (each became a feedback item,
source ``survey``, with the score in ``meta``), and the rules run (see :mod:`.rules`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from prodops.domains.customers import service as customers
from prodops.domains.feedback import service as feedback
from prodops.domains.feedback.schemas import FeedbackIn
from prodops.domains.surveys.models import Answer, Invitation, Question, Response, Survey
from prodops.domains.surveys.schemas import KIND_LABELS, SCALES, QuestionOut, ResponseIn, SurveyOut
from prodops.domains.surveys.service import rules
from prodops.domains.surveys.service._shared import RESPONSE_COMPLETED, get_survey, token_hash
from prodops.domains.surveys.service.scoring import group_of
from prodops.platform import events
from prodops.platform.audit import Actor
from prodops.platform.db import transaction, utcnow
from prodops.platform.errors import Conflict, NotFound, ValidationFailed

MAX_TEXT = 5000


@dataclass(frozen=True)
class Parsed:
    value: float | None = None
    choices: tuple[str, ...] = ()
    text: str = ""

    @property
    def empty(self) -> bool:
        return self.value is None and not self.choices and not self.text


@dataclass(frozen=True)
class Step:
    """Where a response stands after an answer: the next question's key, or None when it is complete."""

    response_id: int
    next_key: str | None

    @property
    def done(self) -> bool:
        return self.next_key is None


# --- answers --------------------------------------------------------------------------------------------------------


def _number(question: QuestionOut, raw: Any, field: str) -> float:
    lo, hi = question.scale or (1, 5)
    if isinstance(raw, bool):
        raise ValidationFailed(field, f"Choose a number from {lo} to {hi}.")
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise ValidationFailed(field, f"Choose a number from {lo} to {hi}.") from None
    if value != int(value) or not lo <= value <= hi:
        raise ValidationFailed(field, f"Choose a whole number from {lo} to {hi}.")
    return value


def parse_answer(question: QuestionOut, raw: Any, *, field: str | None = None) -> Parsed:
    """Check one raw answer (form text, JSON value) against its question; raises ValidationFailed naming ``field``
    (default: the question's key) with words for people."""
    field = field or question.key
    if raw is None or raw in ("", []):
        if question.required:
            raise ValidationFailed(field, "Please answer this question.")
        return Parsed()
    if question.qtype in SCALES or question.qtype == "rating":
        return Parsed(value=_number(question, raw, field))
    values = {o.value for o in question.options}
    if question.qtype == "single":
        if isinstance(raw, list):
            raw = raw[0] if len(raw) == 1 else raw
        if not isinstance(raw, str) or raw not in values:
            raise ValidationFailed(field, "Choose one of the options.")
        return Parsed(choices=(raw,))
    if question.qtype == "multi":
        chosen = [raw] if isinstance(raw, str) else raw
        if not isinstance(chosen, list) or not all(isinstance(c, str) and c in values for c in chosen):
            raise ValidationFailed(field, "Choose among the options.")
        return Parsed(choices=tuple(dict.fromkeys(chosen)))
    if not isinstance(raw, str):
        raise ValidationFailed(field, "Write your answer as text.")
    text = raw.strip()
    if len(text) > MAX_TEXT:
        raise ValidationFailed(field, f"Please keep it under {MAX_TEXT:,} characters.")
    if not text and question.required:
        raise ValidationFailed(field, "Please answer this question.")
    return Parsed(text=text)


def next_key(survey: SurveyOut, question: QuestionOut, answer: Parsed) -> str | None:
    """The question after ``question`` given its answer (None: the end)."""
    for branch in question.branches:
        lo, hi, choices = branch.get("min"), branch.get("max"), branch.get("choices") or []
        if choices:
            if any(c in choices for c in answer.choices):
                return None if branch["goto"] == "end" else str(branch["goto"])
            continue
        if lo is not None or hi is not None:
            if answer.value is None:
                continue
            if (lo is None or answer.value >= lo) and (hi is None or answer.value <= hi):
                return None if branch["goto"] == "end" else str(branch["goto"])
            continue
        return None if branch["goto"] == "end" else str(branch["goto"])
    keys = [q.key for q in survey.questions]
    at = keys.index(question.key)
    return keys[at + 1] if at + 1 < len(keys) else None


def first_key(survey: SurveyOut) -> str | None:
    return survey.questions[0].key if survey.questions else None


def question_by_key(survey: SurveyOut, key: str) -> QuestionOut:
    for q in survey.questions:
        if q.key == key:
            return q
    raise NotFound("question", key)


def language_for(survey: SurveyOut, wanted: str | None) -> str:
    if wanted and wanted in survey.languages:
        return wanted
    if wanted and wanted.split("-")[0] in survey.languages:
        return wanted.split("-")[0]
    return survey.language


# --- writing answers ----------------------------------------------------------------------------------------------


def store_answer(session: Session, response: Response, question: QuestionOut, parsed: Parsed) -> Answer | None:
    """Insert or replace the answer to ``question`` (answering a page again, e.g. after going back, overwrites)."""
    answer = session.scalar(select(Answer).where(Answer.response_id == response.id, Answer.question_id == question.id))
    if parsed.empty:
        if answer is not None:
            session.delete(answer)
        return None
    if answer is None:
        answer = Answer(response_id=response.id, question_id=question.id)
        session.add(answer)
    answer.value = parsed.value
    answer.choices = list(parsed.choices)
    answer.text = parsed.text
    return answer


def verbatims(
    session: Session, survey: SurveyOut, items: Sequence[tuple[Response, QuestionOut, Answer]], actor: Actor
) -> None:
    """Turn text answers into feedback items (source ``survey``; the score and group in ``meta``), one batch."""
    todo = [(r, q, a) for r, q, a in items if a.text and a.feedback_item_id is None]
    if not todo:
        return
    session.flush()
    kind = survey.score_kind
    batch = []
    for response, question, answer in todo:
        meta: dict[str, Any] = {
            "survey_id": survey.id,
            "survey": survey.name,
            "response_id": response.id,
            "question": question.key,
            "channel": response.channel,
        }
        title = survey.name
        if kind is not None and response.score is not None:
            meta |= {"score": response.score, "score_kind": kind, "group": group_of(kind, response.score)}
            title = f"{survey.name}: {KIND_LABELS.get(kind, kind)} {response.score:g}"
        batch.append(
            FeedbackIn(
                text=answer.text,
                title=title[:300],
                source="survey",
                external_id=f"survey-answer:{answer.id}",
                person_id=response.person_id,
                account_id=response.account_id,
                product_id=survey.product_id,
                received_at=response.responded_at,
                meta=meta,
            )
        )
    ids = feedback.ingest_many(session, actor, batch).ids
    for (_, _, answer), item_id in zip(todo, ids, strict=True):
        answer.feedback_item_id = item_id


def _complete(session: Session, survey: SurveyOut, response: Response, now: dt.datetime, actor: Actor) -> None:
    response.completed_at = now
    response.next_key = None
    if response.invitation_id is not None:
        invitation = session.get(Invitation, response.invitation_id)
        if invitation is not None:
            invitation.completed_at = now
    session.flush()
    group = group_of(survey.score_kind, response.score) if survey.score_kind and response.score is not None else None
    events.emit(
        session,
        RESPONSE_COMPLETED,
        {
            "id": response.id,
            "survey_id": survey.id,
            "survey": survey.name,
            "score": response.score,
            "score_kind": survey.score_kind,
            "group": group,
            "channel": response.channel,
            "person_id": response.person_id,
            "account_id": response.account_id,
        },
    )
    rules.apply(session, survey, response, actor)


def _account_of(session: Session, person_id: int | None) -> int | None:
    if person_id is None:
        return None
    person = customers.people_by_id(session, [person_id]).get(person_id)
    return person.account_id if person else None


def start(
    session: Session,
    survey: SurveyOut,
    *,
    channel: str,
    language: str,
    person_id: int | None = None,
    invitation: Invitation | None = None,
    now: dt.datetime | None = None,
) -> Response:
    """A new (empty) response inside the caller's transaction."""
    now = now or utcnow()
    response = Response(
        survey_id=survey.id,
        wave_id=invitation.wave_id if invitation else None,
        invitation_id=invitation.id if invitation else None,
        person_id=person_id,
        account_id=_account_of(session, person_id),
        product_id=survey.product_id,
        channel=channel,
        language=language,
        started_at=now,
        responded_at=now,
        next_key=first_key(survey),
    )
    session.add(response)
    session.flush()
    return response


def answer_page(
    session: Session,
    survey_id: int,
    key: str,
    raw: Any,
    *,
    response_id: int | None = None,
    invitation_id: int | None = None,
    channel: str = "link",
    language: str | None = None,
    person_id: int | None = None,
    actor: Actor | None = None,
) -> Step:
    """Save the answer to one question (starting the response on its first answer) and say what comes next.

    ``response_id`` continues a response started on an earlier page; ``invitation_id`` ties it to a personal link
    (one response per link: once complete, the link answers nothing more)."""
    actor = actor or Actor(None, "survey respondent")
    with transaction(session):
        survey = get_survey(session, survey_id)
        if survey.status != "active":
            raise Conflict(None, "This survey is closed. Thank you for your interest.")
        question = question_by_key(survey, key)
        parsed = parse_answer(question, raw, field="answer")
        now = utcnow()
        response: Response | None = None
        invitation = session.get(Invitation, invitation_id) if invitation_id is not None else None
        if invitation is not None:
            response = session.scalar(select(Response).where(Response.invitation_id == invitation.id))
            person_id = invitation.person_id
        elif response_id is not None:
            response = session.get(Response, response_id)
            if response is not None and response.survey_id != survey.id:
                response = None
        if response is not None and response.completed_at is not None:
            raise Conflict(None, "You already answered this survey. Thank you!")
        if response is None:
            response = start(
                session,
                survey,
                channel=channel,
                language=language_for(survey, language),
                person_id=person_id,
                invitation=invitation,
                now=now,
            )
        answer = store_answer(session, response, question, parsed)
        if question.qtype == survey.score_kind and question.key == (
            survey.main_question.key if survey.main_question else ""
        ):
            response.score = parsed.value
        response.responded_at = now
        following = next_key(survey, question, parsed)
        response.next_key = following
        if answer is not None and answer.text:
            verbatims(session, survey, [(response, question, answer)], actor)
        if following is None:
            _complete(session, survey, response, now, actor)
        step = Step(response.id, following)
    return step


def _person(session: Session, actor: Actor, data: ResponseIn) -> tuple[int | None, int | None]:
    if data.person_email:
        found = customers.ensure_people(session, actor, {data.person_email.lower(): ""})
        return found[data.person_email.lower()]
    if data.person_id is not None:
        person = customers.people_by_id(session, [data.person_id]).get(data.person_id)
        if person is None:
            raise ValidationFailed("person_id", f"there is no person {data.person_id}")
        return person.id, person.account_id
    return None, None


def walk(survey: SurveyOut, answers: Mapping[str, Any], *, complete: bool) -> list[tuple[QuestionOut, Parsed]]:
    """Check a whole response against the questions and their branching; every problem is reported at once
    (``answers.<key>``). A complete response must answer the required questions on its path."""
    problems: list[tuple[str | None, str]] = []
    keys = {q.key for q in survey.questions}
    for key in answers:
        if key not in keys:
            problems.append((f"answers.{key}", f"the survey has no question {key!r}"))
    path: list[tuple[QuestionOut, Parsed]] = []
    current = first_key(survey)
    while current is not None:
        question = question_by_key(survey, current)
        raw = answers.get(current)
        try:
            parsed = parse_answer(question, raw, field=f"answers.{current}")
        except ValidationFailed as exc:
            if raw is None and not complete:
                parsed = Parsed()
            else:
                problems.extend(exc.problems)
                parsed = Parsed()
        path.append((question, parsed))
        current = next_key(survey, question, parsed)
    on_path = {q.key for q, _ in path}
    for key in answers:
        if key in keys and key not in on_path and answers[key] not in (None, "", []):
            problems.append((f"answers.{key}", f"{key!r} is not asked after these answers (see the branching)"))
    if problems:
        (field, message), *rest = problems
        raise ValidationFailed(field, message, more=rest)
    return path


def record_response(session: Session, actor: Actor, survey_id: int, data: ResponseIn) -> int:
    """A whole response collected elsewhere (API), all or nothing. Returns its id."""
    with transaction(session):
        survey = get_survey(session, survey_id)
        if survey.status == "draft":
            raise Conflict(None, "The survey is a draft: activate it before recording responses.")
        path = walk(survey, data.answers, complete=data.complete)
        if data.external_id and session.scalar(
            select(Response.id).where(Response.survey_id == survey.id, Response.external_id == data.external_id)
        ):
            raise Conflict("external_id", f"a response with external id {data.external_id!r} was recorded already")
        person_id, account_id = _person(session, actor, data)
        now = utcnow()
        when = data.responded_at or now
        response = start(session, survey, channel=data.channel, language=language_for(survey, data.language), now=when)
        response.person_id, response.account_id = person_id, account_id
        response.external_id = data.external_id
        main = survey.main_question
        stored = []
        for question, parsed in path:
            answer = store_answer(session, response, question, parsed)
            if main is not None and question.key == main.key:
                response.score = parsed.value
            if answer is not None:
                stored.append((response, question, answer))
        # A partial response continues with the first question on its path it has no answer to.
        unanswered = next((q.key for q, parsed in path if parsed.empty), path[-1][0].key if path else None)
        response.next_key = None if data.complete else unanswered
        verbatims(session, survey, stored, actor)
        if data.complete:
            _complete(session, survey, response, when, actor)
        response_id = response.id
    return response_id


# --- personal links -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LinkState:
    """What a personal link shows: the survey, the language, and the question to answer (None: already done)."""

    invitation_id: int
    survey: SurveyOut
    language: str
    key: str | None
    completed: bool


def invitation_for_token(session: Session, token: str) -> Invitation | None:
    if not token.startswith("i_") or len(token) > 64:
        return None
    return session.scalar(select(Invitation).where(Invitation.token_hash == token_hash(token)))


def open_link(session: Session, token: str, language: str | None = None) -> LinkState:
    """Look up a personal link and note when it was first opened; NotFound for an unknown token."""
    with transaction(session):
        invitation = invitation_for_token(session, token)
        if invitation is None:
            raise NotFound("survey link", "(this link is not valid)")
        if invitation.opened_at is None:
            invitation.opened_at = utcnow()
        survey = get_survey(session, invitation.survey_id)
        response = session.scalar(select(Response).where(Response.invitation_id == invitation.id))
        wave_language = None
        if response is not None:
            wave_language = response.language
        state = LinkState(
            invitation_id=invitation.id,
            survey=survey,
            language=language_for(survey, language or wave_language),
            key=(response.next_key if response is not None else first_key(survey)),
            completed=invitation.completed_at is not None,
        )
    return state


def response_state(session: Session, survey: SurveyOut, response_id: int | None) -> tuple[str | None, bool, str | None]:
    """(next question key, complete?, language) of an anonymous response continued across pages (public link)."""
    if response_id is None:
        return first_key(survey), False, None
    response = session.get(Response, response_id)
    if response is None or response.survey_id != survey.id:
        return first_key(survey), False, None
    return response.next_key, response.completed_at is not None, response.language


def survey_for_public_key(session: Session, public_key: str) -> SurveyOut | None:
    if len(public_key) > 40:
        return None
    survey_id = session.scalar(select(Survey.id).where(Survey.public_key == public_key))
    return None if survey_id is None else get_survey(session, survey_id)


def question_rows(session: Session, survey_id: int) -> dict[int, Question]:
    return {q.id: q for q in session.scalars(select(Question).where(Question.survey_id == survey_id))}
